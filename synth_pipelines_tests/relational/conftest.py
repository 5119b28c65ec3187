from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "data" / "schemas").glob("*.sql"))
TRICKY = Path(__file__).parent / "schemas"


@pytest.fixture
def write_ddl(tmp_path: Path):
    def write(text: str, name: str = "schema.sql") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
