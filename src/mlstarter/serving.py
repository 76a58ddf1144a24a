"""The one FastAPI app factory that every project's `serve.py` uses.

A project writes only its own endpoints (an `APIRouter` with Pydantic request and
response models) and a function that loads its predictor from a run. `create_app` adds:

- `GET /health` and `GET /metadata` (project, run id, metrics, input schema);
- `/docs`, a form for every endpoint, that works offline;
- loading the model once, at start-up, from the newest complete run (or a named one);
  with no trained run the app refuses to start and names the command that trains one;
- one shape for every 4xx answer, documented in the schema as `Error`: `{"detail": [{"loc": [...],
  "msg": "...", "type": "..."}]}`, where `loc` says where (`["body", "applicants", 3, "age"]`), `msg`
  what is wrong and how to fix it, and `type` the kind, for programs (FastAPI's own shape for 422,
  kept for every other 4xx too); each operation's schema lists every status it can answer;
- a cap on the request body (413 before it is read; `MLSTARTER_MAX_BODY_BYTES` overrides it);
- one shape for what makes an answer less trustworthy: every prediction answer carries `warnings`, a
  list of `PredictionWarning` (`code`, `field`, `message`) for inputs unlike the training data;
- an `X-Model-Version` header (the run id) on every answer, one log line per request
  (method, path, status, latency, run id) and Prometheus metrics at `GET /metrics`, with the
  figures of the latest drift report (`make monitor`) as gauges;
- the prediction log (`mlstarter.predlog`), when the server turns it on (`make serve` does): a
  route says what to log with `log_prediction(request, inputs, output, warnings)`, and the row is
  written after the answer is sent, with the request's latency, off the request path.
No CORS headers are sent: a web page on another site cannot call the API from a browser.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_fastapi_instrumentator import Instrumentator
from pydantic import BaseModel, BeforeValidator, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from threadpoolctl import threadpool_limits

from . import page, persistence, predlog, runs
from .config import ConfigError
from .machine import usable_cores

logger = logging.getLogger("mlstarter.serving")
access_log = logging.getLogger("mlstarter.access")  # one line per request

# 2 MiB: 1000 credit-risk applicants or 50,000 characters of text as JSON, with room to spare.
# A project that takes uploads passes its own; MLSTARTER_MAX_BODY_BYTES overrides both.
DEFAULT_MAX_BODY_BYTES = 2 * 2**20


class InvalidInputError(ValueError):
    """Raised by a predictor for input that passed the schema but cannot be scored; answered with 422.

    `loc` says where the problem is, as in FastAPI's validation errors (default: the whole body);
    `kind` is the error's `type` for programs."""

    def __init__(self, message: str, loc: Sequence[str | int] = ("body",), kind: str = "invalid_input") -> None:
        super().__init__(message)
        self.loc, self.kind = list(loc), kind


class ErrorItem(BaseModel):
    """One thing wrong with a request."""

    loc: list[str | int] = Field(
        description="Where: e.g. ['body', 'applicants', 3, 'age'] or ['query', 'n']; ['body'] for the whole body"
    )
    msg: str = Field(description="What is wrong, and how to fix it")
    type: str = Field(description="The kind of error, for programs: e.g. missing, int_type, json_invalid, too_large")
    input: Any = Field(default=None, description="The value that was refused (long values cut to 200 characters)")
    ctx: dict[str, Any] | None = Field(default=None, description="The rule's parameters, e.g. {'le': 75}")


class Error(BaseModel):
    """Every 4xx answer of every project: the list of what is wrong with the request."""

    detail: list[ErrorItem] = Field(min_length=1)


class PredictionWarning(BaseModel):
    """Why this answer deserves less trust: the input is unlike what the model learned from."""

    code: str = Field(
        description="The kind, for programs: e.g. out_of_range, no_known_words, out_of_distribution",
        examples=["out_of_range"],
    )
    field: str | None = Field(
        default=None, description="The input field it is about, where there is one", examples=["credit_amount"]
    )
    message: str = Field(description="What is unusual, and what it means for the answer")


def warnings_field() -> Any:
    """The `warnings` field of every prediction answer (empty when the input looks like the training data)."""
    return Field(
        default_factory=list,
        description="Inputs unlike the training data, which make this answer less trustworthy; empty when none",
    )


# The `type` of an error that FastAPI or a project raised as a plain HTTPException with a message
HTTP_ERROR_KINDS = {400: "body_unreadable", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
                    415: "unsupported_media_type", 422: "invalid_input"}  # fmt: skip


def error_detail(status: int, detail: Any) -> list[dict[str, Any]]:
    """An HTTPException's detail in the one error shape: a message becomes a one-item list."""
    if isinstance(detail, list):
        return detail
    where = ["body"] if status in (400, 413, 415, 422) else ["path"]
    return [{"loc": where, "msg": str(detail), "type": HTTP_ERROR_KINDS.get(status, "http_error")}]


def _whole_float_to_int(value: Any) -> Any:
    """4.0 -> 4: JSON Schema counts a number with a zero fraction as an integer (and JSON clients send them)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer field as JSON Schema means it: 4 and 4.0 are taken; 4.5, true and "4" are refused (strict)
Integer = Annotated[int, BeforeValidator(_whole_float_to_int), Field(strict=True)]


def log_prediction(
    request: Request, inputs: dict[str, Any], output: dict[str, Any], warnings: Sequence[PredictionWarning] = ()
) -> None:
    """Add one prediction to the log (when the server logs): `inputs` in the form the monitor needs (for
    images and long texts, summary numbers, not the content), `output` what the model answered. Costs
    nothing when logging is off; the row is written after the answer is sent, with its latency."""
    rows = request.scope.get("state", {}).get(LOG_ROWS)
    if rows is not None:
        codes = [getattr(w, "code", str(w)) for w in warnings]
        rows.append({"time": time.time(), "route": request.url.path, "inputs": inputs, "output": output,
                     "warnings": codes})  # fmt: skip


def logging_on(request: Request) -> bool:
    """Whether this request's predictions are logged: a route can skip work that only the log needs."""
    return request.scope.get("state", {}).get(LOG_ROWS) is not None


LOG_ROWS = "mlstarter_prediction_rows"  # where a request's rows wait in its scope's state until it is answered


def enable_log(app: FastAPI, target: str, retention: predlog.Retention | None = None) -> None:
    """Log `app`'s predictions to `target` (a SQLite file or a database URL) from its start-up on."""
    app.state.log_target, app.state.log_retention = target, retention


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
    document_limits: Callable[[dict[str, Any], Any], None] | None = None,
    panel: Path | None = None,
) -> FastAPI:
    """Build the app for `project`, serving `run_id` (default: the newest complete run).

    Endpoints written as plain `def` run in a thread pool, so a slow prediction never blocks
    the event loop. `native_threads` caps the OpenMP/BLAS threads each prediction may start
    (None: no cap): with many requests in flight at once, one each avoids oversubscribing
    the cores, which otherwise slows every request down (see the serving benchmark in README.md).
    `max_body_bytes` caps a request's body (default 2 MiB; the environment variable
    `MLSTARTER_MAX_BODY_BYTES` overrides it): a larger one gets a 413 before it is read.
    `model_threads` is how many requests may run their endpoint at once (default: one per core);
    the others wait their turn in a queue. `document_limits(schema, predictor)` writes the limits that
    come from the loaded model into the OpenAPI schema (e.g. the classes it draws, the longest forecast
    its config allows), so that a request the schema allows is one the model takes. `panel` is the
    project's script for the Try-it tab of the page at `GET /` (`projects/<name>/page.js`; see `mlstarter.page`).
    """
    max_body_bytes = int(os.environ.get("MLSTARTER_MAX_BODY_BYTES") or max_body_bytes or DEFAULT_MAX_BODY_BYTES)

    def load() -> tuple[runs.Run, Any]:
        run = runs.served_run(project, run_id)  # RunNotFoundError says which command trains one
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
        app.state.live = runs.live(project, run)  # how this run came to be served, as it was at start-up
        target = getattr(app.state, "log_target", None)
        app.state.prediction_log = None
        if target is not None:
            try:
                app.state.prediction_log = predlog.PredictionLog(target, project, app.state.log_retention)
                logger.info("Logging predictions to %s", predlog.shown(target))
            except predlog.LogError as error:  # e.g. PostgreSQL down as a worker restarts: serve, without the log
                logger.warning("%s. Serving WITHOUT the prediction log until the server restarts.", error)
        try:
            with threadpool_limits(limits=native_threads):
                yield
        finally:
            if app.state.prediction_log is not None:
                app.state.prediction_log.close()  # what is queued is written before the process ends

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
    drift = DriftGauges(project)  # the latest `make monitor` report's figures
    registry.register(drift)
    # the HTTP metrics count the API's requests only: not the scrapes, nor the page at / and its files
    Instrumentator(registry=registry, excluded_handlers=["/metrics", "^/$", "^/page/"]).instrument(app)
    app.add_middleware(LogPredictions)
    app.add_middleware(ModelVersionHeader)
    app.add_middleware(AccessLog)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        scraped = registry
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # several workers: add up the counts every one wrote
            scraped = CollectorRegistry()
            multiprocess.MultiProcessCollector(scraped)
            scraped.register(drift)
        return Response(generate_latest(scraped), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", tags=["service"])
    async def health(request: Request) -> dict[str, str]:
        # async: answered on the event loop itself, not queued behind predictions in the thread pool
        return {"status": "ok", "project": project, "run_id": request.app.state.run.run_id}

    @app.get("/metadata", tags=["service"])
    def metadata(request: Request) -> dict[str, Any]:
        run, log = request.app.state.run, request.app.state.prediction_log
        return {
            "project": project,
            "run_id": run.run_id,
            "live": request.app.state.live,  # promoted (since when) or the newest complete run
            "prediction_log": {"on": False}
            if log is None
            else {
                "on": True,
                "where": predlog.shown(log.target),
                "written": log.written,
                "dropped": log.dropped,
                "failed": log.failed,
                "max_age_days": log.retention.max_age_days,
                "max_rows": log.retention.max_rows,
            },  # fmt: skip
            "metrics": run.metrics,
            "input_schema": input_model.model_json_schema(),
        }

    @app.exception_handler(InvalidInputError)
    async def invalid_input(request: Request, error: InvalidInputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": [{"loc": error.loc, "msg": str(error),
                                                                   "type": error.kind}]})  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Any:
        detail = error.detail
        # FastAPI answers a body it cannot parse with a bare "There was an error parsing the body":
        # say why (not UTF-8, nested too deeply, a number too long to convert) and what to send instead
        if error.status_code == 400 and error.__cause__ is not None and not isinstance(detail, list | dict):
            detail = f"{detail}: {error.__cause__}. Send the body as JSON in UTF-8, as the schema at /docs shows"
        if error.status_code >= 500:
            return await http_exception_handler(request, error)
        return JSONResponse({"detail": error_detail(error.status_code, detail)}, error.status_code, error.headers)

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
    page.add_routes(app, project, panel)  # GET /: try the model, see its run (after the API's routes)
    openapi = app.openapi

    def openapi_with_errors() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_errors(openapi(), max_body_bytes)
            if document_limits is not None:
                if not hasattr(app.state, "predictor"):  # before start-up: the model's limits are not known yet
                    schema, app.openapi_schema = app.openapi_schema, None
                    return schema
                document_limits(app.openapi_schema, app.state.predictor)
        return app.openapi_schema

    app.openapi = openapi_with_errors  # type: ignore[method-assign]
    return app


def document_errors(schema: dict[str, Any], max_body_bytes: int) -> None:
    """Every 4xx an operation can answer, in the schema, with the one error shape (`Error`) as its body:
    422 for a request the schema or the model refuses (FastAPI's own 422 included), 400 for a body that
    cannot be parsed and 413 for one over the cap (wherever a body is taken), and any 4xx the project
    declared on its route (`responses={415: {"description": ...}}`)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(Error.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs"))
    components["Error"] = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shape: now Error for every 4xx
        components.pop(name, None)
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operation in (op for item in schema["paths"].values() for op in item.values()):
        responses = operation["responses"]
        takes_input = "requestBody" in operation or operation.get("parameters")
        if takes_input:
            responses.setdefault("422", {"description": "The request breaks the schema, or the model cannot score it"})
        if "requestBody" in operation:
            responses["413"] = {"description": f"The body is over {max_body_bytes:,} bytes"}
            unreadable = "The body cannot be parsed: not JSON (not UTF-8, nested too deeply) or not a well-formed form"
            responses.setdefault("400", {"description": unreadable})
        for status, response in responses.items():
            if status.startswith("4"):
                response["content"] = error_body


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
            detail = error_detail(413, self.message(f"{int(declared):,} bytes"))
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


class LogPredictions:
    """Hand the rows a request's route logged (`log_prediction`) to the prediction log once it is answered,
    with the request's latency. The request only appends to a list; the log's own thread writes."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        log = getattr(scope["app"].state, "prediction_log", None) if scope["type"] == "http" else None
        if log is None:
            await self.app(scope, receive, send)
            return
        start, status, rows = time.perf_counter(), 500, []
        scope.setdefault("state", {})[LOG_ROWS] = rows  # copies of the scope share this dict

        async def send_and_note_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_and_note_status)
        if rows and status < 400:  # only what was answered: a refused request has no prediction
            latency_ms = round((time.perf_counter() - start) * 1000, 2)
            run_id = scope["app"].state.run.run_id
            log.put([{**row, "latency_ms": latency_ms, "run_id": run_id} for row in rows])


class DriftGauges:
    """The latest drift report of `make monitor` as Prometheus gauges: `mlstarter_drift_verdict` (0 stable,
    1 watch, 2 act), and per check its statistic (`mlstarter_drift_statistic{check="age",statistic="psi"}`) and
    p-value. Read from the report's JSON when /metrics is scraped (none before the first report)."""

    VERDICTS = {"stable": 0, "watch": 1, "act": 2}

    def __init__(self, project: str) -> None:
        self.project = project

    def collect(self) -> Any:
        report = predlog.latest_report(self.project)
        if report is None:
            return
        verdict = GaugeMetricFamily(
            "mlstarter_drift_verdict", "Latest make monitor verdict: 0 stable, 1 watch, 2 act", labels=["run_id"]
        )
        verdict.add_metric([report["run_id"]], self.VERDICTS.get(report["verdict"], -1))
        yield verdict
        when = GaugeMetricFamily("mlstarter_drift_report_time_seconds", "When the latest drift report was made")
        when.add_metric([], report["time"])
        yield when
        rows = GaugeMetricFamily("mlstarter_drift_predictions", "Logged predictions the latest report compared")
        rows.add_metric([], report["predictions"])
        yield rows
        statistic = GaugeMetricFamily(
            "mlstarter_drift_statistic", "Each check's statistic (e.g. PSI)", labels=["check", "statistic"]
        )
        p_value = GaugeMetricFamily("mlstarter_drift_p_value", "Each check's test p-value", labels=["check", "test"])
        for check in report["checks"]:
            if check.get("value") is not None:
                statistic.add_metric([check["name"], check["statistic"]], check["value"])
            if check.get("p_value") is not None:
                p_value.add_metric([check["name"], check["test"]], check["p_value"])
        yield statistic
        yield p_value
