"""The page at `GET /`: try the served model, and see the run behind it, from the same app as the API.

    $ make serve PROJECT=credit_risk        # then open http://127.0.0.1:8000/

Two tabs. **Try it** is the project's own panel, a small script in its folder (`projects/<name>/page.js`)
that calls the project's JSON API from the page; **The model** shows the served run: its metrics (with the
baselines its model card states), plots, model card, config and environment, the project's other runs, and
the data and monitoring reports where `make explore` and `make monitor` wrote them.

Everything the page needs comes from the package and the runs folder: no CDN, no web fonts, no build step.
The HTML, CSS and JavaScript are in `src/mlstarter/page/`, written by hand to be read and changed. The
contract between the core page and a project's panel is at the top of `page/page.js`.

Safety. The page reads files only through routes that map a known name to a known file: the assets of
`page/` by exact name, the panel, the images of a run's `plots/` folder (and of the reports) and the files
of its `examples/` folder, looked up by exact match in a listing of that folder (plain files only: a symbolic
link, which could point anywhere, is left out). No part of a request is ever joined onto a path, so `../` or an
absolute path is simply a name that is not in the listing: a 404. Markdown is rendered with raw HTML off,
so a model card can never put a script on the page. The page's routes answer with a Content-Security-Policy
that allows only this server's own origin, and `X-Content-Type-Options: nosniff`; the API's own routes
(`/predict`, `/docs`, ...) are left as they were, so the page costs them nothing (nor do its requests count
in the API's Prometheus metrics: serving.py leaves them out).

One bad file never takes the page down: a run's JSON file cut short or a model card that is not UTF-8 is
shown as unreadable (in the runs table, or as a note), and everything else still shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

from . import paths, predlog, runs

ASSETS_DIR = Path(__file__).parent / "page"
PANEL_NAME = "page.js"  # a project's panel: projects/<name>/page.js, passed to serving.create_app(panel=...)
NO_PANEL = ASSETS_DIR / "no-panel.js"  # served as the panel of a project that has none: it points to /docs

# The page's own files, by the only names a request can ask for (a name not here is a 404; index.html is GET /)
ASSETS = {"page.js": "text/javascript", "page.css": "text/css", "no-panel.js": "text/javascript"}
# The kinds of image a run's plots/ folder may hold and the page shows (no SVG: an SVG file can carry a script)
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp"}  # fmt: skip
# A run's examples/ folder: inputs training saved for the page to offer (an X-ray to click, a price file)
EXAMPLE_TYPES = {**IMAGE_TYPES, ".csv": "text/csv", ".json": "application/json", ".txt": "text/plain"}

# Only this server's origin, for everything; images may also be data: or blob: URLs the page's script makes
# (e.g. a picked file shown before it is sent). No inline scripts or styles: JS and CSS live in files.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",  # a file is only ever what its Content-Type says
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # re-checked on each load: a new run or an edited panel shows at once
}
MAX_RUNS = 50  # rows of the runs table: the newest; its total says how many there are


class PageRoute(APIRoute):
    """A route of the page: its answers carry the page's security headers (and only its answers do)."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def with_headers(request: Request) -> Response:
            response = await handler(request)
            response.headers.update(HEADERS)
            return response

        return with_headers


def add_routes(app: FastAPI, project: str, panel: Path | None) -> None:
    """Add the page's routes to `app` (after the API's own, so that routing /predict never passes them first).

    `panel` is the project's panel script (None: the page's Try-it tab points to /docs instead). The routes
    are left out of the OpenAPI schema: they are the page's, not the API's contract."""
    if panel is not None and not Path(panel).is_file():
        raise FileNotFoundError(
            f"The panel of {project}'s page, {panel}, is not a file. Write it (the contract is at the top of "
            f"{ASSETS_DIR / 'page.js'}), or leave out panel= in serve.py: the page then points to /docs."
        )
    page = APIRouter(route_class=PageRoute, include_in_schema=False)

    @page.get("/")
    def index() -> Response:
        return FileResponse(ASSETS_DIR / "index.html", media_type="text/html")

    @page.get("/page/panel.js")
    def panel_script() -> Response:
        return FileResponse(panel if panel is not None else NO_PANEL, media_type="text/javascript")

    @page.get("/page/run")
    def run_summary(request: Request) -> Response:
        """The served run: metrics, the model card (and its metrics section), config, environment, plots; and
        `unreadable`: the files that are there but could not be read (the page shows what was wrong)."""
        run: runs.Run = request.app.state.run
        files = {name: load(run.path / name) for name in ("MODEL_CARD.md", "metrics.json", "config.json",
                                                          "environment.json")}  # fmt: skip
        card, metrics, config, environment = (data for data, _ in files.values())
        plots = image_files(run.path / "plots")
        to_url = image_urls(plots, "/page/run/plots/")
        return JSONResponse({
            "project": project,
            "run_id": run.run_id,
            "live": request.app.state.live,
            "dry_run": bool(as_dict(environment).get("dry_run")),
            "metrics": as_dict(metrics),
            "headline": None if card is None else headline(card, to_url),
            "card_html": None if card is None else render_markdown(card, to_url),
            "config": as_dict(config),
            "environment": as_dict(environment),
            "plots": sorted(plots),
            "examples": sorted(listing(run.path / "examples", EXAMPLE_TYPES)),
            "unreadable": [problem for _, problem in files.values() if problem],
        })  # fmt: skip

    @page.get("/page/run/plots/{name}")
    def run_plot(request: Request, name: str) -> Response:
        return listed_file(image_files(request.app.state.run.path / "plots"), name, IMAGE_TYPES)

    @page.get("/page/run/examples/{name}")
    def run_example(request: Request, name: str) -> Response:
        return listed_file(listing(request.app.state.run.path / "examples", EXAMPLE_TYPES), name, EXAMPLE_TYPES)

    @page.get("/page/runs")
    def run_list(request: Request) -> Response:
        """The newest MAX_RUNS complete runs of the project, newest first: id, date, kind, numbers of its
        metrics.json (or, for a run with a file that cannot be read, `unreadable`: which, and why)."""
        served = request.app.state.run.run_id
        record = as_dict(load(runs.project_runs_dir(project) / runs.PROMOTED)[0])
        every = runs.complete_runs(project)
        listed = []
        for run in reversed(every[-MAX_RUNS:]):
            row = {"run_id": run.run_id, "served": run.run_id == served, "promoted": run.run_id == record.get("run_id")}
            files = {name: load(run.path / name) for name in ("config.json", "environment.json", "metrics.json")}
            problems = [problem for _, problem in files.values() if problem]
            if problems:
                listed.append({**row, "unreadable": "; ".join(problems)})
                continue
            config, environment, metrics = (as_dict(data) for data, _ in files.values())
            model = as_dict(config.get("model"))
            listed.append({
                **row,
                "created": environment.get("created"),
                "kind": model.get("kind"),
                "dry_run": bool(environment.get("dry_run")),
                # the numbers only (a metrics.json may also hold lists and tables): the page picks its columns
                "metrics": {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)},
            })  # fmt: skip
        return JSONResponse({"project": project, "served": served, "total": len(every), "runs": listed})

    @page.get("/page/reports")
    def reports() -> Response:
        """The data report (`make explore`) and the drift report (`make monitor`), where they were written: None
        for one not written yet, `unreadable` (why) for one whose report.md cannot be read."""
        found = {}
        for key, (title, folder) in report_folders(project).items():
            text, problem = load(folder / "report.md")
            if text is None:
                found[key] = {"title": title, "unreadable": problem} if problem else None
                continue
            plots = image_files(folder / "plots")
            found[key] = {"title": title, "html": render_markdown(text, image_urls(plots, f"/page/reports/{key}/plots/")),
                          "plots": sorted(plots)}  # fmt: skip
        return JSONResponse(found)

    @page.get("/page/reports/{report}/plots/{name}")
    def report_plot(report: str, name: str) -> Response:
        folders = report_folders(project)
        if report not in folders:
            return not_found("report", f"no report {report!r}: the reports are {', '.join(folders)}")
        return listed_file(image_files(folders[report][1] / "plots"), name, IMAGE_TYPES)

    @page.get("/page/{name}")  # last: /page/runs and /page/reports are routes of their own, not files
    def asset(name: str) -> Response:
        if name not in ASSETS:
            return not_found("name", f"the page has no file {name!r}")
        return FileResponse(ASSETS_DIR / name, media_type=ASSETS[name])

    app.include_router(page)


def report_folders(project: str) -> dict[str, tuple[str, Path]]:
    """The reports the page shows, by the name in their routes: (title, folder holding report.md and plots/)."""
    return {
        "explore": ("Data report (make explore)", paths.explore_dir(project)),
        "monitoring": ("Monitoring report (make monitor)", predlog.report_dir(project)),
    }


def listing(folder: Path, types: dict[str, str]) -> dict[str, Path]:
    """The files of these types directly in `folder`, by file name: the only names a request can ask for.
    Plain files only: a symbolic link could point anywhere (a run's config, /etc/passwd), so it is left out."""
    if not folder.is_dir():
        return {}
    return {p.name: p for p in folder.iterdir() if p.suffix.lower() in types and p.is_file() and not p.is_symlink()}


def image_files(folder: Path) -> dict[str, Path]:
    return listing(folder, IMAGE_TYPES)


def listed_file(files: dict[str, Path], name: str, types: dict[str, str]) -> Response:
    """The file listed under exactly `name`, or a 404: the name is looked up, never joined onto a folder."""
    if name not in files:
        return not_found("name", f"no file {name!r} here; there are: {', '.join(sorted(files)) or 'none'}")
    path = files[name]
    return FileResponse(path, media_type=types[path.suffix.lower()])


def not_found(field: str, message: str) -> JSONResponse:
    """A 404 in the API's one error shape (serving.Error)."""
    return JSONResponse({"detail": [{"loc": ["path", field], "msg": message, "type": "not_found"}]}, status_code=404)


def load(path: Path) -> tuple[Any, str | None]:
    """(what the file holds, None): its text, parsed for a .json file; (None, None) when it is missing (a run
    saved before the file existed); (None, "<name>: <what was wrong>") when it cannot be read: not UTF-8, cut
    short, not readable by this user. One bad file then shows as such, and the page shows everything else."""
    if not path.is_file():
        return None, None
    try:
        text = path.read_text(encoding="utf-8")
        return (json.loads(text) if path.suffix == ".json" else text), None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"{path.name}: {error}"


def as_dict(data: Any) -> dict[str, Any]:
    """`data` if it is a JSON object, else {} (a file that was missing, unreadable, or held a list)."""
    return data if isinstance(data, dict) else {}


def image_urls(files: dict[str, Path], prefix: str) -> Callable[[str], str | None]:
    """For Markdown images: `plots/roc.png` (the way a report names its plot) -> its page URL, if it is one of
    `files`; None for anything else, which the page then shows as its alt text, never fetched."""

    def to_url(src: str) -> str | None:
        name = src.removeprefix("./").removeprefix("plots/")
        return prefix + name if src.removeprefix("./").startswith("plots/") and name in files else None

    return to_url


def render_markdown(text: str, image_url: Callable[[str], str | None], demote: int = 2) -> str:
    """Markdown -> HTML with raw HTML off (a `<script>` in a card shows as text), tables on, and every image
    pointed at a page route by `image_url` or left out (its alt text stays): the page never loads from elsewhere.
    Headings go `demote` levels down (# -> <h3>), below the page's own <h1> and section <h2>."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")

    def render_image(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        url = image_url(token.attrGet("src") or "")
        if url is None:
            return escapeHtml(token.content)  # the alt text
        token.attrSet("src", url)
        return self.image(tokens, idx, options, env)

    def render_heading(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        token.tag = f"h{min(6, int(token.tag[1]) + demote)}"
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("image", render_image)
    md.add_render_rule("heading_open", render_heading)
    md.add_render_rule("heading_close", render_heading)
    return md.render(text)


def headline(card: str, image_url: Callable[[str], str | None]) -> dict[str, str] | None:
    """The model card's section of results, the metrics with the baselines the card states them against: its
    first `## ` section whose heading says metrics, evaluation or results; None when none does (the page then
    shows the card only once, in full)."""
    for section in card.split("\n## ")[1:]:
        title, _, body = section.partition("\n")
        if any(word in title.lower() for word in ("metric", "evaluation", "result")):
            return {"title": title.strip(), "html": render_markdown(body, image_url)}
    return None
