"""``synth relational``: a DDL file in, a consistent multi-table dataset out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from synth_pipelines.core.cli_support import ModelFlags, model_from_args
from synth_pipelines.core.objstore import SetInfo, local_or_url
from synth_pipelines.domains.relational.ddl import DIALECTS
from synth_pipelines.domains.relational.export import FORMATS
from synth_pipelines.domains.relational.pipeline import RelationalConfig

EPILOG = """Examples:
  synth relational --ddl data/schemas/library.sql --rows 1000 --seed 42 --out out/library
  synth relational --ddl shop.sql --dialect mysql --rows 500 --table-rows orders=20000,order_items=80000 \\
      --format parquet,duckdb --seed 7 --out out/shop
  synth relational --ddl data/schemas/library.sql --rows 1000000 --out out/library --shards 8 --workers 2

Writes <table>.parquet, <table>.csv, dataset.zip, dataset.duckdb and validation_report.json into --out.
Every PRIMARY KEY, FOREIGN KEY, UNIQUE, NOT NULL and CHECK is verified on the written data first; on any
violation nothing is written and the exit code is 1."""


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import Flag, HelpFormatter, add_model_flags, add_shard_flags, seed_int

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
            "instructions": Flag(metavar="TEXT"),
        },
    )
    parser.add_argument(
        "--instructions-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="read --instructions from a UTF-8 text file",
    )
    parser.add_argument("--format", default=",".join(FORMATS), help=f"comma-separated subset of {','.join(FORMATS)}")
    parser.add_argument("--seed", type=seed_int, default=42, help="random seed")
    parser.add_argument(
        "--out",
        type=local_or_url,
        default=None,
        help="output directory or s3:// gs:// az:// URL (default: $SYNTH_DATA_DIR/synthetic/<DDL file name>; "
        "with --save alone: the store only)",
    )
    parser.add_argument(
        "--save",
        action="store_true",
        help="keep the dataset in the store (data/datasets/) and print its id; see `synth datasets`",
    )
    parser.add_argument("--name", default=None, help="with --save: a name to find the dataset by")
    parser.add_argument(
        "--print-spec",
        action="store_true",
        help="write the spec this run would use (YAML) to stdout and exit without generating",
    )
    from synth_pipelines.llm.settings import add_provider_args

    # With a provider (not offline) and USE_AI not false: the AI hybrid, one spec-patch request per table.
    add_provider_args(parser)
    add_shard_flags(parser)
    parser.set_defaults(func=lambda args: run(flags, args), config_of=lambda args: config(flags, args))


def config(flags: ModelFlags, args: argparse.Namespace) -> RelationalConfig:
    """The run's config; ``--instructions-file`` fills ``instructions`` (one of the two, not both)."""
    from synth_pipelines.core.cli_support import CliError

    path: Path | None = getattr(args, "instructions_file", None)
    if path is None:
        return model_from_args(flags, args)
    if getattr(args, "instructions", None):
        raise CliError("--instructions and --instructions-file: give one of them")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"--instructions-file {path}: cannot read it ({exc.__class__.__name__})") from None
    return model_from_args(flags, args, instructions=text)


def _set_info(prepared: Any, cfg: RelationalConfig, args: argparse.Namespace) -> SetInfo:
    """The manifest facts of an object-store export: the DDL's group, its bytes' digest, the config."""
    import hashlib

    from synth_pipelines.domains.relational.domain import group_name
    from synth_pipelines.domains.relational.pipeline import GENERATOR_VERSION

    ddl = Path(args.ddl)
    config = cfg.model_dump(mode="json") | {"ddl": ddl.name, "ddl_sha256": hashlib.sha256(ddl.read_bytes()).hexdigest()}
    return SetInfo(group_name(ddl.stem), GENERATOR_VERSION, args.seed, config)


def run(flags: ModelFlags, args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError, show_progress
    from synth_pipelines.core.objstore import check_output, shown, staged_output
    from synth_pipelines.core.paths import default_data_dir
    from synth_pipelines.domains.relational.ai import ai_enabled
    from synth_pipelines.domains.relational.pipeline import export_dataset, parse_formats, prepare
    from synth_pipelines.llm.settings import settings_from_args

    formats = parse_formats(args.format)
    cfg = config(flags, args)
    settings = settings_from_args(args)
    sharded = args.shards is not None or args.shard is not None or args.compact or getattr(args, "commit", False)
    if sharded:
        _refuse_for_shards(args, cfg, settings.provider)
    if ai_enabled(settings.provider):
        from synth_pipelines.llm.contract import LLMError
        from synth_pipelines.llm.session import LLMSession

        # The session (provider clients, the response cache under the data dir) lives for this run only.
        with LLMSession(settings, Path(default_data_dir())) as session:
            try:
                prepared = prepare(args.ddl, cfg, args.seed, session)
            except LLMError as exc:
                raise CliError(str(exc)) from None
    else:  # deterministic: LangChain is never imported
        prepared = prepare(args.ddl, cfg, args.seed)
    from synth_pipelines.domains.relational.ddl import skipped_statement_warnings

    for line in skipped_statement_warnings(prepared.schema):
        print(f"relational: {line}", file=sys.stderr)
    ai = prepared.generator.resolved.ai
    if cfg.instructions and not ai:
        print("relational: --instructions are used only with an LLM provider; this run is offline", file=sys.stderr)
    if ai:
        cached = sum(r["cached"] for r in prepared.ai_run.values())
        tokens = sum(r["tokens"] for r in prepared.ai_run.values())
        print(
            f"ai ({settings.provider}/{settings.model}): {ai['applied']} tables patched, {ai['fallback']} fell back "
            f"to the inferred spec; {len(prepared.ai_run) - cached} requests, {cached} cache hits, {tokens} tokens",
            file=sys.stderr,
        )
        for name, entry in ai["tables"].items():
            if entry["status"] == "fallback":
                print(f"ai: {name}: fallback: {entry['reason']}", file=sys.stderr)
    if args.print_spec:
        from synth_pipelines.domains.relational.spec import dump_spec

        prepared.generator.close()
        sys.stdout.write(dump_spec(prepared.spec))
        return 0
    if args.name is not None and not args.save:
        raise CliError("--name is given without --save", code=2)
    if sharded:
        return _run_sharded(prepared, cfg, args)
    if args.save:
        return _run_and_save(prepared, cfg, args, formats)
    if args.out is None:
        from synth_pipelines.core.paths import default_output_dir

        args.out = default_output_dir(Path(args.ddl).stem)
    check_output(args.out)  # after the spec is known to be good: a refused run leaves no folder
    total = sum(prepared.plan.rows.values())
    bar = None
    if show_progress():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="rows", desc="relational")
    try:
        # export_dataset writes into the staging folder; the files reach --out together, or none does.
        with staged_output(args.out, _set_info(prepared, cfg, args)) as staging:
            report, staged = export_dataset(prepared, args.seed, staging, formats, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    files = {role: shown(args.out, path.relative_to(staging)) for role, path in staged.items()}
    print(
        f"{len(prepared.plan.insert_order)} tables, {total:,} rows, {report['violations']} constraint violations "
        f"-> {args.out} ({len(files)} files; report: {files['report']})"
    )
    return 0


def _refuse_for_shards(args: argparse.Namespace, cfg: RelationalConfig, provider: str) -> None:
    """What a sharded run cannot do, refused in one line before anything is drawn."""
    from synth_pipelines.core.cli_support import CliError
    from synth_pipelines.domains.relational.ai import ai_enabled
    from synth_pipelines.domains.relational.domain import spec_beside

    if ai_enabled(provider):
        # Every shard would need the model's spec patch; shards are drawn from the deterministic spec only.
        raise CliError("--shards runs offline only (yet): leave out --provider or use --provider offline", code=2)
    if args.save:
        raise CliError("--save keeps one drawn dataset in the store; it cannot be combined with --shards", code=2)
    if args.format != ",".join(FORMATS):
        raise CliError(
            "--format with --shards: a sharded set has Parquet and CSV parts (keys are proven over the Parquet "
            "parts); --compact adds dataset.zip and dataset.duckdb; leave out --format",
            code=2,
        )
    if cfg.spec is None and spec_beside(args.ddl).is_file():
        # The shards use a spec kept beside the DDL (as Dagster does); the unsharded command does not.
        raise CliError(
            f"--shards: {spec_beside(args.ddl)} sits beside the DDL; name it (or another) with --spec", code=2
        )


def _run_sharded(prepared: Any, cfg: RelationalConfig, args: argparse.Namespace) -> int:
    """``--shards K [--shard i] [--workers N] [--compact]``: the domain's shards (core/shards.py).

    Bad combinations are one line and exit 2, before any folder is made."""
    from synth_pipelines.core.cli_support import CliError
    from synth_pipelines.core.objstore import check_output
    from synth_pipelines.core.paths import default_output_dir
    from synth_pipelines.core.shards import ShardError, check_shard_args, run_shards_from_args
    from synth_pipelines.domains.relational.domain import RelationalDomain

    prepared.generator.close()  # the DDL, spec and plan are known to be good; each shard draws its own
    if args.shards is None:
        flag = "--shard" if args.shard is not None else "--compact" if args.compact else "--commit"
        raise CliError(f"{flag} needs --shards K", code=2)
    if args.shard is not None and args.compact:
        raise CliError("--compact needs every shard: leave out --shard", code=2)
    if args.shard is not None and getattr(args, "commit", False):
        raise CliError("--commit publishes the shards --shard runs wrote: leave out --shard", code=2)
    try:
        check_shard_args(args.shards, args.shard)
    except ShardError as exc:
        raise CliError(str(exc), code=2) from None
    # A folder or an object-store URL: run_shards_from_args publishes either as one set (docs/scale-out.md).
    out = check_output(args.out if args.out is not None else default_output_dir(Path(args.ddl).stem))
    return int(run_shards_from_args(RelationalDomain(args.ddl), cfg, args.seed, out, args) or 0)


def _run_and_save(prepared: Any, cfg: RelationalConfig, args: argparse.Namespace, formats: tuple[str, ...]) -> int:
    """``--save``: one generation, kept in the store (and written to ``--out`` too when given)."""
    from synth_pipelines.core.objstore import check_output, staged_output
    from synth_pipelines.domains.relational.pipeline import export_dataset
    from synth_pipelines.store.catalog import DatasetStore
    from synth_pipelines.store.modify import save_generated

    store = DatasetStore()
    if args.out is None:
        info = save_generated(store, prepared, cfg, args.seed, args.ddl, args.name)
    else:
        check_output(args.out)
        # Parquet is what the store keeps: drawn once, copied into the store, removed again from --out
        # when it was not asked for. The store entry is made before --out is committed: both or neither.
        with staged_output(args.out, _set_info(prepared, cfg, args)) as staging:
            wanted = formats if "parquet" in formats else (*formats, "parquet")
            report, staged = export_dataset(prepared, args.seed, staging, wanted)
            parquet = {n: staged[f"parquet:{n}"] for n in prepared.plan.insert_order}
            info = save_generated(store, prepared, cfg, args.seed, args.ddl, args.name, parquet, report)
            if "parquet" not in formats:
                for path in parquet.values():
                    path.unlink()
    rows = sum(info.meta["rows"].values())
    print(f"saved dataset {info.id}" + (f" ({info.name})" if info.name else "") + f": {len(info.table_order)} "
          f"tables, {rows:,} rows, version 1 -> {store.root}")  # fmt: skip
    return 0
