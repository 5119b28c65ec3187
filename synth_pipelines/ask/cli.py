"""``synth ask``: questions over a kept dataset (offline: SQL through the gate, catalog answers)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import HelpFormatter, positive_int

    parser = sub.add_parser(
        "ask",
        help="ask a kept dataset: SQL through the safety gate, tables, describe, sample",
        description="Answer a question over a kept dataset. Every SQL passes the safety gate (one read-only "
        "SELECT over the dataset's tables) and runs on a locked-down, read-only DuckDB.",
        epilog='Examples:\n  synth ask library tables\n  synth ask library "describe members"\n'
        '  synth ask library --sql "SELECT tier, count(*) FROM members GROUP BY tier ORDER BY tier"',
        formatter_class=HelpFormatter,
    )
    parser.add_argument("dataset", metavar="ID", help="dataset id or name")
    parser.add_argument("question", nargs="?", default=None, help='"tables", "describe T" or "sample T"')
    parser.add_argument("--sql", default=None, help="one SELECT / WITH query over the dataset's tables")
    parser.add_argument("--version", type=positive_int, default=None, help="a version other than the current one")
    parser.add_argument("--limit", type=positive_int, default=100, help="at most this many rows (row cap)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synth_pipelines.ask.engine import AskRefused, ask_catalog, ask_sql
    from synth_pipelines.core.cli_support import CliError
    from synth_pipelines.store.catalog import DatasetStore, StoreError
    from synth_pipelines.store.gate import GateRefused, QueryTimeout

    store = DatasetStore()
    if (args.sql is None) == (args.question is None):
        raise CliError("give a question or --sql (one of them)", code=2)
    try:
        if args.sql is not None:
            answer = ask_sql(store, args.dataset, args.sql, args.version, row_cap=args.limit)
        else:
            answer = ask_catalog(store, args.dataset, args.question, args.version)
    except (AskRefused, GateRefused, QueryTimeout, StoreError) as exc:
        raise CliError(str(exc), code=1) from exc
    except Exception as exc:
        import duckdb

        if not isinstance(exc, duckdb.Error):
            raise
        raise CliError(f"the query failed: {str(exc).splitlines()[0]}", code=1) from exc
    if answer.sql:
        print(f"SQL: {answer.sql}")
    print("\t".join(answer.columns))
    for row in answer.rows:
        print("\t".join("" if v is None else str(v) for v in row))
    more = " (row cap reached: more rows exist)" if answer.truncated else ""
    print(f"({len(answer.rows)} rows{more})")
    return 0
