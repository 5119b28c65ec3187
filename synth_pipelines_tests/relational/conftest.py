from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "data" / "schemas").glob("*.sql"))
TRICKY = Path(__file__).parent / "schemas"
