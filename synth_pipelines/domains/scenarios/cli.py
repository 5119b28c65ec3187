"""``synth scenario``: run any registered scenario (built-in or plugin) from a terminal.

Every scenario's own arguments are added to the one ``scenario`` subcommand, grouped by scenario in
``--help``; an argument of another scenario is refused by name. Values reach the scenario as text
and are typed and checked by its config model, so the CLI and the Dagster run config agree.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from synth_pipelines.core.objstore import local_or_url
from synth_pipelines.domains.scenarios.base import FORMATS, Scenario, ScenarioArgumentError
from synth_pipelines.domains.scenarios.registry import ENTRY_POINT_GROUP, ScenarioCatalog, load_catalog
from synth_pipelines.llm.settings import add_provider_args

SHORT_OF_COUNT = 3  # exit code: some records failed and were skipped; what was made is written
EPILOG_NOTES = """With an LLM provider, facts are drawn from the seed and the model writes the text; answers are
cached in data/llm_cache.sqlite, so a rerun of the same seed and arguments makes no requests and
writes the same bytes. Keys come from the environment or .env (OPENAI_API_KEY, GOOGLE_API_KEY);
they are never printed or written. A record whose answer keeps failing is logged and skipped.
Exit codes: 0 = --count records written, 3 = some records failed and were skipped (the rest is
written; the summary says why), 1 = error (nothing written)."""

DEST_PREFIX = "scenario_arg__"
log = logging.getLogger("synth_pipelines.scenarios")


def _describe_arg(scenario: Scenario, arg: Any) -> str:
    # The default the scenario's config model (the Dagster run config) gives the field.
    value = scenario.config_model.model_fields[arg.dest].get_default(call_default_factory=True)
    default = " ".join(map(str, value)) if arg.multiple else value
    choices = f"; choices: {', '.join(map(str, arg.choices))}" if arg.choices else ""
    return f"{arg.help} ({scenario.name}; default: {default}{choices})"


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import HelpFormatter, add_shard_flags, positive_int, seed_int
    from synth_pipelines.core.paths import DEFAULT_SEED

    catalog = load_catalog()
    examples = [ex for reg in catalog.scenarios.values() for ex in reg.scenario.examples]
    parser = sub.add_parser(
        "scenario",
        help="business-domain records (tech-support, financial, healthcare, plugins) by scenario",
        description="Generate the records of one scenario: facts drawn from the seed, text from an LLM or "
        "offline vocabularies, every claim checked before anything is written. Third-party scenarios "
        f"plug in through the entry-point group {ENTRY_POINT_GROUP!r} (see docs/scenarios.md).",
        epilog="Examples:\n  synth scenario --list\n"
        + "\n".join(f"  {ex}" for ex in examples)
        + "\n  synth scenario --scenario tech-support --count 20 --provider openai --model gpt-4o-mini\n"
        "  synth scenario --scenario healthcare --count 20 --provider openai \\\n"
        "      --base-url http://localhost:8000/v1 --model my-vllm-model\n\n" + EPILOG_NOTES,
        formatter_class=HelpFormatter,
    )
    hidden = argparse.SUPPRESS  # no "(default: None)" in --help; absent means "the scenario's default"
    parser.add_argument(
        "--scenario", metavar="NAME", default=hidden, help=f"scenario to run: {', '.join(catalog.scenarios)}"
    )
    parser.add_argument("--list", action="store_true", help="list the registered scenarios and exit")
    parser.add_argument(
        "--count",
        type=positive_int,
        default=hidden,
        help="number of primary records (default: the scenario's)",
    )
    parser.add_argument("--seed", type=seed_int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument(
        "--out-dir",
        type=local_or_url,
        default=hidden,
        help="output folder or s3:// gs:// az:// URL (default: $SYNTH_DATA_DIR/synthetic/<scenario>)",
    )
    parser.add_argument(
        "--output-format", choices=FORMATS, default=hidden, help="file format (default: the scenario's first)"
    )
    add_provider_args(parser)
    add_shard_flags(parser)
    # A flag of two scenarios is one option, typed by the chosen scenario; in --help it sits in a group of
    # its own that says what it means for each (tech-support's --days is not a financial argument).
    owners: dict[str, list[tuple[Scenario, Any]]] = {}
    for reg in catalog.scenarios.values():
        for arg in reg.scenario.arguments:
            owners.setdefault(arg.flag, []).append((reg.scenario, arg))
    shared = {flag: found for flag, found in owners.items() if len(found) > 1}
    if shared:
        group = parser.add_argument_group("arguments of several scenarios")
        for flag, found in shared.items():
            _, arg = found[0]
            group.add_argument(
                flag,
                dest=DEST_PREFIX + arg.dest,
                nargs="+" if arg.multiple else None,
                default=argparse.SUPPRESS,
                metavar=arg.dest.upper(),
                help="; ".join(_describe_arg(s, a) for s, a in found),
            )
    for name, reg in catalog.scenarios.items():
        group = parser.add_argument_group(f"{name} arguments", reg.scenario.summary)
        for arg in reg.scenario.arguments:
            if arg.flag in shared:
                continue
            group.add_argument(
                arg.flag,
                dest=DEST_PREFIX + arg.dest,
                nargs="+" if arg.multiple else None,
                default=argparse.SUPPRESS,
                metavar=arg.dest.upper(),
                help=_describe_arg(reg.scenario, arg),
            )
    parser.set_defaults(func=_run, _catalog=catalog, config_of=lambda args: _config(args)[1])


def _list(catalog: ScenarioCatalog) -> int:
    for name, reg in catalog.scenarios.items():
        s = reg.scenario
        flags = " ".join(a.flag for a in s.arguments) or "(none)"
        print(f"{name}  [{reg.origin}]\n  {s.summary}\n  formats: {', '.join(s.output_formats)}; arguments: {flags}")
    for broken in catalog.broken:
        print(f"(broken plugin) {broken.entry_point}\n  {broken.error}")
    return 0


def _scenario_values(scenario: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    own = {arg.dest for arg in scenario.arguments}
    values: dict[str, Any] = {}
    for key, value in vars(args).items():
        if not key.startswith(DEST_PREFIX):
            continue
        dest = key.removeprefix(DEST_PREFIX)
        if dest not in own:
            from synth_pipelines.core.cli_support import CliError

            known = " ".join(a.flag for a in scenario.arguments) or "none"
            raise CliError(
                f"--{dest.replace('_', '-')} is not an argument of scenario {scenario.name} (its arguments: {known})"
            )
        values[dest] = value
    for key in ("count", "output_format"):
        if hasattr(args, key):
            values[key] = getattr(args, key)
    return values


def _config(args: argparse.Namespace) -> tuple[Scenario, Any]:
    """The chosen scenario and its config: the flags given, the config model's defaults for the rest."""
    from synth_pipelines.core.cli_support import CliError

    catalog: ScenarioCatalog = args._catalog
    if not getattr(args, "scenario", None):
        raise CliError(f"give --scenario NAME (one of: {', '.join(catalog.scenarios)}) or --list")
    try:
        scenario = catalog.get(args.scenario)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    try:
        return scenario, scenario.parse_config(_scenario_values(scenario, args))
    except ScenarioArgumentError as exc:
        raise CliError(str(exc)) from None


def _run(args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError, show_progress
    from synth_pipelines.core.domain import ConstraintViolation, RunContext, run_domain
    from synth_pipelines.core.objstore import check_output, set_info, shown, staged_output
    from synth_pipelines.core.paths import default_data_dir, default_output_dir
    from synth_pipelines.core.shards import run_shards_from_args
    from synth_pipelines.domains.scenarios.domain import ScenarioDomain
    from synth_pipelines.llm.contract import LLMError
    from synth_pipelines.llm.session import LLMSession
    from synth_pipelines.llm.settings import settings_from_args

    if args.list:
        return _list(args._catalog)
    scenario, cfg = _config(args)
    # A missing key or Azure endpoint fails here, before anything is drawn or written. Shards are drawn
    # offline, so a key found in the environment does not choose a provider for them.
    shard_flags = args.shards is not None or args.shard is not None or args.compact or args.commit
    settings = settings_from_args(args, auto_provider=not shard_flags)
    data_dir = Path(default_data_dir())
    out_dir = check_output(getattr(args, "out_dir", None) or default_output_dir(scenario.name.replace("-", "_")))
    if args.shards is not None and not settings.is_offline:
        # A model's answer can fail and skip a record, which would shift the rows of every later shard.
        raise CliError("--shards runs offline only (yet): leave out --provider or use --provider offline")
    sharded = run_shards_from_args(ScenarioDomain(scenario), cfg, args.seed, out_dir, args)
    if sharded is not None:
        return sharded
    bar = None
    if show_progress():
        from tqdm import tqdm

        bar = tqdm(total=cfg.count, unit="rec", desc=scenario.name)
    session = LLMSession(settings, data_dir, log)
    ctx = RunContext(data_dir=data_dir, log=log, llm=session, progress=bar.update if bar else None)
    meta = ctx.metadata

    def summarize() -> None:  # what was made and what the provider did, also when a check stops the run
        if bar is not None:
            bar.close()
        if "summary" in meta:
            print(f"{scenario.name}: {meta['summary']}", file=sys.stderr)
            if not settings.is_offline:
                print(f"{settings.provider}/{settings.model}: {meta['provider_summary']}", file=sys.stderr)

    try:
        # The same pipeline as the Dagster group; the files appear together in out_dir, or none does.
        domain = ScenarioDomain(scenario)
        with staged_output(out_dir, set_info(domain, cfg, args.seed)) as staging:
            try:
                run = run_domain(domain, cfg, args.seed, staging, ctx)
            finally:
                summarize()
    except LLMError as exc:  # bad credentials, failure budget exceeded: the message says which
        raise CliError(f"scenario {scenario.name}: {exc}") from None
    except ConstraintViolation:
        if "summary" in meta and meta.get("records_generated") == 0:
            raise CliError(f"scenario {scenario.name}: every record failed; nothing was written") from None
        raise
    finally:
        session.close()
    for table, path in run.files.items():
        print(f"{table}: {shown(out_dir, path.relative_to(staging))}")
    return SHORT_OF_COUNT if meta.get("records_failed") else 0
