"""``synth ask`` offline: SQL through the gate on a read-only sandbox, catalog answers, attacks refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth_pipelines import cli
from synth_pipelines.store.catalog import DatasetStore


def ask(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["ask", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_sql_and_catalog_answers(data_dir: Path, dataset_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = ask(capsys, dataset_id, "--sql", "SELECT count(*) AS n FROM loans -- all of them")
    assert code == 0, err
    assert out.splitlines() == ["SQL: SELECT COUNT(*) AS n FROM loans", "n", "40", "(1 rows)"]
    code, out, _ = ask(capsys, "library", "--sql", "SELECT member_id FROM members ORDER BY 1", "--limit", "3")
    assert code == 0 and out.splitlines()[-1] == "(3 of 20 rows (row cap reached: more rows exist))"
    code, out, _ = ask(capsys, dataset_id, "tables")
    assert code == 0 and "members\t20" in out
    code, out, _ = ask(capsys, dataset_id, "describe members")
    assert code == 0 and out.splitlines()[0].startswith("column\ttype") and "\ntier\t" in out
    code, out, _ = ask(capsys, dataset_id, "sample loans")
    assert code == 0 and out.splitlines()[-1] == "(5 rows)"
    code, _, err = ask(capsys, dataset_id, "which members have more than three overdue loans?")
    assert code == 1 and "needs an LLM provider" in err


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DROP TABLE members", "DROP statements are not allowed"),
        ("UPDATE members SET tier = 'staff'", "UPDATE statements are not allowed"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv()"),
        ("SELECT 1; DELETE FROM members", "exactly one statement"),
        ("ATTACH '/tmp/x.db' AS x", "ATTACH statements are not allowed"),
    ],
)
def test_ask_refuses_what_the_gate_refuses_and_nothing_changes(
    data_dir: Path, store: DatasetStore, dataset_id: str, capsys: pytest.CaptureFixture[str], sql: str, reason: str
) -> None:
    before = {t: p.read_bytes() for t, p in store.table_files(store.get(dataset_id)).items()}
    code, out, err = ask(capsys, dataset_id, "--sql", sql)
    assert code == 1 and out == "" and reason in err
    assert {t: p.read_bytes() for t, p in store.table_files(store.get(dataset_id)).items()} == before
