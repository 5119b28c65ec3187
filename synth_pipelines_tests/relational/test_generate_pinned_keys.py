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
    # The same beside two references: the per-parent offset reads both parents' row numbers.
    "linked_two_parents": """\
CREATE TABLE orders (order_id INT PRIMARY KEY);
CREATE TABLE stores (store_id INT PRIMARY KEY);
CREATE TABLE picks (
  order_id INT NOT NULL REFERENCES orders(order_id),
  store_id INT NOT NULL REFERENCES stores(store_id),
  line_no INT NOT NULL,
  sku INT NOT NULL,
  PRIMARY KEY (order_id, store_id, line_no),
  UNIQUE (order_id, store_id, sku)
);
""",
    # 2^62 x 2^62 and 2^62 x 2 combinations: one component permuted, the others mixed from the row number.
    "wide": "CREATE TABLE wide (a VARCHAR(40) NOT NULL, b VARCHAR(40) NOT NULL, PRIMARY KEY (a, b));\n",
    "flagged": "CREATE TABLE flagged (a VARCHAR(40) NOT NULL, f BOOLEAN NOT NULL, PRIMARY KEY (a, f));\n",
    # The largest component second: its permutation's stream is told apart by its position.
    "largest_second": "CREATE TABLE tagged (f BOOLEAN NOT NULL, a VARCHAR(40) NOT NULL, PRIMARY KEY (f, a));\n",
    # Exactly 2^62 combinations (one value x 2^62): the last size the whole-key permutation takes.
    "exactly_2_to_the_62": (
        "CREATE TABLE fixed (f CHAR(1) NOT NULL CHECK (f = 'x'), a VARCHAR(40) NOT NULL, PRIMARY KEY (f, a));\n"
    ),
}

# sha256 of each table's CSV, recorded with relational-6, seed 11, 40 rows a table. The mutants of `_group_values`
# that draw another valid key die on these (docs/mutation-testing.md).
RECORDED = {
    "linked_one_parent_column": {
        "orders": "689cc5ebd079658518314cf5c61c0b65bfeb40ed7f98d7b0cb5749c427b0999b",
        "order_items": "9d84011800b3f5088a5293383b6028d574a25d500880402c8ff009c9f65701bd",
    },
    "linked_two_parents": {
        "orders": "689cc5ebd079658518314cf5c61c0b65bfeb40ed7f98d7b0cb5749c427b0999b",
        "stores": "ae53fafee8a547bd630ef1775a6d2257641c69e2113cd293fc8da50f775fb02f",
        "picks": "a41fc7d0542df92058e0dac6be8123f75c5d934f1bce1c69d783a49fdc404e56",
    },
    "wide": {
        "wide": "5fe76cb9c7aee013ee76dc36e28dbbe1cdc0c54a3955fa03105c9360e81c23b6",
    },
    "flagged": {
        "flagged": "a2ec5ad3224e0d1a59683590e8e03306cf3373633ebb9362e4b94ff9b9161598",
    },
    "largest_second": {
        "tagged": "7a010471616e361e37ea333c88f0ec7b46c49a9345e2b09737122672623e5577",
    },
    "exactly_2_to_the_62": {
        "fixed": "3915a5e84b7560c498a16b616f3cf339149321ccfb9ca7cd649e97c0f612acf4",
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
