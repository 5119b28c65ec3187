"""``synth relational``: a DDL file in, a consistent multi-table dataset out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synth_pipelines.domains.relational.ddl import DIALECTS
from synth_pipelines.domains.relational.export import FORMATS
from synth_pipelines.domains.relational.plan import parse_table_rows

EPILOG = """Examples:
  synth relational --ddl data/schemas/library.sql --rows 1000 --seed 42 --out out/library
  synth relational --ddl shop.sql --dialect mysql --rows 500 --table-rows orders=20000,order_items=80000 \\
      --format parquet,duckdb --seed 7 --out out/shop

  synth relational --ddl data/schemas/library.sql --print-spec > library.yaml   # edit, then:
  synth relational --ddl data/schemas/library.sql --spec library.yaml --out out/library

Writes <table>.parquet, <table>.csv, dataset.zip, dataset.duckdb and validation_report.json into --out.
Every PRIMARY KEY, FOREIGN KEY, UNIQUE, NOT NULL, CHECK and rule of the spec is verified on the written
data first; on any violation nothing is written and the exit code is 1."""


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import HelpFormatter, non_negative_int

    parser = sub.add_parser(
        "relational",
        help="multi-table data from a SQL DDL file, every constraint verified",
        description="Generate a complete, consistent dataset for the tables of a SQL DDL file "
        "(PostgreSQL, MySQL or SQLite dialect).",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--ddl", required=True, type=Path, help="DDL file (.sql, .ddl or .txt)")
    parser.add_argument("--dialect", choices=DIALECTS, default=None, help="SQL dialect (default: detected)")
    parser.add_argument("--rows", type=non_negative_int, default=1000, help="rows per table unless overridden")
    parser.add_argument(
        "--table-rows",
        default=None,
        metavar="T=N,...",
        help="per-table row counts, e.g. loans=50000,reviews=20000",
    )
    parser.add_argument(
        "--fanout", type=float, default=2.0, help="rows multiplier for child tables without --table-rows"
    )
    parser.add_argument("--format", default=",".join(FORMATS), help=f"comma-separated subset of {','.join(FORMATS)}")
    parser.add_argument("--seed", type=non_negative_int, default=42, help="random seed")
    parser.add_argument("--out", type=Path, default=None, help="output directory (required unless --print-spec)")
    parser.add_argument(
        "--spec",
        type=Path,
        default=None,
        help="generation spec (YAML or JSON), merged over the inferred one; its row counts win",
    )
    parser.add_argument(
        "--print-spec",
        action="store_true",
        help="write the spec this run would use (YAML) to stdout and exit without generating",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synth_pipelines.core.atomic import check_writable_dir, output_set
    from synth_pipelines.core.cli_support import CliError, show_progress
    from synth_pipelines.domains.relational.pipeline import (
        RelationalConfig,
        export_dataset,
        parse_formats,
        prepare,
    )

    if args.fanout < 0:
        raise CliError(f"--fanout must be >= 0, got {args.fanout}")
    formats = parse_formats(args.format)
    cfg = RelationalConfig(
        rows=args.rows,
        table_rows=parse_table_rows(args.table_rows),
        fanout=args.fanout,
        dialect=args.dialect,
        spec=str(args.spec) if args.spec else None,
    )
    prepared = prepare(args.ddl, cfg, args.seed)
    if args.print_spec:
        from synth_pipelines.domains.relational.spec import dump_spec

        prepared.generator.close()
        sys.stdout.write(dump_spec(prepared.spec))
        return 0
    if args.out is None:
        raise CliError("--out is required (unless --print-spec)")
    check_writable_dir(args.out)
    total = sum(prepared.plan.rows.values())
    bar = None
    if show_progress():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="rows", desc="relational")
    try:
        with output_set(args.out) as staging:
            report, files = export_dataset(prepared, args.seed, staging, formats, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    print(
        f"{len(prepared.plan.insert_order)} tables, {total:,} rows, {report['violations']} constraint violations "
        f"-> {args.out} ({len(files)} files; report: {args.out / files['report'].name})"
    )
    return 0
