"""The studio's REST + Socket.IO API: FastAPI routes and a python-socketio server on one ASGI app.

Every route is a thin call into ``service.py``; a ``StudioError`` becomes ``{"error": message}`` with its
status. Generation runs in the service's thread pool, so a job finishes whether or not the client that
started it is still connected; its events are broadcast to every connected Socket.IO client (each payload
carries ``jobId``) and kept on the job (``GET /api/jobs/{id}`` lists them for a client that came late).
Event names and payloads: docs/api.md.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import socketio
from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from synth_pipelines.studio import service
from synth_pipelines.studio.service import (
    AskRequest,
    GenerateJob,
    ModifyRequest,
    PromoteRequest,
    StudioError,
    UndoRequest,
)
from synth_pipelines.studio.settings import StudioSettings

SOCKET_PATH = "socket.io"


def _token_ok(expected: str | None, given: str | None) -> bool:
    if expected is None:
        return True
    if not given:
        return False
    given = given.removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), expected.encode())


class BearerTokenMiddleware:
    """With ``SYNTH_API_TOKEN`` set, every HTTP route (the docs included) needs ``Authorization: Bearer``.
    Socket.IO checks the token itself at connect (a browser WebSocket cannot send headers: ``auth.token``)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(f"/{SOCKET_PATH}/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"").decode("latin-1")
        if scope["type"] == "http" and scope.get("method") == "OPTIONS":  # CORS preflight carries no token
            await self.app(scope, receive, send)
            return
        if not _token_ok(self.token, given):
            response = JSONResponse({"error": "missing or wrong bearer token (SYNTH_API_TOKEN)"}, status_code=401)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(settings: StudioSettings | None = None) -> ASGIApp:
    settings = settings or StudioSettings()
    token = settings.api_token.get_secret_value() if settings.api_token else None
    allowed = set(settings.cors_origins)

    def origin_ok(origin: str | None, environ: dict[str, Any]) -> bool:
        """The configured origins, plus the server's own (a same-origin page or a non-browser client)."""
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin is None or origin in allowed or origin == own

    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=origin_ok)
    events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    loop_box: dict[str, asyncio.AbstractEventLoop] = {}

    def forward(event: str, payload: dict[str, Any]) -> None:
        """Called from a job thread: hand the event to the loop, which emits them one by one, in order."""
        loop = loop_box.get("loop")
        if loop is not None:
            loop.call_soon_threadsafe(events.put_nowait, (event, payload))

    runner = service.JobRunner(settings.max_concurrent_jobs, forward)

    async def pump() -> None:
        while True:
            event, payload = await events.get()
            await sio.emit(event, payload)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loop_box["loop"] = asyncio.get_running_loop()
        task = asyncio.create_task(pump())
        try:
            yield
        finally:
            task.cancel()
            runner.shutdown()

    app = FastAPI(
        title="synth studio API",
        version="1",
        description="Generate relational datasets from DDL, keep, edit, undo, export and ask them. "
        "Socket.IO events: docs/api.md.",
        lifespan=lifespan,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
    )

    @app.exception_handler(StudioError)
    async def studio_error(_: Request, exc: StudioError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        detail = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg"))} for e in errors]
        return JSONResponse({"error": f"{where}: {first.get('msg')}", "detail": detail}, status_code=422)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return service.health()

    @app.get("/api/config")
    def config() -> dict[str, Any]:
        return service.config()

    @app.post("/api/upload")
    async def upload(
        request: Request,
        file: UploadFile = File(...),  # noqa: B008 (FastAPI's declaration style)
        parse: bool = Query(True),
        dialect: str | None = Query(None, pattern="^(postgres|mysql|sqlite)$"),
    ) -> dict[str, Any]:
        limit = settings.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + 64_000:  # form overhead allowed
            raise StudioError(f"the upload is over the limit of {limit:,} bytes", 413)
        raw = await file.read(limit + 1)
        name = file.filename or "upload.sql"
        if not parse:
            return {"filename": name, "bytes": len(raw), "ddl": service._ddl_text(raw, name)}
        return {"filename": name} | await asyncio.to_thread(service.parse_ddl_upload, raw, name, dialect)

    @app.post("/api/generate", status_code=202)
    def generate(job: GenerateJob) -> dict[str, Any]:
        started = runner.submit(job)
        return {"jobId": started.id, "status": started.status}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict[str, Any]:
        return service.job_json(runner.get(job_id))

    @app.get("/api/datasets")
    def datasets() -> list[dict[str, Any]]:
        return service.list_datasets()

    @app.get("/api/datasets/{dataset_id}")
    def dataset(
        dataset_id: str,
        include_data: bool = Query(False, alias="includeData"),
        page: int = Query(1, ge=1, le=10**9),
        page_size: int = Query(service.DEFAULT_PAGE_SIZE, alias="pageSize", ge=1, le=settings.page_size_max),
        table: str | None = Query(None),
        version: int | None = Query(None, ge=1, le=10**9),
    ) -> dict[str, Any]:
        return service.get_dataset(dataset_id, include_data, page, page_size, table, version)

    @app.get("/api/datasets/{dataset_id}/export", response_class=Response)
    def export(
        dataset_id: str,
        version: int | None = Query(None, ge=1, le=10**9),
        format: str = Query("csv", pattern="^(csv|parquet)$"),
    ) -> Response:
        body = service.export_zip(dataset_id, version, format)
        headers = {"Content-Disposition": f'attachment; filename="{dataset_id}.zip"'}
        return Response(body, media_type="application/zip", headers=headers)

    @app.post("/api/datasets/{dataset_id}/modify")
    def modify(dataset_id: str, request: ModifyRequest) -> dict[str, Any]:
        return service.modify(dataset_id, request)

    @app.post("/api/datasets/{dataset_id}/promote", status_code=201)
    def promote(dataset_id: str, request: PromoteRequest) -> dict[str, Any]:
        return service.promote(dataset_id, request.name, request.version)

    @app.post("/api/datasets/{dataset_id}/undo")
    def undo(dataset_id: str, request: UndoRequest) -> dict[str, Any]:
        return service.undo(dataset_id, request.to_version)

    @app.post("/api/datasets/{dataset_id}/ask")
    def ask(dataset_id: str, request: AskRequest) -> dict[str, Any]:
        return service.ask(dataset_id, request)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        if token is None:
            return True
        given = auth.get("token") if isinstance(auth, dict) else None
        return _token_ok(token, given or environ.get("HTTP_AUTHORIZATION"))

    combined = socketio.ASGIApp(sio, other_asgi_app=app, socketio_path=SOCKET_PATH)
    return BearerTokenMiddleware(combined, token)


def app() -> ASGIApp:
    """uvicorn's factory (``uvicorn --factory synth_pipelines.studio.api:app``)."""
    return create_app()
