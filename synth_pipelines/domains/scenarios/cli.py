"""``synth scenario``: run any registered scenario (built-in or plugin) from a terminal.

Every scenario's own arguments are added to the one ``scenario`` subcommand, grouped by scenario in
``--help``; an argument of another scenario is refused by name. Values reach the scenario as text
and are typed and checked by its config model, so the CLI and the Dagster run config agree.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from synth_pipelines.domains.scenarios.base import FORMATS, Scenario, ScenarioArgumentError
from synth_pipelines.domains.scenarios.registry import ENTRY_POINT_GROUP, ScenarioCatalog, load_catalog
from synth_pipelines.domains.scenarios.run import (
    check_dataset,
    draw_entities,
    generate_records,
    write_dataset,
)
from synth_pipelines.llm.contract import LLMError, StructuredGenerator
from synth_pipelines.llm.generate import build_generator
from synth_pipelines.llm.settings import LLMSettings, add_provider_args, settings_from_args

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
    default = " ".join(map(str, arg.default)) if arg.multiple else arg.default
    choices = f"; choices: {', '.join(map(str, arg.choices))}" if arg.choices else ""
    return f"{arg.help} ({scenario.name}; default: {default}{choices})"


def make_generator(settings: LLMSettings, data_dir: Path, log: logging.Logger | None = None) -> StructuredGenerator:
    """The provider layer's generator for the run (the offline one makes the scenario draw offline).

    Shares the response cache ``<data_dir>/llm_cache.sqlite`` with the Dagster assets, so a rerun
    of the same seed and arguments (whatever ``--out-dir``) is served from the cache.
    """
    return build_generator(settings, data_dir, log=log)


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import HelpFormatter, non_negative_int, positive_int
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
    parser.add_argument("--seed", type=non_negative_int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--out-dir", type=Path, default=hidden, help="output folder (default: data/scenarios/<name>)")
    parser.add_argument(
        "--output-format", choices=FORMATS, default=hidden, help="file format (default: the scenario's first)"
    )
    add_provider_args(parser)
    added: dict[str, list[str]] = {}
    for name, reg in catalog.scenarios.items():
        group = parser.add_argument_group(f"{name} arguments", reg.scenario.summary)
        for arg in reg.scenario.arguments:
            if arg.flag in added:  # two scenarios share a flag: one option, typed by the chosen scenario
                added[arg.flag].append(name)
                continue
            added[arg.flag] = [name]
            group.add_argument(
                arg.flag,
                dest=DEST_PREFIX + arg.dest,
                nargs="+" if arg.multiple else None,
                default=argparse.SUPPRESS,
                metavar=arg.dest.upper(),
                help=_describe_arg(reg.scenario, arg),
            )
    parser.set_defaults(func=_run, _catalog=catalog)


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


def _run(args: argparse.Namespace) -> int:
    from synth_pipelines.core.atomic import check_writable_dir
    from synth_pipelines.core.cli_support import CliError, show_progress
    from synth_pipelines.core.paths import default_data_dir

    catalog: ScenarioCatalog = args._catalog
    if args.list:
        return _list(catalog)
    if not getattr(args, "scenario", None):
        raise CliError(f"give --scenario NAME (one of: {', '.join(catalog.scenarios)}) or --list")
    try:
        scenario = catalog.get(args.scenario)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    try:
        cfg = scenario.parse_config(_scenario_values(scenario, args))
    except ScenarioArgumentError as exc:
        raise CliError(str(exc)) from None
    settings = settings_from_args(args)  # a missing key fails here, before anything is drawn or written
    data_dir = Path(default_data_dir())
    out_dir = check_writable_dir(
        getattr(args, "out_dir", None) or data_dir / "scenarios" / scenario.name.replace("-", "_")
    )
    generator = make_generator(settings, data_dir, log)

    bar = None
    if show_progress():
        from tqdm import tqdm

        bar = tqdm(total=cfg.count, unit="rec", desc=scenario.name)
    try:
        entities = draw_entities(scenario, cfg, args.seed)
        generated = generate_records(scenario, cfg, args.seed, entities, generator, bar.update if bar else None, log)
    except LLMError as exc:  # bad credentials, failure budget exceeded: the message says which
        raise CliError(f"scenario {scenario.name}: {exc}") from None
    finally:
        if bar is not None:
            bar.close()
        close = getattr(generator, "close", None)
        if close is not None:
            close()
    print(f"{scenario.name}: {generated.summary()}", file=sys.stderr)
    if not settings.is_offline:
        print(f"{settings.provider}/{settings.model}: {generated.provider_summary()}", file=sys.stderr)
    if generated.records.height == 0:
        raise CliError(f"scenario {scenario.name}: every record failed; nothing was written")
    check_dataset(scenario, cfg, generated.records, entities)
    # All files of a run appear together: write them in a staging folder, then move each into place.
    staging = Path(tempfile.mkdtemp(prefix=".synth-scenario-", dir=out_dir))
    try:
        staged = write_dataset(scenario, cfg, generated.records, entities, staging)
        for table, path in staged.items():
            final = out_dir / path.name
            os.replace(path, final)
            print(f"{table}: {final}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SHORT_OF_COUNT if generated.failures else 0
