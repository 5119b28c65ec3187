"""The golden cases: small outputs of every domain, by the CLI and by Dagster, for two seeds.

``hashes.json`` holds the sha256 of every file these cases write, recorded from the code before
the one-domain-contract redesign (``python -m synth_pipelines_tests.golden.cases --record``). A
dependency upgrade or a code change that moves a byte fails ``test_golden.py``: bump the domain's
version on purpose and record again, saying why in the commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HASHES = Path(__file__).with_name("hashes.json")
SEEDS = (42, 7)
SCHEMAS = ("library", "company", "restaurants")
SCENARIOS = ("tech-support", "financial", "healthcare")
# Not byte-reproducible by design (DuckDB's file layout; docs/relational.md): its tables are loaded from
# the Parquet files, which are hashed.
UNHASHED = ("dataset.duckdb",)


def cli_cases(seed: int, out: Path) -> dict[str, list[str]]:
    """Folder name -> ``synth`` arguments (paths relative to the repo root, so outputs name no machine)."""
    s = str(seed)
    cases = {
        "cv_logs": ["cv-logs", "--count", "3000", "--seed", s, "--out", str(out / "cv_logs")],
        "api_logs": ["api-logs", "--count", "3000", "--seed", s, "--out", str(out / "api_logs")],
        "agent_traces": ["agent-logs", "--count", "400", "--seed", s, "--out", str(out / "agent_traces")],
        "api_traces": ["api-traces", "--users", "300", "--seed", s, "--out", str(out / "api_traces")],
        "nlp": [
            "nlp",
            "--documents",
            "synth_pipelines/domains/nlp/sample_docs",
            "--format",
            "qa",
            "--samples",
            "12",
            "--seed",
            s,
            "--output-prefix",
            str(out / "nlp" / "nlp"),
        ],  # fmt: skip
    }
    for schema in SCHEMAS:
        cases[schema] = [
            "relational", "--ddl", f"data/schemas/{schema}.sql", "--rows", "150", "--seed", s,
            "--out", str(out / schema),
        ]  # fmt: skip
    for name in SCENARIOS:
        group = "scenario_" + name.replace("-", "_")
        cases[group] = ["scenario", "--scenario", name, "--count", "25", "--seed", s, "--out-dir", str(out / group)]
    return cases


# Dagster run config per group, the same settings as the CLI cases (config op -> fields).
DAGSTER_CONFIG: dict[str, dict[str, Any]] = {
    "cv_logs": {"count": 3000},
    "api_logs": {"count": 3000},
    "agent_traces": {"count": 400},
    "api_traces": {"users": 300},
    "nlp": {"format": "qa", "samples": 12},
    **{schema: {"rows": 150} for schema in SCHEMAS},
    **{"scenario_" + n.replace("-", "_"): {"count": 25} for n in SCENARIOS},
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hash_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in UNHASHED and not p.name.startswith(".")
    }


def run_cli_cases(seed: int, out: Path) -> dict[str, str]:
    """Run every CLI case in this process; the hashes of what they wrote, by path below ``out``."""
    from synth_pipelines.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for name, argv in cli_cases(seed, out).items():
            code = main(argv)
            if code != 0:
                raise RuntimeError(f"synth {' '.join(argv)} exited {code} ({name})")
    return hash_tree(out)


def config_op(group: str) -> str:
    """The op whose run config sets a group's fields (the same name for every domain)."""
    return f"{group}__config"


def run_dagster_cases(seed: int, data_dir: Path, op_name=config_op) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Materialize every group for ``seed`` into ``data_dir``; the hashes of the exports, by group/path."""
    import dagster as dg

    from synth_pipelines_tests.dagster_helpers import materialize_group

    with dg.instance_for_test() as instance:
        for group, fields in DAGSTER_CONFIG.items():
            result = materialize_group(group, seed, data_dir, instance, {"ops": {op_name(group): {"config": fields}}})
            assert result.success, group
    hashes: dict[str, str] = {}
    for group in DAGSTER_CONFIG:
        tree = hash_tree(data_dir / "exports" / group / f"seed={seed}")
        hashes |= {f"{group}/{path}": digest for path, digest in tree.items()}
    return hashes


if __name__ == "__main__" and "--record" in sys.argv:
    # Recording: python -m synth_pipelines_tests.golden.cases --record WORKDIR (cwd = repo root). Each
    # seed gets a fresh SYNTH_DATA_DIR, so no LLM cache or checkpoint is shared between runs.
    work = Path(sys.argv[2])
    os.chdir(ROOT)
    recorded: dict[str, Any] = {"cli": {}, "dagster": {}}
    legacy = "--legacy-op-names" in sys.argv  # relational groups named it dataset_config before the redesign
    for seed in SEEDS:
        os.environ["SYNTH_DATA_DIR"] = str(work / f"cli-data-{seed}")
        recorded["cli"][str(seed)] = run_cli_cases(seed, work / f"cli-{seed}")
        os.environ["SYNTH_DATA_DIR"] = str(work / f"dagster-data-{seed}")
        op = (lambda g: f"{g}__dataset_config" if g in SCHEMAS else f"{g}__config") if legacy else config_op
        recorded["dagster"][str(seed)] = run_dagster_cases(seed, work / f"dagster-data-{seed}", op)
    HASHES.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
