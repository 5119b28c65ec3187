"""``synth serve`` (the REST + Socket.IO API) and ``synth studio`` (the Streamlit app).

Both import their web stacks only when run, so ``synth --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from synth_pipelines.core.cli_support import HelpFormatter

SERVE_EPILOG = """Examples:
  synth serve                                   # http://127.0.0.1:4000, OpenAPI at /docs
  synth serve --port 4100
  SYNTH_API_TOKEN=... synth serve --host 0.0.0.0   # any other interface needs a bearer token

Limits and CORS from the environment: SYNTH_STUDIO_MAX_UPLOAD_BYTES, SYNTH_STUDIO_MAX_ROWS_PER_TABLE,
SYNTH_STUDIO_MAX_CONCURRENT_JOBS, SYNTH_STUDIO_CORS_ORIGINS='["http://localhost:3000"]'. See docs/api.md."""

STUDIO_EPILOG = """Examples:
  synth studio                  # http://127.0.0.1:8501
  synth studio --port 8600"""


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 1..65535")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve",
        help="the studio's REST + Socket.IO API (FastAPI), default 127.0.0.1:4000",
        description="Serve the studio API: generate from DDL, datasets, export, modify, undo, ask; live "
        "generation events over Socket.IO.",
        epilog=SERVE_EPILOG,
        formatter_class=HelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (not loopback: SYNTH_API_TOKEN)")
    serve.add_argument("--port", type=_port, default=4000, help="port")
    serve.set_defaults(func=run_serve)
    studio = sub.add_parser(
        "studio",
        help="the studio web app (Streamlit): Data Generation and Talk to your data, default 127.0.0.1:8501",
        description="Run the studio app in Streamlit.",
        epilog=STUDIO_EPILOG,
        formatter_class=HelpFormatter,
    )
    studio.add_argument("--host", default="127.0.0.1", help="interface to bind")
    studio.add_argument("--port", type=_port, default=8501, help="port")
    studio.set_defaults(func=run_studio)


def run_serve(args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError
    from synth_pipelines.studio.settings import StudioSettings, is_loopback

    try:
        settings = StudioSettings()
    except ValueError as exc:
        raise CliError(f"studio settings: {str(exc).splitlines()[0]}", code=2) from None
    if not is_loopback(args.host) and settings.api_token is None:
        raise CliError(f"--host {args.host} is not loopback: set SYNTH_API_TOKEN (bearer token) first", code=2)
    import uvicorn

    from synth_pipelines.studio.api import create_app

    print(f"synth serve: http://{args.host}:{args.port} (OpenAPI: /docs)", file=sys.stderr, flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0


def run_studio(args: argparse.Namespace) -> int:
    from synth_pipelines.core.cli_support import CliError
    from synth_pipelines.studio.settings import is_loopback

    if not is_loopback(args.host) and not os.environ.get("SYNTH_API_TOKEN"):
        raise CliError(f"--host {args.host} is not loopback: the studio has no login; keep it on 127.0.0.1", code=2)
    app = Path(__file__).with_name("app.py")
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", args.host, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    return subprocess.call(command)
