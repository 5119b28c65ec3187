"""``synth nlp``: NLP training sets from a terminal, through the same domain code as the Dagster assets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """Examples:
  synth nlp --documents docs/ --format qa --samples 100 --seed 42 --output-prefix data/synthetic/train
  synth nlp --query "password reset flows" --format triplet --samples 500 \\
      --provider openai --model gpt-4o-mini
  synth nlp --documents manual.pdf --custom-format my_format.json --samples 50 --output-format jsonl parquet
  synth nlp --query "kitchen safety" --format pair-class --samples 90 --provider google --top-k 40 --no-refine

Outputs are named <prefix>_<format>_<source>.<ext> (source: llm or offline). Keys come from the
environment or .env (OPENAI_API_KEY, GOOGLE_API_KEY); they are never printed or written.
Exit codes: 0 = N samples written, 3 = fewer than N could be made (what was made is written), 1 = error."""

SHORT_OF_TARGET = 3


def _run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from synth_pipelines.core.atomic import check_writable_dir
    from synth_pipelines.core.cli_support import CliError, show_progress
    from synth_pipelines.core.domain import RunContext, run_domain
    from synth_pipelines.core.paths import default_data_dir
    from synth_pipelines.domains.nlp.domain import NLPConfig, NLPDomain
    from synth_pipelines.domains.nlp.formats import load_custom_format
    from synth_pipelines.llm.contract import LLMError
    from synth_pipelines.llm.session import LLMSession
    from synth_pipelines.llm.settings import settings_from_args

    if args.custom_format:
        load_custom_format(args.custom_format)  # a bad file fails before anything else happens
    try:
        cfg = NLPConfig(
            query=args.query,
            documents=args.documents,
            format=args.format or "qa",
            custom_format=args.custom_format,
            samples=args.samples,
            samples_per_request=args.samples_per_request,
            max_rounds=args.max_rounds,
            refine=not args.no_refine,
            output_prefix=args.output_prefix,
            output_formats=args.output_format,
        )
    except ValidationError as exc:
        raise CliError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    settings = settings_from_args(args)
    out_dir = check_writable_dir(Path(args.output_prefix).parent)
    bar = None
    if show_progress():
        from tqdm import tqdm

        bar = tqdm(total=cfg.samples, unit="sample", desc=f"nlp {cfg.format}")
    data_dir = Path(default_data_dir())
    session = LLMSession(settings, data_dir)
    ctx = RunContext(data_dir=data_dir, llm=session, progress=bar.update if bar else None)
    domain = NLPDomain()
    try:
        run = run_domain(domain, cfg, args.seed, out_dir, ctx)
    except LLMError as exc:
        raise CliError(str(exc)) from None
    finally:
        session.close()
        if bar is not None:
            bar.close()
    meta = ctx.metadata
    for path in run.files.values():
        print(path)
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
    from synth_pipelines.core.cli_support import HelpFormatter, non_negative_int, package_version, positive_int
    from synth_pipelines.domains.nlp.domain import NLPDomain
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
    source.add_argument("--query", help="what the data is about")
    source.add_argument("--documents", help="a .txt/.md/.pdf/.html file or a folder of them, used as context")
    shape = parser.add_mutually_exclusive_group(required=True)
    shape.add_argument("--format", choices=list(BUILTIN_FORMATS), help="a built-in format")
    shape.add_argument("--custom-format", metavar="FILE", help="a custom format JSON file")
    parser.add_argument("--samples", type=positive_int, required=True, help="unique, valid samples to make")
    parser.add_argument("--samples-per-request", type=positive_int, default=5, help="samples asked per request")
    parser.add_argument("--max-rounds", type=positive_int, default=5, help="refill rounds before giving up")
    parser.add_argument("--no-refine", action="store_true", help="do not let the LLM refine the query first")
    parser.add_argument("--seed", type=non_negative_int, default=42, help="seed (with a warm cache: same bytes)")
    parser.add_argument("--output-prefix", default="data/synthetic/nlp", help="directory and file name prefix")
    parser.add_argument(
        "--output-format", nargs="+", choices=["jsonl", "csv", "parquet"], default=["jsonl", "csv", "parquet"]
    )
    add_provider_args(parser)
    parser.set_defaults(func=_run)
