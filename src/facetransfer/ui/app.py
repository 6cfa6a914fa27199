"""The HTTP side of `facetransfer ui`: the page, a JSON API, server-sent events and the media files,
as a Starlette app. Every request passes `Guard` first: with a token (any address but loopback) it
must carry it; on loopback the Host header must be a loopback name (no DNS rebinding); a request
that changes something must come from the page's own origin. Errors are one line of JSON, never a
stack trace page."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from facetransfer.errors import FacetransferError
from facetransfer.fsutil import write_text_atomic
from facetransfer.ui import forms
from facetransfer.ui.adopt import adopt
from facetransfer.ui.config import UiConfig
from facetransfer.ui.files import IMAGE_SUFFIXES, UPLOADS_DIR, PathRefused, Roots, list_folder, receive_upload
from facetransfer.ui.jobs import (
    CONFIG_NAME,
    EVALUATE_DIR,
    LOG_NAME,
    VERIFY_NAME,
    WORK_SUFFIX,
    JobSpec,
    comparison_of,
    find_work_folders,
    job_name_of,
    loss_series,
    output_of,
    preview_path,
    read_spec,
    read_status,
    stage_rows,
    state_line,
    training_progress,
    ui_dir,
    write_spec,
)
from facetransfer.ui.runner import Runner, Task, current_step, swap_command

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
TOKEN_COOKIE = "facetransfer_token"
EVENT_POLL_S = 1.0
EVENT_KEEPALIVE_S = 15.0
_JOB_NAME = re.compile(r"[^A-Za-z0-9._-]+")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class AppState:
    config: UiConfig
    root: Path
    roots: Roots
    runner: Runner
    token: str | None


class Guard:
    """ASGI middleware: the access token, the Host header and the origin of changing requests."""

    def __init__(self, app: ASGIApp, token: str | None, loopback: bool) -> None:
        self.app, self.token, self.loopback = app, token, loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        host = headers.get("host", "")
        if self.loopback and _host_name(host) not in ("127.0.0.1", "localhost", "[::1]", "::1"):
            await _deny(send, 403, f"host {host!r} is not this machine's loopback address")
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if self.token is not None:
            given = _token_of(headers, query)
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                await _deny(send, 401, "this app needs its access token: open the address it printed")
                return
            if "token" in query and scope["method"] == "GET" and scope["path"] == "/":
                cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                response = RedirectResponse("/", status_code=303, headers={"set-cookie": cookie})
                await response(scope, receive, send)
                return
        if scope["method"] not in ("GET", "HEAD"):
            origin = headers.get("origin")
            if origin is not None and origin.split("://", 1)[-1] != host:
                await _deny(send, 403, f"requests from {origin} are refused")
                return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _token_of(headers: dict[str, str], query: dict[str, list[str]]) -> str | None:
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    if "cookie" in headers:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(headers["cookie"])
        except Exception:  # a malformed cookie header is no token
            return None
        if TOKEN_COOKIE in cookie:
            return cookie[TOKEN_COOKIE].value
    return query.get("token", [None])[0]


async def _deny(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ------------------------------------------------------------------ helpers


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.ui
    return state


def _job_folder(state: AppState, name: str) -> Path:
    folder = state.root / f"{name}{WORK_SUFFIX}"
    if _JOB_NAME.search(name) or not folder.is_dir():
        raise HTTPException(404, f"no swap named {name!r} in {state.root}")
    return folder


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _summary(workdir: Path) -> dict[str, Any]:
    status = read_status(workdir)
    progress = training_progress(workdir, status)
    preview_mtime = _mtime_ns(preview_path(workdir))
    return {
        "name": job_name_of(workdir),
        "folder": str(workdir),
        "state": status.state,
        "line": state_line(workdir, status, progress),
        "stage": status.stage,
        "evaluation": status.evaluation,
        "step": progress["step"] if progress else None,
        "preview": preview_mtime,
        # the result's files change after the state does (the provenance check, an evaluation)
        "results": [
            _mtime_ns(ui_dir(workdir) / VERIFY_NAME),
            _mtime_ns(workdir / EVALUATE_DIR / "metrics.json"),
        ],
        "from_app": (ui_dir(workdir) / "job.json").is_file(),
    }


def _detail(state: AppState, workdir: Path) -> dict[str, Any]:
    status = read_status(workdir)
    spec = read_spec(workdir)
    progress = training_progress(workdir, status)
    output = output_of(workdir, spec)
    comparison = comparison_of(output) if output is not None else None
    name = job_name_of(workdir)
    files = {}
    for kind, path in (("output", output), ("compare", comparison)):
        if path is not None and path.is_file():
            files[kind] = f"/api/jobs/{name}/files/{kind}?v={path.stat().st_mtime_ns}"
    evaluation = None
    metrics_file = workdir / EVALUATE_DIR / "metrics.json"
    if metrics_file.is_file():
        try:
            payload = json.loads(metrics_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            payload = {}
        evaluation = {
            "summary": payload.get("summary", {}),
            "numbers": {
                k: v for k, v in payload.items() if isinstance(v, int | float) and not isinstance(v, bool)
            },
            "plot": f"/api/jobs/{name}/files/evaluate-plot?v={metrics_file.stat().st_mtime_ns}",
        }
    verify_file = ui_dir(workdir) / VERIFY_NAME
    verdict = verify_file.read_text(encoding="utf-8", errors="replace") if verify_file.is_file() else None
    command = None
    if spec is not None:
        command = " ".join(_shell_quote(part) for part in ["facetransfer", *swap_command(workdir)[3:]])
    return {
        **_summary(workdir),
        "status": status.to_json(),
        "spec": asdict(spec) if spec is not None else None,
        "stages": stage_rows(workdir, status),
        "train": progress,
        "files": files,
        "evaluate": evaluation,
        "verify": verdict,
        "command": command,
        "output": str(output) if output is not None else None,
        "queued": [job_name_of(task.workdir) for task in list(state.runner.queue)],
    }


def _shell_quote(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_./:=+-]+", text) else "'" + text.replace("'", "'\\''") + "'"


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HTTPException(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the request body must be a JSON object")
    return body


def _free_job_name(root: Path, wanted: str) -> str:
    base = _JOB_NAME.sub("_", wanted).strip("._-")[:80] or "swap"
    name, number = base, 2
    while (root / f"{name}{WORK_SUFFIX}").exists():
        name, number = f"{base}-{number}", number + 1
    return name


def _checked_path_values(roots: Roots, values: dict[str, Any]) -> dict[str, Any]:
    """Option values that name files (any text with a folder separator) must lie under the roots;
    they are written as absolute paths, so the command line reads them the same from anywhere."""
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str) and "/" in value:
            checked[key] = str(roots.check(value, must_exist=False))
        elif isinstance(value, list):
            checked[key] = [
                str(roots.check(item, must_exist=False)) if "/" in item else item for item in value
            ]
        else:
            checked[key] = value
    return checked


# ------------------------------------------------------------------ routes


async def index(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-store"})


async def options(request: Request) -> Response:
    return JSONResponse(forms.schema())


async def browse(request: Request) -> Response:
    state = _state(request)
    folder, entries = list_folder(state.roots, request.query_params.get("path"))
    parent = folder.parent
    allowed_parent = any(parent == root or parent.is_relative_to(root) for root in state.roots.folders)
    return JSONResponse(
        {
            "path": str(folder),
            "parent": str(parent) if allowed_parent and parent != folder else None,
            "roots": [str(root) for root in state.roots.folders],
            "entries": [asdict(entry) for entry in entries],
        }
    )


async def upload(request: Request) -> Response:
    state = _state(request)
    name = request.query_params.get("name", "")
    declared = request.headers.get("content-length")
    max_bytes = int(state.config.max_upload_mb * 1e6)
    with receive_upload(state.root / UPLOADS_DIR, name, max_bytes, int(declared) if declared else None) as (
        final,
        sink,
    ):
        async for chunk in request.stream():
            sink.write(chunk)
    return JSONResponse({"path": str(final)})


async def list_jobs(request: Request) -> Response:
    state = _state(request)
    return JSONResponse({"jobs": [_summary(folder) for folder in find_work_folders(state.root)]})


async def create_job(request: Request) -> Response:
    state = _state(request)
    body = await _json_body(request)
    sources = body.get("sources") or []
    target = body.get("target") or ""
    if not isinstance(sources, list) or not sources:
        raise FacetransferError("no source chosen; add the source person's videos, photos or a folder")
    if not isinstance(target, str) or not target:
        raise FacetransferError("no target chosen; pick the video whose face is replaced")
    source_paths = [state.roots.check(str(path)) for path in sources]
    target_path = state.roots.check(target)
    if not target_path.is_file():
        raise FacetransferError(f"{target_path}: the target must be a video or image file, not a folder")
    given = body.get("options") or {}
    if not isinstance(given, dict):
        raise HTTPException(400, "options must be an object of flag -> value")
    values = _checked_path_values(state.roots, forms.parse_values(given))
    forms.check_values(values)
    wanted = str(body.get("name") or f"{Path(source_paths[0]).stem}-to-{target_path.stem}")
    name = _free_job_name(state.root, wanted)
    suffix = target_path.suffix.lower() if target_path.suffix.lower() in IMAGE_SUFFIXES else ".mp4"
    workdir = state.root / f"{name}{WORK_SUFFIX}"
    spec = JobSpec(
        name=name,
        sources=[str(path) for path in source_paths],
        target=str(target_path),
        output=str(state.root / f"{name}{suffix}"),
        created_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    ui_dir(workdir).mkdir(parents=True, exist_ok=False)
    write_text_atomic(ui_dir(workdir) / CONFIG_NAME, forms.config_toml(values))
    write_spec(workdir, spec)
    state.runner.submit(Task(workdir, "swap"))
    return JSONResponse({"name": name}, status_code=201)


async def job_detail(request: Request) -> Response:
    state = _state(request)
    return JSONResponse(_detail(state, _job_folder(state, request.path_params["name"])))


async def job_metrics(request: Request) -> Response:
    state = _state(request)
    return JSONResponse(loss_series(_job_folder(state, request.path_params["name"])))


async def job_preview(request: Request) -> Response:
    state = _state(request)
    path = preview_path(_job_folder(state, request.path_params["name"]))
    if not path.is_file():
        raise HTTPException(404, "no preview yet")
    return FileResponse(path, media_type="image/png", headers={"cache-control": "no-store"})


async def job_file(request: Request) -> Response:
    state = _state(request)
    workdir = _job_folder(state, request.path_params["name"])
    kind = request.path_params["kind"]
    output = output_of(workdir, read_spec(workdir))
    paths: dict[str, Path | None] = {
        "output": output,
        "compare": comparison_of(output) if output else None,
        "evaluate-plot": workdir / EVALUATE_DIR / "metrics.png",
        "log": ui_dir(workdir) / LOG_NAME,
        "config": ui_dir(workdir) / CONFIG_NAME,
        "report": workdir / "report.json",
    }
    path = paths.get(kind)
    if path is None or not path.is_file():
        raise HTTPException(404, f"no {kind} file for {workdir.name}")
    path = state.roots.check(path)  # a work folder's records may name any path: serve only the roots
    if kind in ("log", "config"):
        return PlainTextResponse(path.read_text(encoding="utf-8", errors="replace"))
    disposition = "attachment" if request.query_params.get("download") else "inline"
    return FileResponse(path, content_disposition_type=disposition, filename=path.name)


def _app_job(state: AppState, name: str) -> Path:
    """The work folder of a swap the app can run: its own, or one from the command line taken over."""
    workdir = _job_folder(state, name)
    adopt(workdir)
    return workdir


async def job_stop(request: Request) -> Response:
    state = _state(request)
    workdir = _job_folder(state, request.path_params["name"])
    if not state.runner.stop(workdir):
        raise FacetransferError(f"{workdir.name}: not running or queued")
    return JSONResponse({"ok": True})


async def job_continue(request: Request) -> Response:
    state = _state(request)
    workdir = _app_job(state, request.path_params["name"])
    body = await _json_body(request)
    minutes = forms.parse_values({"minutes": body.get("minutes")}).get("train.minutes")
    if minutes is None:
        raise FacetransferError("--minutes: how many more minutes to train? enter a number")
    forms.check_values({**forms.parse_values({"minutes": minutes})})
    if state.runner.is_running(workdir):
        raise FacetransferError(f"{workdir.name}: already running; stop it first")
    flags = ["--minutes", repr(float(minutes)), "--iterations", "none", "--total-minutes", "none"]
    state.runner.submit(Task(workdir, "continue", flags))
    return JSONResponse({"ok": True})


async def job_convert(request: Request) -> Response:
    state = _state(request)
    workdir = _app_job(state, request.path_params["name"])
    if current_step(workdir) is None:
        raise FacetransferError(f"{workdir.name}: no model yet; convert once training has saved")
    await asyncio.to_thread(state.runner.convert_now, workdir)
    return JSONResponse({"ok": True})


async def job_evaluate(request: Request) -> Response:
    state = _state(request)
    workdir = _app_job(state, request.path_params["name"])
    output = output_of(workdir, read_spec(workdir))
    if output is None or not output.is_file():
        raise FacetransferError(f"{workdir.name}: no result to evaluate yet")
    state.runner.submit(Task(workdir, "evaluate"))
    return JSONResponse({"ok": True})


async def events(request: Request) -> Response:
    """Server-sent events: the jobs list whenever it changes (checked every second)."""
    state = _state(request)

    async def stream() -> AsyncIterator[str]:
        last, last_sent = "", 0.0
        while not await request.is_disconnected():
            jobs = await asyncio.to_thread(lambda: [_summary(f) for f in find_work_folders(state.root)])
            text = json.dumps({"jobs": jobs})
            now = time.monotonic()
            if text != last:
                last, last_sent = text, now
                yield f"data: {text}\n\n"
            elif now - last_sent > EVENT_KEEPALIVE_S:
                last_sent = now
                yield ": keep-alive\n\n"
            await asyncio.sleep(EVENT_POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-store"})


# ------------------------------------------------------------------ errors


async def _facetransfer_error(request: Request, error: Exception) -> Response:
    return JSONResponse({"error": str(error)}, status_code=403 if isinstance(error, PathRefused) else 400)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return JSONResponse({"error": error.detail}, status_code=error.status_code)


async def _any_error(request: Request, error: Exception) -> Response:
    logger.exception("request %s failed", request.url.path)
    line = str(error).splitlines()[0] if str(error) else ""
    return JSONResponse({"error": f"{type(error).__name__}: {line}"}, status_code=500)


def create_app(config: UiConfig, token: str | None, runner: Runner | None = None) -> Any:
    """The ASGI app for `config` (its folder created if needed); `token` None on loopback."""
    root = Path(config.workdir).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    roots = Roots.of([root, Path.home(), *config.root])
    runner = runner or Runner()
    routes = [
        Route("/", index),
        Route("/api/options", options),
        Route("/api/browse", browse),
        Route("/api/upload", upload, methods=["PUT"]),
        Route("/api/jobs", list_jobs),
        Route("/api/jobs", create_job, methods=["POST"]),
        Route("/api/jobs/{name}", job_detail),
        Route("/api/jobs/{name}/metrics", job_metrics),
        Route("/api/jobs/{name}/preview", job_preview),
        Route("/api/jobs/{name}/files/{kind}", job_file),
        Route("/api/jobs/{name}/stop", job_stop, methods=["POST"]),
        Route("/api/jobs/{name}/continue", job_continue, methods=["POST"]),
        Route("/api/jobs/{name}/convert", job_convert, methods=["POST"]),
        Route("/api/jobs/{name}/evaluate", job_evaluate, methods=["POST"]),
        Route("/api/events", events),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            FacetransferError: _facetransfer_error,
            HTTPException: _http_error,
            Exception: _any_error,
        },
    )
    app.state.ui = AppState(config, root, roots, runner, token)
    return Guard(app, token, loopback=config.is_loopback)
