"""Issue 15 item 7: each multi-file domain replaces its previous output set as a unit.

A previous complete set exists; the next run (another seed, so other bytes) fails part-way through
moving its files into place (a rename fault, as on a full disk) or while writing them. The previous set
must be byte-identical afterwards, with no staging, backup or temp file left, and the one error line
must not claim more than is true.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from synth_pipelines import cli
from synth_pipelines.core import atomic

DDL = """
CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(80) NOT NULL UNIQUE);
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL REFERENCES customers(id),
                     amount NUMERIC(10,2) NOT NULL CHECK (amount > 0));
"""


def domain_args(domain: str, out: Path, seed: int) -> list[str]:
    if domain == "relational":
        ddl = out.parent / "shop.sql"
        ddl.write_text(DDL)
        return ["relational", "--ddl", str(ddl), "--rows", "20", "--seed", str(seed), "--out", str(out)]
    return {
        "api-traces": ["api-traces", "--users", "5", "--days", "1", "--seed", str(seed), "--out", str(out)],
        "scenario": ["scenario", "--scenario", "financial", "--count", "8", "--output-format", "parquet",
                     "--seed", str(seed), "--out-dir", str(out)],
        "cv-logs": ["cv-logs", "--count", "30", "--seed", str(seed), "--out", str(out)],
    }[domain]  # fmt: skip


DOMAINS = ["api-traces", "scenario", "relational", "cv-logs"]


def snapshot(root: Path) -> dict[str, str]:
    """Every file below ``root``, hidden ones too -> sha256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*"))


@pytest.fixture
def previous(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    monkeypatch.setenv("SYNTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SYNTH_LLM_PROVIDER", "offline")
    domain: str = request.param
    out = tmp_path / "out"
    assert cli.main(domain_args(domain, out, seed=1)) == 0
    files = snapshot(out)
    assert len(files) >= 2 and leftovers(out) == []  # a multi-file set, nothing hidden
    return domain, out


def fail_on_nth(real: Callable[..., object], n: int, applies: Callable[[str, str], bool]) -> Callable[..., object]:
    calls = {"seen": 0}

    def faulty(src: str | os.PathLike[str], dst: str | os.PathLike[str], *args: object, **kwargs: object) -> object:
        if applies(os.fspath(src), os.fspath(dst)):
            calls["seen"] += 1
            if calls["seen"] == n:
                raise OSError(errno.ENOSPC, "No space left on device", os.fspath(dst))
        return real(src, dst, *args, **kwargs)

    return faulty


def run_failing(domain: str, out: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    code = cli.main(domain_args(domain, out, seed=2))
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert not any("Traceback" in line for line in err), err
    # One error line (scenario prints its records summary before it), naming the cause, and never
    # claiming the new output was written.
    errors = [line for line in err if line.startswith("synth")]
    assert len(errors) == 1 and "No space left on device" in errors[0], err
    assert "written in full" not in errors[0]
    return errors


@pytest.mark.parametrize("previous", DOMAINS, indirect=True)
@pytest.mark.parametrize("nth", [1, 2])
def test_a_rename_fault_while_committing_leaves_the_previous_set_byte_identical(
    previous: tuple[str, Path], nth: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    domain, out = previous
    before = snapshot(out)
    # The n-th move of a staged file onto its final name fails: with n=2 one new file is already in place
    # next to the previous set's others, and the rollback must put the previous one back.
    from_staging = lambda src, dst: atomic.STAGING_PREFIX in src and atomic.STAGING_PREFIX not in dst  # noqa: E731
    monkeypatch.setattr(atomic.os, "replace", fail_on_nth(os.replace, nth, from_staging))
    run_failing(domain, out, capsys)
    monkeypatch.undo()
    assert snapshot(out) == before
    assert leftovers(out) == []


@pytest.mark.parametrize("previous", DOMAINS, indirect=True)
def test_a_write_fault_part_way_leaves_the_previous_set_byte_identical(
    previous: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    domain, out = previous
    before = snapshot(out)
    real_mkstemp = tempfile.mkstemp
    staged = {"files": 0}

    # Every file is written through a temp file in the staging folder; the disk fills up when the second
    # one is created, after the first was written in full.
    def filling_mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        if atomic.STAGING_PREFIX in str(kwargs.get("dir", "")):
            staged["files"] += 1
            if staged["files"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(kwargs["dir"]))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", filling_mkstemp)
    run_failing(domain, out, capsys)
    monkeypatch.undo()
    assert staged["files"] >= 2  # writer threads of other files may have started theirs meanwhile
    assert snapshot(out) == before
    assert leftovers(out) == []
