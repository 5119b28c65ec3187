"""``synth api-traces``: the same pipeline as the Dagster ``api_traces`` group, into a directory."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from synth_pipelines.core.cli_support import ModelFlags, model_from_args
from synth_pipelines.core.domain import RunContext, run_domain
from synth_pipelines.core.objstore import check_output, local_or_url, set_info, shown, staged_output
from synth_pipelines.core.paths import default_output_dir
from synth_pipelines.domains.api_traces.config import ApiTracesConfig
from synth_pipelines.domains.api_traces.domain import ApiTracesDomain
from synth_pipelines.domains.api_traces.workflow import WorkflowError, builtin_workflows, load_workflow

EPILOG = """Examples:
  synth api-traces --list-workflows
  synth api-traces --workflow ecommerce --users 2000 --seed 42 --out data/synthetic/api_traces
  synth api-traces --workflow my_flow.yaml --users 50000 --sessions-per-user 4,2 --days 30 \\
      --cascade-failure-rate 0.1 --seed 7 --out /tmp/traces

Writes calls.parquet, calls.jsonl, sessions.parquet and ground_truth.json, byte-identical to
`data/exports/api_traces/seed=<seed>/` from Dagster for the same seed and settings."""


def _mean_std(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 2 or values[0] < 0 or values[1] < 0:
        raise argparse.ArgumentTypeError(f"expected MEAN,STD (two non-negative numbers), got {text!r}")
    return values[0], values[1]


class _SessionsPerUser(argparse.Action):
    """``--sessions-per-user MEAN,STD``: sets ``--sessions-per-user-mean`` and ``--sessions-per-user-std`` at once."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, *_: Any) -> None:
        namespace.sessions_per_user_mean, namespace.sessions_per_user_std = values


def _list_workflows() -> int:
    for name, description in builtin_workflows().items():
        workflow = load_workflow(name)
        print(f"{name:<15} {len(workflow.endpoints):>3} endpoints  {description}")
    return 0


class _UsersBar:
    """A tqdm bar over the users simulated; once all are, it says the calls are being checked and written.

    Simulation is the only step that reports as it goes; the checks and the writing that follow take
    longer on large runs, so the bar names them instead of sitting at 100% in silence.
    """

    def __init__(self, users: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=users, unit=" users", desc=ApiTracesDomain.cli_name, file=sys.stderr)

    def advance(self, users: int) -> None:
        self.bar.update(users)
        if self.bar.n >= (self.bar.total or 0):
            self.bar.set_postfix_str("checking and writing the calls")

    def finish(self, note: str) -> None:
        self.bar.set_postfix_str(note, refresh=False)

    def close(self) -> None:
        self.bar.close()


def _progress_bar(cfg: ApiTracesConfig, requested: bool | None) -> _UsersBar | None:
    """``--progress``/``--no-progress`` when given; otherwise a bar on a terminal, none when piped or under CI."""
    from synth_pipelines.core.cli_support import show_progress

    wanted = show_progress() if requested is None else requested
    return _UsersBar(cfg.users) if wanted else None


class ApiTracesUsageError(ValueError):
    """A bad workflow or a missing ``--out``: ``synth`` prints ``synth: error: <message>`` and exits 1."""


def run(flags: ModelFlags, args: argparse.Namespace) -> int:
    if args.list_workflows:
        return _list_workflows()
    cfg: ApiTracesConfig = model_from_args(flags, args)
    try:
        workflow = load_workflow(cfg.workflow)
    except (WorkflowError, FileNotFoundError) as exc:
        raise ApiTracesUsageError(str(exc)) from exc
    out_dir = check_output(local_or_url(args.out) if args.out else default_output_dir("api_traces"))
    from synth_pipelines.core.shards import run_shards_from_args

    domain = ApiTracesDomain()
    sharded = run_shards_from_args(domain, cfg, args.seed, out_dir, args)
    if sharded is not None:
        return sharded
    bar = _progress_bar(cfg, args.progress)
    ctx = RunContext(progress=bar.advance if bar else None)
    started = time.perf_counter()
    try:
        with staged_output(out_dir, set_info(domain, cfg, args.seed)) as staging:
            result = run_domain(domain, cfg, args.seed, staging, ctx)
        seconds = time.perf_counter() - started
        calls = result.tables["calls"]
        if bar is not None:
            bar.finish(f"{calls.height:,} calls checked and written")
    finally:
        if bar is not None:
            bar.close()
    print(
        f"{workflow.name}: {calls.height:,} calls in {calls['session_id'].n_unique():,} sessions "
        f"of {cfg.users:,} users (seed {args.seed}) in {seconds:.2f} s"
    )
    for role, path in result.files.items():
        print(f"  {role:<13} {shown(out_dir, path.relative_to(staging))}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import Flag, HelpFormatter, add_model_flags, add_shard_flags, seed_int

    parser = sub.add_parser(
        ApiTracesDomain.cli_name,
        help="API call traces from a Markov-chain workflow, with ground truth",
        description=ApiTracesDomain.description,
        formatter_class=HelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("--list-workflows", action="store_true", help="list the built-in workflows and exit")
    # Every field of ApiTracesConfig (the Dagster run config) is a flag, with the model's default.
    share = Flag(metavar="R")
    flags = add_model_flags(
        parser,
        ApiTracesConfig,
        overrides={
            "workflow": Flag(metavar="PATH|NAME"),
            "start_date": Flag(metavar="YYYY-MM-DD"),
            "cascade_failure_rate": share,
            "success_rate": share,
        },
    )
    defaults = ApiTracesConfig()
    parser.add_argument(
        "--sessions-per-user",
        type=_mean_std,
        action=_SessionsPerUser,
        default=argparse.SUPPRESS,
        metavar="MEAN,STD",
        help="sessions per user ~ Normal(MEAN, STD), at least 1: --sessions-per-user-mean and "
        f"--sessions-per-user-std in one flag (default: {defaults.sessions_per_user_mean:g},"
        f"{defaults.sessions_per_user_std:g})",
    )
    parser.add_argument("--seed", type=seed_int, default=42, help="random seed")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (users simulated, then checking and writing); "
        "without either flag: on a terminal, never when piped or with CI set",
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="DIR|URL",
        help="output directory or s3:// gs:// az:// URL (default: $SYNTH_DATA_DIR/synthetic/api_traces)",
    )
    add_shard_flags(parser)
    parser.set_defaults(func=lambda args: run(flags, args), config_of=lambda args: model_from_args(flags, args))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m synth_pipelines.domains.api_traces.cli``: ``synth api-traces`` with these arguments."""
    from synth_pipelines.cli import main as synth_main

    return synth_main(["api-traces", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
