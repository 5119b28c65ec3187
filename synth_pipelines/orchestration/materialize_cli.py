"""``synth materialize``: ``dagster asset materialize`` for one seed, refusing an unregistered seed in one line.

``dagster asset materialize --partition 99`` for a seed nobody registered ends in Dagster's own
``DagsterInvalidSubsetError`` traceback, raised inside Dagster's CLI where this project cannot catch it.
This command checks the seed against the instance at ``DAGSTER_HOME`` first, then runs exactly that
Dagster command (in-process executor unless ``--config-json`` says otherwise).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def _run(args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError
    from synth_pipelines.orchestration.partitions import seed_partitions
    from synth_pipelines.orchestration.seed_cli import _instance

    with _instance() as instance:
        registered = set(instance.get_dynamic_partitions(seed_partitions.name))
    if str(args.seed) not in registered:
        raise CliError(f"seed {args.seed} is not registered: run synth seed add {args.seed}")
    try:
        config = json.loads(args.config_json) if args.config_json else {}
    except json.JSONDecodeError as exc:
        raise CliError(f"--config-json is not JSON (column {exc.colno}): {exc.msg}") from None
    config = IN_PROCESS | config
    command = [
        sys.executable, "-m", "dagster", "asset", "materialize", "-m", "synth_pipelines.definitions",
        "--select", args.select, "--partition", str(args.seed), "--config-json", json.dumps(config),
    ]  # fmt: skip
    return subprocess.run(command, check=False).returncode


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import HelpFormatter, non_negative_int

    parser = sub.add_parser(
        "materialize",
        help="materialize asset groups for one registered seed (dagster asset materialize)",
        description=__doc__,
        formatter_class=HelpFormatter,
        epilog="Examples:\n  synth seed add 7\n  synth materialize --select 'group:cv_logs' --seed 7 \\\n"
        '      --config-json \'{"ops": {"cv_logs__config": {"config": {"count": 2000}}}}\'',
    )
    parser.add_argument("--select", default="*", help="asset selection, as dagster's --select")
    parser.add_argument("--seed", type=non_negative_int, required=True, help="a registered seed (synth seed add N)")
    parser.add_argument("--config-json", default=None, help="run config, merged over the in-process executor")
    parser.set_defaults(func=_run)
