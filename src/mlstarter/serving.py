"""The one FastAPI app factory that every project's `serve.py` uses.

A project writes only its own endpoints (an `APIRouter` with Pydantic request and
response models) and a function that loads its predictor from a run. `create_app` adds:

- `GET /health` and `GET /metadata` (project, run id, metrics, input schema);
- `/docs`, a form for every endpoint, that works offline;
- loading the model once, at start-up, from the newest complete run (or a named one);
  with no trained run the app refuses to start and names the command that trains one;
- 422 answers that name the offending field for any malformed request;
- a cap on the request body (413 before it is read; `MLSTARTER_MAX_BODY_BYTES` overrides it);
- an `X-Model-Version` header (the run id) on every answer, one log line per request
  (method, path, status, latency, run id) and Prometheus metrics at `GET /metrics`.
No CORS headers are sent: a web page on another site cannot call the API from a browser.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_fastapi_instrumentator import Instrumentator
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from threadpoolctl import threadpool_limits

from . import persistence, runs
from .config import ConfigError
from .machine import usable_cores

logger = logging.getLogger("mlstarter.serving")
access_log = logging.getLogger("mlstarter.access")  # one line per request

# 2 MiB: 1000 credit-risk applicants or 50,000 characters of text as JSON, with room to spare.
# A project that takes uploads passes its own; MLSTARTER_MAX_BODY_BYTES overrides both.
DEFAULT_MAX_BODY_BYTES = 2 * 2**20


class InvalidInputError(ValueError):
    """Raised by a predictor for input that passed the schema but cannot be scored; answered with 422."""


def get_predictor(request: Request) -> Any:
    """FastAPI dependency: the predictor loaded at start-up."""
    return request.app.state.predictor


def create_app(
    *,
    project: str,
    router: Any,
    load_predictor: Callable[[runs.Run], Any],
    input_model: type[BaseModel],
    run_id: str | None = None,
    description: str = "",
    native_threads: int | None = 1,
    max_body_bytes: int | None = None,
    model_threads: int | None = None,
) -> FastAPI:
    """Build the app for `project`, serving `run_id` (default: the newest complete run).

    Endpoints written as plain `def` run in a thread pool, so a slow prediction never blocks
    the event loop. `native_threads` caps the OpenMP/BLAS threads each prediction may start
    (None: no cap): with many requests in flight at once, one each avoids oversubscribing
    the cores, which otherwise slows every request down (see the serving benchmark in README.md).
    `max_body_bytes` caps a request's body (default 2 MiB; the environment variable
    `MLSTARTER_MAX_BODY_BYTES` overrides it): a larger one gets a 413 before it is read.
    `model_threads` is how many requests may run their endpoint at once (default: one per core);
    the others wait their turn in a queue.
    """
    max_body_bytes = int(os.environ.get("MLSTARTER_MAX_BODY_BYTES") or max_body_bytes or DEFAULT_MAX_BODY_BYTES)

    def load() -> tuple[runs.Run, Any]:
        run = runs.latest_run(project, run_id)  # RunNotFoundError says which command trains one
        return run, load_safely(load_predictor, run)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not hasattr(app.state, "predictor"):  # not loaded yet by `preload`
            app.state.run, app.state.predictor = load()
        run = app.state.run
        logger.info("Serving %s run %s from %s (process %d)", project, run.run_id, run.path, os.getpid())
        if native_threads is not None and "torch" in sys.modules:  # torch keeps its own thread pool
            sys.modules["torch"].set_num_threads(native_threads)
        # At most this many requests run the model at once (anyio's default is 40): more threads than
        # cores only fight over the GIL, and the event loop, which answers /health, loses that fight.
        anyio.to_thread.current_default_thread_limiter().total_tokens = model_threads or usable_cores()
        with threadpool_limits(limits=native_threads):
            yield

    limits = (
        f"\n\n**Limits.** A request body may be up to {max_body_bytes:,} bytes (a larger one gets a 413 "
        "before it is read); the sizes of batches and texts are in each schema below. Every answer carries "
        "the run id of the model in its `X-Model-Version` header. Metrics for Prometheus: `GET /metrics`."
    )
    # FastAPIOffline is FastAPI with the /docs page's scripts served from the package, not a CDN
    app = FastAPIOffline(title=f"mlstarter · {project}", description=description + limits, lifespan=lifespan)
    app.state.load = load
    # Middleware, innermost first: each add_middleware wraps everything added before it.
    app.add_middleware(CurlFormAsJson)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    registry = CollectorRegistry()  # one per app: counts for this app only, even with several in a process
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    Instrumentator(registry=registry, excluded_handlers=["/metrics"]).instrument(app).expose(
        app, include_in_schema=False
    )
    app.add_middleware(ModelVersionHeader)
    app.add_middleware(AccessLog)

    @app.get("/health", tags=["service"])
    async def health(request: Request) -> dict[str, str]:
        # async: answered on the event loop itself, not queued behind predictions in the thread pool
        return {"status": "ok", "project": project, "run_id": request.app.state.run.run_id}

    @app.get("/metadata", tags=["service"])
    def metadata(request: Request) -> dict[str, Any]:
        run = request.app.state.run
        return {
            "project": project,
            "run_id": run.run_id,
            "metrics": run.metrics,
            "input_schema": input_model.model_json_schema(),
        }

    @app.exception_handler(InvalidInputError)
    async def invalid_input(request: Request, error: InvalidInputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(error)})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Any:
        # FastAPI answers a body it cannot parse with a bare "There was an error parsing the body":
        # say why (not UTF-8, nested too deeply, a number too long to convert)
        if error.status_code == 400 and error.__cause__ is not None and not isinstance(error.detail, list | dict):
            error = StarletteHTTPException(400, f"{error.detail}: {error.__cause__}", headers=error.headers)
        return await http_exception_handler(request, error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the bad input, and NaN or Infinity in it cannot be written as JSON
        # and a 5 MB bad input should not come back whole: long texts are cut to their first 200 characters
        # and a bad input that is not UTF-8 (a raw body sent as octet-stream) is echoed with its bytes escaped
        errors = list(error.errors())
        shown = [json_safe(jsonable_encoder(json_safe(e))) for e in errors[:MAX_ERRORS]]
        if len(errors) > MAX_ERRORS:
            more = f"… and {len(errors) - MAX_ERRORS:,} more errors like these"
            shown.append({"type": "too_many_errors", "loc": ["body"], "msg": more, "input": None})
        return JSONResponse(status_code=422, content={"detail": shown})

    app.include_router(router)
    openapi = app.openapi

    def openapi_with_413() -> dict[str, Any]:  # document the 413 beside each endpoint that takes a body
        if app.openapi_schema is None:
            for operation in (op for path in openapi()["paths"].values() for op in path.values()):
                if "requestBody" in operation:
                    operation["responses"]["413"] = {"description": f"The body is over {max_body_bytes:,} bytes"}
        return app.openapi_schema

    app.openapi = openapi_with_413  # type: ignore[method-assign]
    return app


def load_safely(load_predictor: Callable[[runs.Run], Any], run: runs.Run) -> Any:
    """`load_predictor(run)`, with any failure (a missing, truncated or altered file) as one clear ModelLoadError."""
    try:
        run.verify()  # every file as training wrote it: nothing missing, truncated or altered
        return load_predictor(run)
    except persistence.ModelLoadError:
        raise
    except ConfigError as error:  # the files are intact, but this code refuses the run's settings: say which
        raise persistence.ModelLoadError(
            f"Run {run.run_id} of {run.project} has a config this code refuses: {error}. Train a new run "
            f"(make train PROJECT={run.project}) or serve another one (RUN=<run id>)."
        ) from error
    except Exception as error:  # whatever broke, the answer to the user is the same
        logger.debug("Loading %s failed", run.path, exc_info=True)
        raise persistence.ModelLoadError(
            f"The model of {run.project} run {run.run_id} cannot be loaded ({type(error).__name__}: {error}). "
            f"Its files in {run.path} are missing, truncated or changed since training. Train a new run "
            f"(make train PROJECT={run.project}) or serve another one (RUN=<run id>)."
        ) from error


def preload(app: FastAPI) -> runs.Run:
    """Load the model into `app` now, before a server starts, so that a missing or damaged model stops
    `mlstarter serve` with one clear line; the app's start-up then uses this model instead of loading it again."""
    app.state.run, app.state.predictor = app.state.load()
    return app.state.run


MAX_ECHO = 200  # characters of a bad input repeated in a 422 answer
MAX_ECHO_ITEMS = 20  # items of a list repeated in a 422 answer
MAX_ERRORS = 50  # errors listed in a 422 answer (a batch of 1000 bad items would have 20,000)


def json_safe(value: Any) -> Any:
    """Make the echo of a bad input writable as JSON: NaN and infinities become their names, long
    strings are cut, unpaired surrogates are escaped."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3 * MAX_ECHO:
        return f"an integer of about {int(value.bit_length() * math.log10(2)):,} digits"
    if isinstance(value, bytes):  # a raw body: shown as text, any byte that is not UTF-8 escaped
        value = value.decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        if len(value) > MAX_ECHO:
            suffix = f"… ({len(value):,} characters)"
            value = value[: MAX_ECHO - len(suffix)] + suffix  # MAX_ECHO long: cutting it again changes nothing
        # an unpaired surrogate ("\ud800" in the request's JSON) cannot be written as UTF-8: escape it
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) <= MAX_ECHO_ITEMS:
            return [json_safe(v) for v in value]
        # MAX_ECHO_ITEMS long, the last saying how many there were: cutting it again changes nothing
        return [json_safe(v) for v in value[: MAX_ECHO_ITEMS - 1]] + [f"… ({len(value):,} items)"]
    return value


class CurlFormAsJson:
    """Read `application/x-www-form-urlencoded` POST bodies as JSON.

    `curl -d @example.json URL` sends JSON but labels it as a form, unless you add
    `-H 'Content-Type: application/json'`. Our endpoints take JSON only, so we read such
    a body as JSON; if it is not JSON, the answer is a 422 that says so.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = scope["headers"]
            if any(k == b"content-type" and v.startswith(b"application/x-www-form-urlencoded") for k, v in headers):
                swapped = [(k, b"application/json") if k == b"content-type" else (k, v) for k, v in headers]
                scope = {**scope, "headers": swapped}
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Answer 413 to a request body over `max_bytes`, before reading it.

    A declared Content-Length over the cap is refused at once, without reading a byte; a
    chunked body is counted as it arrives and refused as soon as it goes over.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def message(self, size: str) -> str:
        return (
            f"the request body is {size}; this server takes at most {self.max_bytes:,} bytes. "
            "Send a smaller file or fewer items per request."
        )

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            detail = self.message(f"{int(declared):,} bytes")
            await JSONResponse({"detail": detail}, status_code=413, headers={"connection": "close"})(
                scope, receive, send
            )
            return
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # FastAPI passes an HTTPException raised while it reads the body on to its handler: a JSON 413
                raise HTTPException(
                    413, self.message(f"over {self.max_bytes:,} bytes"), headers={"connection": "close"}
                )
            return message

        await self.app(scope, counted, send)


class ModelVersionHeader:
    """Add `X-Model-Version: <run id>` to every answer, so a client can tell which model answered."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: dict) -> None:
            run = getattr(scope["app"].state, "run", None)
            if message["type"] == "http.response.start" and run is not None:
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-model-version", run.run_id.encode())],
                }
            await send(message)

        await self.app(scope, receive, send_with_version)


class AccessLog:
    """One log line per request: `method=POST path=/predict status=200 latency_ms=4.1 run_id=...`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500  # 500 unless an answer starts: an error escaped

        async def send_and_note_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            run = getattr(scope["app"].state, "run", None)
            access_log.info(
                "method=%s path=%s status=%d latency_ms=%.1f run_id=%s",
                scope["method"],
                scope.get("raw_path", scope["path"].encode()).decode("latin-1"),  # as sent: %-escaped, no spaces
                status,
                (time.perf_counter() - start) * 1000,
                run.run_id if run is not None else "-",
            )
