"""``synth relational``: a DDL file in, a consistent multi-table dataset out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synth_pipelines.core.cli_support import ModelFlags, model_from_args
from synth_pipelines.domains.relational.ddl import DIALECTS
from synth_pipelines.domains.relational.export import FORMATS
from synth_pipelines.domains.relational.pipeline import RelationalConfig

EPILOG = """Examples:
  synth relational --ddl data/schemas/library.sql --rows 1000 --seed 42 --out out/library
  synth relational --ddl shop.sql --dialect mysql --rows 500 --table-rows orders=20000,order_items=80000 \\
      --format parquet,duckdb --seed 7 --out out/shop

Writes <table>.parquet, <table>.csv, dataset.zip, dataset.duckdb and validation_report.json into --out.
Every PRIMARY KEY, FOREIGN KEY, UNIQUE, NOT NULL and CHECK is verified on the written data first; on any
violation nothing is written and the exit code is 1."""


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import Flag, HelpFormatter, add_model_flags, seed_int

    parser = sub.add_parser(
        "relational",
        help="multi-table data from a SQL DDL file, every constraint verified",
        description="Generate a complete, consistent dataset for the tables of a SQL DDL file "
        "(PostgreSQL, MySQL or SQLite dialect).",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--ddl", required=True, type=Path, help="DDL file (.sql, .ddl or .txt)")
    # The config fields (--rows, --table-rows, --fanout, --dialect): flags and defaults from the model.
    flags = add_model_flags(
        parser,
        RelationalConfig,
        overrides={
            "table_rows": Flag(metavar="T=N,...", help="per-table row counts, e.g. loans=50000,reviews=20000"),
            "dialect": Flag(choices=DIALECTS),
            "spec": Flag(metavar="FILE"),
        },
    )
    parser.add_argument("--format", default=",".join(FORMATS), help=f"comma-separated subset of {','.join(FORMATS)}")
    parser.add_argument("--seed", type=seed_int, default=42, help="random seed")
    parser.add_argument("--out", type=Path, default=None, help="output directory (required unless --print-spec)")
    parser.add_argument(
        "--print-spec",
        action="store_true",
        help="write the spec this run would use (YAML) to stdout and exit without generating",
    )
    parser.set_defaults(func=lambda args: run(flags, args), config_of=lambda args: model_from_args(flags, args))


def run(flags: ModelFlags, args: argparse.Namespace) -> int:
    from synth_pipelines.core.atomic import check_writable_dir, output_set
    from synth_pipelines.core.cli_support import CliError, show_progress
    from synth_pipelines.domains.relational.pipeline import export_dataset, parse_formats, prepare

    formats = parse_formats(args.format)
    cfg: RelationalConfig = model_from_args(flags, args)
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
        # export_dataset writes into the staging folder; the files reach --out together, or none does.
        with output_set(args.out) as staging:
            report, staged = export_dataset(prepared, args.seed, staging, formats, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    files = {role: args.out / path.relative_to(staging) for role, path in staged.items()}
    print(
        f"{len(prepared.plan.insert_order)} tables, {total:,} rows, {report['violations']} constraint violations "
        f"-> {args.out} ({len(files)} files; report: {files['report']})"
    )
    return 0
