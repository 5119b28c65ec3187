"""``synth cv-logs | api-logs | agent-logs`` and ``synth validate``: the log domains from a terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synth_pipelines.core.cli_support import ModelFlags, model_from_args
from synth_pipelines.core.objstore import check_output, local_or_url, set_info, shown, staged_output
from synth_pipelines.core.paths import OUTPUT_RULE, default_output_dir
from synth_pipelines.domains.logs.domain import LogConfig, LogDomain, export_names
from synth_pipelines.domains.logs.validator import validate_lines


def log_domains() -> list[LogDomain]:
    from synth_pipelines.domains.agent_traces.domain import AgentTracesDomain
    from synth_pipelines.domains.api_logs.domain import ApiLogsDomain
    from synth_pipelines.domains.cv_logs.domain import CvLogsDomain

    return [CvLogsDomain(), ApiLogsDomain(), AgentTracesDomain()]


def _generate(domain: LogDomain, flags: ModelFlags, args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError, show_progress
    from synth_pipelines.core.shards import run_shards_from_args

    cfg: LogConfig = model_from_args(flags, args)
    out = check_output(local_or_url(args.out) if args.out else default_output_dir())
    if args.shards is not None and (args.no_mirror or args.check_round_trip):
        raise CliError("--no-mirror and --check-round-trip cannot be combined with --shards (yet)")
    sharded = run_shards_from_args(domain, cfg, args.seed, out, args)
    if sharded is not None:
        return sharded
    progress = None
    bar = None
    if show_progress():
        from tqdm import tqdm

        bar = tqdm(total=cfg.count, unit=" records", desc=domain.cli_name, file=sys.stderr)
        progress = bar.update
    try:
        with staged_output(out, set_info(domain, cfg, args.seed)) as staging:
            paths = domain.stream(
                cfg, args.seed, staging, progress, mirror=not args.no_mirror, round_trip=args.check_round_trip
            )
    finally:
        if bar is not None:
            bar.close()
    for role, path in paths.items():
        print(f"{role:17} {shown(out, path.relative_to(staging))}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError

    domain = next(d for d in log_domains() if args.domain in (d.cli_name, d.name))
    path = Path(args.file)
    if path.is_dir():
        raise CliError(f"{path}: is a directory; give a JSON-lines file")
    if path.exists() and not path.is_file():
        raise CliError(f"{path}: not a regular file; give a JSON-lines file")
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    report = validate_lines(lines, domain.inventory)
    invalid = 0
    for number, defects in enumerate(report, start=1):
        if defects:
            invalid += 1
            print(f"{path}:{number}: invalid: " + "; ".join(str(d) for d in defects))
        elif args.verbose:
            print(f"{path}:{number}: ok")
    print(f"{path}: {len(report)} lines, {len(report) - invalid} valid, {invalid} invalid ({domain.cli_name} schema)")
    return 1 if invalid else 0


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import Flag, HelpFormatter, add_model_flags, add_shard_flags, seed_int

    domains = log_domains()
    for domain in domains:
        names = export_names("NAME")
        cmd = sub.add_parser(
            domain.cli_name,
            help=domain.description,
            description=f"{domain.description}\n\nWrites {', '.join(names.values())} into --out.",
            formatter_class=HelpFormatter,
            epilog=(
                "Examples:\n"
                f"  synth {domain.cli_name} --count 100 --seed 42 --name log --out data/synthetic\n"
                f"  synth {domain.cli_name} --count 1000000 --seed 7 --out /tmp/{domain.name}\n"
                f"  synth {domain.cli_name} --count 1000000 --no-mirror --out /tmp/{domain.name}_clean\n"
                f"  synth validate {domain.cli_name} data/synthetic/log_valid.jsonl"
            ),
        )
        unit = "runs (each written as one line per step)" if domain.name == "agent_traces" else "clean records"
        # The config fields (--count, --name, --start): flags, defaults and checks from the model.
        flags = add_model_flags(
            cmd, domain.config_model, overrides={"count": Flag(help=f"number of {unit}"), "name": Flag(metavar="NAME")}
        )
        cmd.add_argument("--seed", type=seed_int, default=42, help="random seed")
        cmd.add_argument(
            "--out", default=None, help=f"output directory or s3:// gs:// az:// URL (default: {OUTPUT_RULE})"
        )
        cmd.add_argument(
            "--no-mirror", action="store_true", help="write the clean set only (no invalid mirror, no manifest)"
        )
        cmd.add_argument(
            "--check-round-trip",
            action="store_true",
            help="also render every record as its raw source line and parse it back before validating "
            "(what the Dagster path does; same bytes, slower)",
        )
        add_shard_flags(cmd)
        cmd.set_defaults(
            func=lambda args, d=domain, f=flags: _generate(d, f, args),
            config_of=lambda args, f=flags: model_from_args(f, args),
        )

    val = sub.add_parser(
        "validate",
        help="validate a JSONL file of a log domain line by line",
        formatter_class=HelpFormatter,
        epilog=(
            "Examples:\n  synth validate cv-logs data/synthetic/log_valid.jsonl\n"
            "  synth validate api-logs data/synthetic/raw/api_logs_invalid.jsonl --verbose\n\n"
            "Exit status: 0 when every line is valid, 1 when any line is invalid."
        ),
    )
    val.add_argument("domain", choices=[d.cli_name for d in domains], help="log domain of the file")
    val.add_argument("file", help="JSONL file to validate")
    val.add_argument("--verbose", action="store_true", help="also print valid lines")
    val.set_defaults(func=_validate)
