"""Pinned bytes of keys that several drawings would satisfy equally: a key linked to another per parent and a
key of more than 2^62 combinations. Any of those drawings is a valid key (test_generate_keys_by_hand.py and
test_generate_by_hand.py check the guarantees), so only the exact bytes tell a changed drawing from this one.
Like golden/hashes.json, the digests are a record, not a derivation: when a change of how keys are drawn is
meant, bump GENERATOR_VERSION and record them again (print `digests(...)` under the new code)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from synth_pipelines.domains.relational.pipeline import RelationalConfig, prepare

SCHEMAS = {
    # UNIQUE (order_id, sku) beside PRIMARY KEY (order_id, line_no): sku is linked to line_no per order.
    "linked_one_parent_column": """\
CREATE TABLE orders (order_id INT PRIMARY KEY);
CREATE TABLE order_items (
  order_id INT NOT NULL REFERENCES orders(order_id),
  line_no INT NOT NULL,
  sku INT NOT NULL,
  PRIMARY KEY (order_id, line_no),
  UNIQUE (order_id, sku)
);
""",
    # The same through a parent key of two columns: the per-parent offset reads both.
    "linked_two_parent_columns": """\
CREATE TABLE shelves (region INT NOT NULL, aisle INT NOT NULL, PRIMARY KEY (region, aisle));
CREATE TABLE slots (
  region INT NOT NULL,
  aisle INT NOT NULL,
  slot_no INT NOT NULL,
  tag INT NOT NULL,
  PRIMARY KEY (region, aisle, slot_no),
  UNIQUE (region, aisle, tag),
  FOREIGN KEY (region, aisle) REFERENCES shelves(region, aisle)
);
""",
    # 2^62 x 2^62 and 2^62 x 2 combinations: one component permuted, the others mixed from the row number.
    "wide": "CREATE TABLE wide (a VARCHAR(40) NOT NULL, b VARCHAR(40) NOT NULL, PRIMARY KEY (a, b));\n",
    "flagged": "CREATE TABLE flagged (a VARCHAR(40) NOT NULL, f BOOLEAN NOT NULL, PRIMARY KEY (a, f));\n",
    # 2^32 x 2^30 = exactly 2^62 combinations: the last size the permuted branch takes whole.
    "exactly_2_to_the_62": (
        "CREATE TABLE grid (x INT NOT NULL, y INT NOT NULL CHECK (y >= 0 AND y < 1073741824), PRIMARY KEY (x, y));\n"
    ),
}

# sha256 of each table's CSV, recorded with relational-6, seed 11, 40 rows a table.
RECORDED = {
    "linked_one_parent_column": {
        "orders": "689cc5ebd079658518314cf5c61c0b65bfeb40ed7f98d7b0cb5749c427b0999b",
        "order_items": "9d84011800b3f5088a5293383b6028d574a25d500880402c8ff009c9f65701bd",
    },
    "linked_two_parent_columns": {
        "shelves": "15b982bbf4027c9cff810f81ab38c04e8365e597a2d569bf21a940a2aa7f94fc",
        "slots": "5c1d2bc23b97d0988d7738a22599a61ca7673301c1fea2ac85dab4048beda04c",
    },
    "wide": {
        "wide": "5fe76cb9c7aee013ee76dc36e28dbbe1cdc0c54a3955fa03105c9360e81c23b6",
    },
    "flagged": {
        "flagged": "a2ec5ad3224e0d1a59683590e8e03306cf3373633ebb9362e4b94ff9b9161598",
    },
    "exactly_2_to_the_62": {
        "grid": "a4e7b2f84fdc60e5b85a71a33b684bc6f267f7c3a632a36c7080acd78639ec5f",
    },
}


def digests(tmp_path: Path, name: str) -> dict[str, str]:
    ddl = tmp_path / f"{name}.sql"
    ddl.write_text(SCHEMAS[name])
    prepared = prepare(ddl, RelationalConfig(rows=40), 11)
    return {
        table: hashlib.sha256(prepared.generator.table_frame(table).write_csv().encode()).hexdigest()
        for table in prepared.plan.insert_order
    }


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_keys_drawn_many_valid_ways_keep_their_recorded_bytes(tmp_path: Path, name: str):
    assert digests(tmp_path, name) == RECORDED[name]
