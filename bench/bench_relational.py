"""Benchmark: the 6-table library schema to Parquet, every constraint checked, beside per-row baselines.

    python bench/bench_relational.py              # authors 10k, publishers 1k, books 100k, members 100k,
                                                  # loans 1M, reviews 500k (1.71M rows)
    python bench/bench_relational.py --scale 10   # 17.1M rows (peak memory target: < 1 GiB)

Three figures for our side, each timed inside ``export_dataset``:
- generation: draw, exact CHECK evaluation (DuckDB) with redraws, Parquet write (to the staged files);
- validation: the full report over the written Parquet files (PK/FK/UNIQUE/NOT NULL/CHECK/type counts,
  per-column statistics), one aggregate query per table;
- end to end: both, plus staging and the final rename (and zip/DuckDB when asked with --formats).
With ``--cli`` it measures the issue's way instead: the real ``synth relational`` CLI as a subprocess
(process wall time including interpreter start-up, imports, generation, the report and the files; peak
RSS of the child from ``getrusage(RUSAGE_CHILDREN)``), ``synth --help`` start-up (best of 3), and the
per-row Faker loop in the same script, printing the ratio (target: >= 45x the loop, peak < 1 GiB)::

    python bench/bench_relational.py --cli --scale 10     # 17.1M rows, Parquet (add --formats for more)

The baselines only build rows in memory (a per-row Faker loop and a per-row mimesis loop, on a subset;
their rates are per row, so the subset does not flatter them). Peak memory is the process's max RSS
(ru_maxrss). Wall and process CPU seconds are both printed: the machine is shared (the load average
at start is printed too), so wall figures are noisy and CPU seconds show the work done.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synth_pipelines.domains.relational.pipeline import RelationalConfig, export_dataset, prepare  # noqa: E402

COUNTS = {
    "authors": 10_000,
    "publishers": 1_000,
    "books": 100_000,
    "members": 100_000,
    "loans": 1_000_000,
    "reviews": 500_000,
}
TARGET_ROWS_PER_S = 1_500_000
TARGET_X_FAKER = 45  # end to end through the CLI, vs the per-row Faker loop (issue #11)
TARGET_STARTUP_S = 0.3


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def faker_rows(n: int) -> float:
    """Per-row Faker: a loan row and a member row, the way hand-written generators do it."""
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(1)
    start = time.perf_counter()
    rows = []
    for i in range(n):
        loaned = fake.date_time_between(start_date=dt.datetime(2015, 1, 1), end_date=dt.datetime(2025, 12, 31))
        rows.append(
            {
                "loan_id": i + 1,
                "book_id": fake.random_int(1, 100_000),
                "member_id": fake.random_int(1, 100_000),
                "loaned_at": loaned,
                "due_date": fake.date_between(start_date=dt.date(2015, 1, 1), end_date=dt.date(2025, 12, 31)),
                "returned_at": loaned + dt.timedelta(days=fake.random_int(1, 30)) if fake.boolean(85) else None,
                "fine_amount": round(fake.pyfloat(min_value=0, max_value=50), 2),
                "email": fake.email(),
                "name": fake.name(),
            }
        )
    return n / (time.perf_counter() - start)


def mimesis_rows(n: int) -> float:
    from mimesis import Datetime, Numeric, Person
    from mimesis.locales import Locale

    person, numeric, when = Person(Locale.EN, seed=1), Numeric(seed=1), Datetime(seed=1)
    rng = random.Random(1)
    start = time.perf_counter()
    rows = []
    for i in range(n):
        loaned = when.datetime(start=2015, end=2025)
        rows.append(
            {
                "loan_id": i + 1,
                "book_id": numeric.integer_number(1, 100_000),
                "member_id": numeric.integer_number(1, 100_000),
                "loaned_at": loaned,
                "due_date": when.date(start=2015, end=2025),
                "returned_at": loaned + dt.timedelta(days=rng.randint(1, 30)) if rng.random() < 0.85 else None,
                "fine_amount": round(numeric.float_number(0, 50), 2),
                "email": person.email(),
                "name": person.full_name(),
            }
        )
    return n / (time.perf_counter() - start)


def ours(scale: float, keep: Path | None, formats: tuple[str, ...]) -> tuple[int, dict[str, float], dict]:
    counts = {t: int(n * scale) for t, n in COUNTS.items()}
    ddl = ROOT / "data" / "schemas" / "library.sql"
    prepared = prepare(ddl, RelationalConfig(rows=0, table_rows=counts), seed=42)
    out = keep or Path(tempfile.mkdtemp(prefix="bench-relational-"))
    timings: dict[str, float] = {}
    start, cpu = time.perf_counter(), time.process_time()
    report, _ = export_dataset(prepared, 42, out, formats=formats, timings=timings)
    timings["total"], timings["total_cpu"] = time.perf_counter() - start, time.process_time() - cpu
    return sum(counts.values()), timings, report


def _synth_command() -> list[str]:
    """The installed ``synth`` entry point beside this interpreter (what a user runs), else ``-m``."""
    script = Path(sys.executable).parent / "synth"
    return [str(script)] if script.exists() else [sys.executable, "-m", "synth_pipelines.cli"]


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def help_startup(repeats: int = 3) -> float:
    """Best wall time of ``synth --help`` (start-up: interpreter, imports, argument parsing)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([*_synth_command(), "--help"], env=_child_env(), check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def cli_run(scale: float, formats: str, out: Path) -> tuple[int, float, float]:
    """(rows, process wall seconds, peak RSS MiB of the child) of one ``synth relational`` run."""
    counts = {t: int(n * scale) for t, n in COUNTS.items()}
    cmd = [
        *_synth_command(),
        "relational",
        "--ddl",
        str(ROOT / "data" / "schemas" / "library.sql"),
        "--rows",
        "0",
        "--table-rows",
        ",".join(f"{t}={n}" for t, n in counts.items()),
        "--format",
        formats,
        "--seed",
        "42",
        "--provider",
        "offline",
        "--out",
        str(out),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=_child_env(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"synth relational failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    # The largest RSS of any waited-for child: the --help runs are far smaller, so this is the CLI run's.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return sum(counts.values()), wall, peak


def main_cli(args: argparse.Namespace) -> int:
    load = os.getloadavg()
    startup = help_startup()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-relational-cli-"))
    rows, wall, peak = cli_run(args.scale, args.formats, out)
    faker_rate = faker_rows(args.baseline_rows)
    ours_rate = rows / wall
    ratio = ours_rate / faker_rate
    print(f"synth relational CLI, library schema x{args.scale:g} ({rows:,} rows, --format {args.formats})")
    print(
        f"  machine: {os.cpu_count()} cores, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        "(1/5/15 min) at start (shared: wall figures are noisy)"
    )
    print(f"  synth --help start-up (best of 3): {startup:.2f} s (target < {TARGET_STARTUP_S} s)")
    print(f"  process wall time end to end:      {wall:.2f} s = {ours_rate:,.0f} rows/s")
    print(f"  peak RSS (child):                  {peak:,.0f} MiB")
    print(f"  per-row Faker loop ({args.baseline_rows:,} rows, in memory only): {faker_rate:,.0f} rows/s")
    print(
        f"target: >= {TARGET_X_FAKER}x the Faker loop {'MET' if ratio >= TARGET_X_FAKER else 'NOT MET'} "
        f"({ratio:,.1f}x); peak < 1024 MiB {'MET' if peak < 1024 else 'NOT MET'} ({peak:,.0f} MiB)"
    )
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the row counts (10 = 17.1M rows)")
    parser.add_argument("--baseline-rows", type=int, default=20_000, help="rows for each per-row baseline")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--formats", default="parquet", help="parquet (default) or e.g. parquet,csv,zip,duckdb")
    parser.add_argument("--out", type=Path, default=None, help="keep the output files here")
    parser.add_argument("--cli", action="store_true", help="time the synth CLI as a subprocess (see above)")
    args = parser.parse_args()
    if args.cli:
        return main_cli(args)

    # One-time imports DuckDB's Arrow scan triggers on first use: process start-up, not generation.
    import pyarrow.dataset  # noqa: F401

    load = os.getloadavg()[0]
    rows, t, report = ours(args.scale, args.out, tuple(args.formats.split(",")))
    peak = peak_mib()
    gen_rate, e2e_rate = rows / t["generate"], rows / t["total"]
    print(f"synth relational, library schema x{args.scale:g}: {rows:,} rows, violations {report['violations']}")
    print(f"  machine: {os.cpu_count()} cores, load average {load:.2f} at start (shared: wall figures are noisy)")
    print(f"  {'phase':<44}{'wall s':>8}{'cpu s':>8}{'rows/s (wall)':>16}")
    phases = [
        ("generation (draw + CHECKs + file writes)", "generate"),
        ("validation report (one query per table)", "validate"),
        ("  dataset.zip (CSV written during generation)", "zip"),
        ("  dataset.duckdb (load with constraints)", "duckdb"),
        ("zip and DuckDB, side by side", "package"),
        ("end to end", "total"),
    ]
    for label, key in phases:
        if key in t:
            cpu = f"{t[key + '_cpu']:>8.2f}" if key + "_cpu" in t else f"{'-':>8}"
            print(f"  {label:<44}{t[key]:>8.2f}{cpu}{rows / t[key]:>16,.0f}")
    print(f"  peak RSS {peak:,.0f} MiB")
    for name, n in report["rows"].items():
        print(f"    {name:<11} {n:>12,} rows")
    if not args.no_baselines:
        for label, fn in (("faker per-row loop", faker_rows), ("mimesis per-row loop", mimesis_rows)):
            try:
                rate = fn(args.baseline_rows)
            except ImportError:
                print(f"{label}: not installed (dev extra), skipped")
                continue
            print(
                f"{label:<21} ({args.baseline_rows:,} rows, in memory only): {rate:>10,.0f} rows/s"
                f"  -> generation is {gen_rate / rate:,.1f}x, end to end {e2e_rate / rate:,.1f}x"
            )
    print(
        f"target: generation >= {TARGET_ROWS_PER_S:,} rows/s {'MET' if gen_rate >= TARGET_ROWS_PER_S else 'NOT MET'}"
        f" ({gen_rate:,.0f}); peak < 1024 MiB {'MET' if peak < 1024 else 'NOT MET'} ({peak:,.0f} MiB)"
    )
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
