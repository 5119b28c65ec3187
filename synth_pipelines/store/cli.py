"""``synth datasets``, ``synth modify`` and ``synth db``: the kept datasets from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DATASETS_EPILOG = """Examples:
  synth relational --ddl data/schemas/library.sql --rows 200 --seed 42 --save --name library
  synth datasets list
  synth datasets show library --table members --limit 5
  synth datasets versions library
  synth datasets export library --out library.zip --format csv
  synth datasets undo library            # back to the version before the current one
  synth datasets undo library --to 1
  synth datasets delete library"""

MODIFY_EPILOG = """Examples:
  synth modify library --sql "UPDATE members SET tier = 'premium' WHERE member_id % 10 < 3"
  synth modify library --sql "DELETE FROM loans WHERE member_id = 7" --sql "DELETE FROM members WHERE member_id = 7"
  synth modify library --spec-patch patch.yaml
  synth modify library --feedback "make 30% of members premium" --provider openai

Every edit makes a new version, validated whole (every PK, FK, UNIQUE, NOT NULL, CHECK and spec rule);
a version that violates anything is refused (exit 1, naming the constraint and the rows) and the current
version stays current. Each --sql is one UPDATE, DELETE or INSERT ... SELECT on the dataset's tables."""


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import HelpFormatter, positive_int

    datasets = sub.add_parser(
        "datasets",
        help="kept datasets: list, show, export, versions, undo, delete",
        description="The datasets kept with `synth relational ... --save`, and their versions.",
        epilog=DATASETS_EPILOG,
        formatter_class=HelpFormatter,
    )
    actions = datasets.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="every kept dataset")
    show = actions.add_parser("show", help="a dataset's tables, or rows of one table")
    show.add_argument("dataset", metavar="ID", help="dataset id or name")
    show.add_argument("--table", default=None, help="print rows of this table")
    show.add_argument("--limit", type=positive_int, default=10, help="rows to print with --table")
    show.add_argument("--version", type=positive_int, default=None, help="a version other than the current one")
    export = actions.add_parser("export", help="a version's tables as a zip (same version, same bytes)")
    export.add_argument("dataset", metavar="ID")
    export.add_argument("--out", required=True, type=Path, help="the zip file to write")
    export.add_argument("--format", choices=("csv", "parquet"), default="csv")
    export.add_argument("--version", type=positive_int, default=None)
    versions = actions.add_parser("versions", help="the dataset's versions, with what changed")
    versions.add_argument("dataset", metavar="ID")
    undo = actions.add_parser("undo", help="make an earlier version current again (as a new version)")
    undo.add_argument("dataset", metavar="ID")
    undo.add_argument("--to", type=positive_int, default=None, help="the version to restore (default: the parent)")
    delete = actions.add_parser("delete", help="remove a dataset and all its versions")
    delete.add_argument("dataset", metavar="ID")
    datasets.set_defaults(func=run_datasets)

    modify = sub.add_parser(
        "modify",
        help="edit a kept dataset: SQL, a spec patch, or feedback through the LLM",
        description="Edit a kept dataset into a new, fully validated version.",
        epilog=MODIFY_EPILOG,
        formatter_class=HelpFormatter,
    )
    modify.add_argument("dataset", metavar="ID", help="dataset id or name")
    how = modify.add_mutually_exclusive_group(required=True)
    how.add_argument("--sql", action="append", default=None, help="a row edit (repeat for several, run in order)")
    how.add_argument("--spec-patch", type=Path, default=None, metavar="FILE", help="partial spec (YAML/JSON)")
    how.add_argument("--feedback", default=None, metavar="TEXT", help="what is wrong, in words (needs a provider)")
    modify.add_argument("--table", default=None, help="with --feedback: the table the feedback is about")
    from synth_pipelines.llm.settings import add_provider_args

    add_provider_args(modify)
    modify.set_defaults(func=run_modify)

    db = sub.add_parser(
        "db",
        help="the dataset catalog's migrations: check or apply",
        description="Schema migrations of the dataset catalog (data/datasets/catalog.duckdb).",
        epilog="Examples:\n  synth db check     # 'Migrations applied: N'; exit 1 when some are pending or unknown\n"
        "  synth db migrate",
        formatter_class=HelpFormatter,
    )
    db_actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    db_actions.add_parser("check", help="print 'Migrations applied: N'; exit 1 if some are pending or unknown")
    db_actions.add_parser("migrate", help="apply pending migrations")
    db.set_defaults(func=run_db)


def _store() -> Any:
    from synth_pipelines.store.catalog import DatasetStore

    return DatasetStore()


def _errors() -> tuple[type[BaseException], ...]:
    from synth_pipelines.domains.relational.spec import SpecError
    from synth_pipelines.store.catalog import StoreError
    from synth_pipelines.store.modify import EditRefused

    return (StoreError, EditRefused, SpecError)


def run_datasets(args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError

    try:
        return _run_datasets(args)
    except _errors() as exc:
        raise CliError(str(exc), code=1) from exc


def _run_datasets(args: argparse.Namespace) -> int:
    store = _store()
    if args.action == "list":
        found = store.list()
        if not found:
            print(f"no kept datasets in {store.root}")
            return 0
        print(f"{'ID':<12} {'NAME':<16} {'VERSION':>7} {'SEED':>6} {'ROWS':>9}  CREATED")
        for d in found:
            rows = sum(_rows_of(store, d).values())
            created = d.created_at.strftime("%Y-%m-%d %H:%M:%S")
            print(f"{d.id:<12} {d.name or '-':<16} {d.current_version:>7} {d.seed:>6} {rows:>9,}  {created}")
        return 0
    info = store.get(args.dataset)
    if args.action == "show":
        return _show(store, info, args)
    if args.action == "export":
        from synth_pipelines.store.versions import export_version

        version = args.version or info.current_version
        store.version(info.id, version)
        out = export_version(info, store.table_files(info, version), args.out, args.format)
        print(f"{info.label} version {version} -> {out} ({args.format})")
        return 0
    if args.action == "versions":
        from synth_pipelines.store.versions import diff_line

        for v in store.versions(info.id):
            mark = "*" if v.version == info.current_version else " "
            what = "generated" if v.kind == "generate" else (diff_line(v.diff) if v.diff else "")
            said = f' "{v.feedback}"' if v.feedback else ""
            how = _plan_line(v.plan)
            print(f"{mark} v{v.version}  {v.created_at:%Y-%m-%d %H:%M:%S}  {v.created_by}  {v.kind}{said}{how}: {what}")
        return 0
    if args.action == "undo":
        from synth_pipelines.store.modify import undo

        outcome = undo(store, info.id, args.to)
        _print_outcome(outcome, f"restored version {outcome.plan['restores']}")
        return 0
    if args.action == "delete":
        store.delete(info.id)
        print(f"deleted {info.label}")
        return 0
    raise AssertionError(args.action)


def _plan_line(plan: Any) -> str:
    if not plan:
        return ""
    if plan.get("kind") == "row_edits":
        return " [" + "; ".join(plan["statements"]) + "]"
    if plan.get("kind") == "spec_patch":
        return " [spec patch: " + json.dumps(plan["spec_patch"], sort_keys=True) + "]"
    if plan.get("kind") == "undo":
        return f" [restores v{plan['restores']}]"
    return ""


def _rows_of(store: Any, info: Any) -> dict[str, int]:
    import polars as pl

    return {n: pl.scan_parquet(p).select(pl.len()).collect().item() for n, p in store.table_files(info).items()}


def _show(store: Any, info: Any, args: argparse.Namespace) -> int:
    import polars as pl

    from synth_pipelines.core.cli_support import CliError

    version = args.version or info.current_version
    store.version(info.id, version)
    files = store.table_files(info, version)
    if args.table is None:
        group = f"; asset group {info.asset_group}" if info.asset_group else ""
        print(
            f"{info.label}: version {version} (current {info.current_version}); seed {info.seed}; "
            f"{info.config.get('ddl_file')} ({info.dialect}){group}"
        )
        for name, path in files.items():
            frame_schema = pl.read_parquet_schema(path)
            rows = pl.scan_parquet(path).select(pl.len()).collect().item()
            print(f"  {name:<16} {rows:>9,} rows  {', '.join(frame_schema)}")
        return 0
    if args.table not in files:
        raise CliError(f"--table {args.table!r}: {info.label} has tables {', '.join(files)}", code=2)
    frame = pl.read_parquet(files[args.table], n_rows=args.limit)
    with pl.Config(tbl_rows=args.limit, tbl_cols=-1, tbl_width_chars=160, fmt_str_lengths=40):
        print(frame)
    return 0


def _print_outcome(outcome: Any, what: str) -> None:
    from synth_pipelines.store.versions import diff_line

    print(f"{outcome.info.label}: version {outcome.version} is current ({what}); {diff_line(outcome.diff)}")
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)


def run_modify(args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError

    store = _store()
    try:
        if args.sql:
            from synth_pipelines.store.modify import apply_sql

            outcome = apply_sql(store, args.dataset, args.sql)
            _print_outcome(outcome, f"{len(args.sql)} statement(s)")
            return 0
        if args.spec_patch is not None:
            from synth_pipelines.store.modify import apply_spec_patch, load_patch_text

            if not args.spec_patch.is_file():
                raise CliError(f"--spec-patch {args.spec_patch}: file not found", code=2)
            patch = load_patch_text(args.spec_patch.read_text(encoding="utf-8"), str(args.spec_patch))
            outcome = apply_spec_patch(store, args.dataset, patch)
            _print_outcome(outcome, "spec patch; regenerated " + ", ".join(outcome.plan["regenerated"]))
            return 0
        return _modify_by_feedback(store, args)
    except _errors() as exc:
        raise CliError(str(exc), code=1) from exc


def _modify_by_feedback(store: Any, args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError
    from synth_pipelines.llm.session import LLMSession
    from synth_pipelines.llm.settings import settings_from_args
    from synth_pipelines.store.feedback import NEEDS_PROVIDER, apply_plan, plan_from_feedback

    settings = settings_from_args(args)
    if settings.is_offline:
        raise CliError(NEEDS_PROVIDER, code=2)
    info = store.get(args.dataset)
    with LLMSession(settings, store.root.parent) as session:
        plan = plan_from_feedback(store, info.id, args.feedback, session.generator(), args.table)
    outcome = apply_plan(store, info.id, plan, args.feedback)
    _print_outcome(outcome, f"{plan.kind}: {plan.explanation}")
    return 0


def run_db(args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError

    store = _store()
    if args.action == "migrate":
        with store.writing():
            pass
        state = store.migrations()
        print(f"Migrations applied: {len(state.applied)}")
        return 0
    state = store.migrations()
    print(f"Migrations applied: {len(state.applied)}")
    if state.pending:
        print(f"Pending: {', '.join(state.pending)} (synth db migrate applies them)")
    if state.unknown:
        print(f"Unknown to this version: {', '.join(state.unknown)}")
    if not state.ok:
        raise CliError("the dataset catalog is not at this version's schema", code=1)
    return 0
