"""``synth nlp``: NLP training sets from a terminal, through the same domain code as the Dagster assets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EPILOG = """Examples:
  synth nlp --documents docs/ --format qa --samples 100 --seed 42 --output-prefix data/synthetic/train
  synth nlp --query "password reset flows" --format triplet --samples 500 \\
      --provider openai --model gpt-4o-mini
  synth nlp --documents manual.pdf --custom-format my_format.json --samples 50 --output-format jsonl parquet
  synth nlp --query "kitchen safety" --format pair-class --samples 90 --provider google --top-k 40 --no-refine

Outputs are named <prefix>_<format>_<source>.<ext> (source: llm or offline; a --query run adds
_from_query, so it never overwrites a --documents run with the same prefix). Keys come from the
environment or .env (OPENAI_API_KEY, GOOGLE_API_KEY); they are never printed or written.
Exit codes: 0 = N samples written, 3 = fewer than N could be made (what was made is written), 1 = error."""

SHORT_OF_TARGET = 3


DEFAULT_NAME = "nlp"


def split_prefix(prefix: str | None) -> tuple[Path | str, str]:
    """``--output-prefix`` as (folder, file name prefix); a trailing slash or an existing folder: inside it.

    The folder may be an object-store URL (``s3://bucket/run/train``: folder ``s3://bucket/run``).
    """
    from synth_pipelines.core.objstore import is_remote

    if prefix is None:
        from synth_pipelines.core.paths import default_output_dir

        return default_output_dir(), DEFAULT_NAME
    if is_remote(prefix):
        protocol, _, rest = prefix.partition("://")
        if prefix.endswith("/") or "/" not in rest:  # a bucket alone is a folder too
            return f"{protocol}://{rest.rstrip('/')}", DEFAULT_NAME
        folder, _, name = rest.rpartition("/")
        return f"{protocol}://{folder}", name
    if prefix.endswith(("/", "\\")) or Path(prefix).is_dir():
        return Path(prefix), DEFAULT_NAME
    return Path(prefix).parent, Path(prefix).name


def _config(flags: Any, args: argparse.Namespace) -> Any:
    """The run's ``NLPConfig``. ``--output-prefix`` is a folder plus a file name prefix; the model holds the latter."""
    from synth_pipelines.core.cli_support import model_from_args

    return model_from_args(flags, args, output_prefix=split_prefix(args.output_prefix)[1])


def _run(flags: Any, args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError, show_progress
    from synth_pipelines.core.domain import RunContext, run_domain
    from synth_pipelines.core.objstore import check_output, is_remote, set_info, shown, staged_output
    from synth_pipelines.core.paths import default_data_dir
    from synth_pipelines.core.shards import run_shards_from_args
    from synth_pipelines.domains.nlp.domain import NLPDomain
    from synth_pipelines.domains.nlp.formats import load_custom_format
    from synth_pipelines.llm.contract import LLMError
    from synth_pipelines.llm.session import LLMSession
    from synth_pipelines.llm.settings import settings_from_args

    custom_format = getattr(args, "custom_format", None)  # unset unless given (a mutually exclusive flag)
    if custom_format:
        load_custom_format(custom_format)  # a bad file fails before anything else happens
    cfg = _config(flags, args)
    if cfg.incremental_save and "jsonl" not in cfg.output_formats:
        raise CliError("--incremental-save writes the JSONL file as records come: add jsonl to --output-format")
    # Shards are drawn offline, so a key found in the environment does not choose a provider for them.
    shard_flags = args.shards is not None or args.shard is not None or args.compact or args.commit
    settings = settings_from_args(args, auto_provider=not shard_flags)
    folder = split_prefix(args.output_prefix)[0]
    if cfg.incremental_save and is_remote(str(folder)):
        raise CliError("--incremental-save appends to a local file as records come; an object store has no append")
    out_dir = check_output(folder)
    if args.shards is not None and not settings.is_offline:
        raise CliError("--shards runs offline only (yet): leave out --provider or use --provider offline")
    sharded = run_shards_from_args(NLPDomain(), cfg, args.seed, out_dir, args)
    if sharded is not None:
        return sharded
    bar = None
    if show_progress():
        from tqdm import tqdm

        bar = tqdm(total=cfg.samples, unit="sample", desc=f"nlp {cfg.format}")
    data_dir = Path(default_data_dir())
    session = LLMSession(settings, data_dir)
    live_dir = None if is_remote(str(out_dir)) else Path(out_dir)  # --incremental-save is refused for a URL above
    ctx = RunContext(data_dir=data_dir, llm=session, progress=bar.update if bar else None, live_dir=live_dir)
    domain = NLPDomain()
    try:
        # Every output file of the run appears together, or none does (Ctrl-C, a failed check).
        with staged_output(out_dir, set_info(domain, cfg, args.seed)) as staging:
            run = run_domain(domain, cfg, args.seed, staging, ctx)
    except LLMError as exc:
        raise CliError(str(exc)) from None
    finally:
        session.close()
        if bar is not None:
            bar.close()
    meta = ctx.metadata
    for path in run.files.values():
        print(shown(out_dir, path.relative_to(staging)))
    print(
        f"nlp: {meta['samples_made']} of {meta['samples_target']} {meta['nlp_format']} samples "
        f"({meta['llm_provider']}/{meta['llm_model']}); requests {meta['llm_requests']}, cache hits "
        f"{meta['llm_cache_hits']}, tokens {meta['llm_input_tokens']}+{meta['llm_output_tokens']}, "
        f"retries {meta['llm_retries']}, failed requests {meta['llm_failures']}, "
        f"invalid {meta['invalid_samples']}, duplicates {meta['duplicates_dropped']}",
        file=sys.stderr,
    )
    if meta["shortfall"] > 0:
        print(
            f"synth: warning: only {meta['samples_made']} of {cfg.samples} samples: {meta['stop_reason']}",
            file=sys.stderr,
        )
        return SHORT_OF_TARGET
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from synth_pipelines.core.cli_support import (
        Flag,
        HelpFormatter,
        add_model_flags,
        add_shard_flags,
        package_version,
        seed_int,
    )
    from synth_pipelines.domains.nlp.domain import OUTPUT_FORMATS, NLPConfig, NLPDomain
    from synth_pipelines.domains.nlp.formats import BUILTIN_FORMATS
    from synth_pipelines.llm.settings import add_provider_args

    parser = sub.add_parser(
        "nlp",
        help="NLP training sets: qa, pair, triplet, pair-class, pair-score, custom formats",
        description=NLPDomain.description,
        formatter_class=HelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"synth nlp {NLPDomain.version} (synth-pipelines {package_version()})",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    shape = parser.add_mutually_exclusive_group(required=True)
    # Every NLPConfig field (the Dagster run config) is a flag with the model's default; the CLI asks
    # for one source, one format and --samples explicitly.
    flags = add_model_flags(
        parser,
        NLPConfig,
        overrides={
            "query": Flag(group=source, help="what the data is about"),
            "documents": Flag(group=source, help="a .txt/.md/.pdf/.html file or a folder of them, used as context"),
            "format": Flag(group=shape, choices=list(BUILTIN_FORMATS), help="a built-in format"),
            "custom_format": Flag(
                group=shape,
                metavar="FILE",
                aliases=("--custom_format_file", "--custom-format-file"),
                help="a custom format JSON file (name and description optional)",
            ),
            "samples_per_request": Flag(
                aliases=("--batch_size",),
                help="samples asked per request (the Gemini generator's --batch_size means this one; "
                "--batch-size is LLM requests per checkpointed batch)",
            ),
            "passage_chars": Flag(help="characters per passage cut from the documents"),
            "output_formats": Flag(
                flag="--output-format",
                aliases=("--output_format",),
                choices=[*OUTPUT_FORMATS, "all"],
                help="files to write (all: jsonl csv parquet)",
            ),
            "incremental_save": Flag(aliases=("--incremental_save",)),
        },
        exclude={"output_prefix"},  # the CLI's --output-prefix below: a folder as well as the name
    )
    parser.add_argument("--seed", type=seed_int, default=42, help="seed (with a warm cache: same bytes)")
    parser.add_argument(
        "--output-prefix",
        "--output_prefix",
        dest="output_prefix",
        default=None,
        help="folder and file name prefix; ending in / (or an existing folder): files named nlp_... inside it "
        "(default: nlp in $SYNTH_DATA_DIR/synthetic, SYNTH_DATA_DIR defaulting to the checkout's data/)",
    )
    add_provider_args(parser)
    add_shard_flags(parser)
    parser.set_defaults(func=lambda args: _run(flags, args), config_of=lambda args: _config(flags, args))
