"""``synth seed add|list``: register seed partitions in the Dagster instance at DAGSTER_HOME."""

from __future__ import annotations

import argparse
import os

import dagster as dg

from synth_pipelines.orchestration.partitions import register_seeds, seed_partitions


def _instance() -> dg.DagsterInstance:
    if not os.environ.get("DAGSTER_HOME"):
        from synth_pipelines.core.cli_support import CliError

        raise CliError("DAGSTER_HOME is not set: seeds are stored in the persistent instance (make sets it)")
    return dg.DagsterInstance.get()


def _add(args: argparse.Namespace) -> int:
    with _instance() as instance:
        new = register_seeds(instance, args.seeds)
        print(f"registered: {', '.join(new) if new else '(already registered)'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _instance() as instance:
        for key in sorted(instance.get_dynamic_partitions(seed_partitions.name), key=int):
            print(key)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import HelpFormatter, seed_int

    seed = sub.add_parser(
        "seed",
        help="register seed partitions in the Dagster instance",
        formatter_class=HelpFormatter,
        epilog="Examples:\n  DAGSTER_HOME=$PWD/.dagster_home synth seed add 42 7\n  synth seed list",
    )
    actions = seed.add_subparsers(dest="seed_command", required=True)
    add = actions.add_parser("add", help="register one or more seeds", formatter_class=HelpFormatter)
    add.add_argument("seeds", nargs="+", type=seed_int, help="seeds to register")
    add.set_defaults(func=_add)
    lst = actions.add_parser("list", help="list registered seeds")
    lst.set_defaults(func=_list)
