"""``synth ask``: questions over a kept dataset, in words (with a provider) or as SQL, through the gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EPILOG = """Examples:
  synth ask library tables
  synth ask library "describe members"
  synth ask library --sql "SELECT tier, count(*) FROM members GROUP BY tier ORDER BY tier"
  synth ask library "how many loans per member tier?" --provider openai --chart tiers.html
  synth ask library "and only the active members?" --conversation cv-1a2b3c4d --provider openai

A question in words needs a provider: the model sees the DDL, column types, stats and a few sample
values (never whole tables) and answers with one SQL query, which passes the safety gate (one read-only
SELECT over the dataset's tables) before it runs on a locked-down, read-only DuckDB. A refused query is
never run. When the SQL fails to run, the error goes back to the model (at most 2 more tries)."""


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import HelpFormatter, positive_int
    from synth_pipelines.llm.settings import add_provider_args

    parser = sub.add_parser(
        "ask",
        help="ask a kept dataset in words (with a provider) or SQL, through the safety gate",
        description="Answer a question over a kept dataset. Every SQL passes the safety gate (one read-only "
        "SELECT over the dataset's tables) and runs on a locked-down, read-only DuckDB.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("dataset", metavar="ID", help="dataset id or name")
    parser.add_argument(
        "question", nargs="?", default=None, help='a question in words, or "tables", "describe T", "sample T"'
    )
    parser.add_argument("--sql", default=None, help="one SELECT / WITH query over the dataset's tables")
    parser.add_argument("--version", type=positive_int, default=None, help="a version other than the current one")
    parser.add_argument("--limit", type=positive_int, default=100, help="at most this many rows (row cap)")
    parser.add_argument("--conversation", default=None, metavar="CID", help="continue this conversation (follow-up)")
    parser.add_argument(
        "--chart", type=Path, default=None, metavar="FILE", help="write the answer's chart: FILE.png or FILE.html"
    )
    add_provider_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from synth_pipelines.ask.engine import NEEDS_PROVIDER, AskRefused, ask_catalog, ask_sql, is_catalog_question
    from synth_pipelines.core.cli_support import CliError
    from synth_pipelines.store.catalog import DatasetStore, StoreError
    from synth_pipelines.store.gate import GateRefused, QueryTimeout

    store = DatasetStore()
    if (args.sql is None) == (args.question is None):
        raise CliError("give a question or --sql (one of them)", code=2)
    if args.chart is not None and args.chart.suffix.lower() not in (".png", ".html", ".htm"):
        raise CliError(f"--chart {args.chart}: the file must end in .png or .html", code=2)
    try:
        if args.sql is not None:
            answer = ask_sql(store, args.dataset, args.sql, args.version, row_cap=args.limit)
        elif is_catalog_question(args.question):
            answer = ask_catalog(store, args.dataset, args.question, args.version)
        else:
            from synth_pipelines.llm.settings import settings_from_args

            settings = settings_from_args(args)
            if settings.is_offline:
                raise AskRefused(NEEDS_PROVIDER)
            return _ask_in_words(store, args, settings)
    except (AskRefused, GateRefused, QueryTimeout, StoreError) as exc:
        raise CliError(str(exc), code=1) from exc
    except Exception as exc:
        import duckdb

        if not isinstance(exc, duckdb.Error):
            raise
        raise CliError(f"the query failed: {str(exc).splitlines()[0]}", code=1) from exc
    if answer.sql:
        print(f"SQL: {answer.sql}")
    _print_rows(answer)
    return 0


def _print_rows(answer: Any) -> None:
    print("\t".join(answer.columns))
    for row in answer.rows:
        print("\t".join("" if v is None else str(v) for v in row))
    more = " (row cap reached: more rows exist)" if answer.truncated else ""
    total = f" of {answer.row_count}" if answer.truncated and answer.row_count is not None else ""
    print(f"({len(answer.rows)}{total} rows{more})")


def _ask_in_words(store: Any, args: argparse.Namespace, settings: Any) -> int:
    from synth_pipelines.ask.question import ask
    from synth_pipelines.core.cli_support import CliError
    from synth_pipelines.llm.session import LLMSession

    with LLMSession(settings, store.root.parent) as session:
        answer = ask(
            store, args.dataset, args.question, session.generator(), version=args.version,
            conversation=args.conversation, row_cap=args.limit, model=settings.model,
        )  # fmt: skip
    if len(answer.trace) > 1 or answer.outcome != "answered":
        for i, attempt in enumerate(answer.trace, 1):
            message = f" -> {attempt.message}" if attempt.message else ""
            print(f"try {i}: {attempt.status}: {attempt.sql or '(no SQL)'}{message}")
    for note in answer.notes:
        print(f"note: {note}", file=sys.stderr)
    follow = f"conversation {answer.conversation_id} (follow up with --conversation {answer.conversation_id})"
    if answer.outcome != "answered":
        print(follow)
        raise CliError(answer.summary, code=1)
    print(f"SQL: {answer.sql}")
    _print_rows(answer)
    print(f"Summary: {answer.summary}")
    if args.chart is not None:
        if answer.chart is None:
            print("chart: none (a chart needs one category or time column and one or two numeric columns)")
        else:
            from synth_pipelines.ask.charts import write_chart

            kind = write_chart(answer.chart, args.chart)
            print(f"chart: {args.chart} ({kind}, {answer.chart['mark']['type']})")
    tokens = answer.input_tokens + answer.output_tokens
    print(f"{follow}; {tokens} tokens, {answer.latency_ms:.0f} ms")
    return 0
