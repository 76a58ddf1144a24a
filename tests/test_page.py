"""The page at GET / in a real browser: Chromium, driven by Playwright, against `mlstarter serve` of a dry run.

    $ CI=true .venv/bin/python -m pytest -q tests/test_page.py

One test per project's panel. Each opens the page, waits for the example's result, makes one bad request
(the API's own message must show), opens the model tab (metrics and plots) and checks, throughout, that
the page logged no console error, threw nothing, had no request fail and asked only its own server. Two more
make the server fail on purpose (Playwright answers in its place): a plain-text 500, a 413, no answer at all,
answers that come late or never: the page must say what went wrong, and show all it can.
Screenshots and the time from a click to its result (timings.json, reported, never asserted) are written
to the `page_output` folder (tests/conftest.py): <pytest's temp folder>/page/.

Without Playwright or Chromium the tests skip, saying which is missing; under CI=true they fail instead.
The fixtures `browser` (one Chromium per module), `page_server` (one real server per project, every project's
started at once) and `page_output` are in conftest.py;
the helpers below (`open_page`, `Watched`, `click_to_result`, ...) are for every project's test.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2 as httpx

from mlstarter import runs

REPO = Path(__file__).resolve().parents[1]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}  # an iPhone SE's width in CSS pixels
TIMEOUT_MS = 20_000  # for a result to show: a dry-run model answers in milliseconds, a loaded machine is slower


class Watched:
    """What happened on a page that should not: console errors, uncaught exceptions, failed requests, answers
    of 400 and over, requests to any origin but the server's own. `check()` fails the test on any of them."""

    def __init__(self, page: Any, base_url: str):
        self.page, self.base_url = page, base_url
        self.console: list[str] = []
        self.exceptions: list[str] = []
        self.failed: list[str] = []
        self.refused: list[tuple[int, str]] = []
        self.requests: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.console.append(message.text))
        page.on("pageerror", lambda error: self.exceptions.append(str(error)))
        page.on("requestfailed", lambda request: self.failed.append(f"{request.url}: {request.failure}"))
        page.on("request", lambda request: self.requests.append(request.url))
        page.on(
            "response", lambda response: response.status >= 400 and self.refused.append((response.status, response.url))
        )

    def check(self, refused: Sequence[int] = (), failed: int = 0) -> None:
        """Nothing went wrong, but for the answers `refused` lists, in order (e.g. [422]: the bad input the test
        sent on purpose), which Chromium also logs to the console as a resource that failed to load, and the
        `failed` requests the test made fail on purpose (route.abort(): net::ERR_FAILED)."""
        assert not self.exceptions, f"uncaught exceptions on the page: {self.exceptions}"
        assert len(self.failed) == failed, f"requests that failed: {self.failed}"
        assert [status for status, _ in self.refused] == list(refused), f"answers >= 400: {self.refused}"
        expected = tuple(f"the server responded with a status of {status}" for status in refused)
        expected += ("net::ERR_FAILED",) if failed else ()
        console = [text for text in self.console if not (expected and any(e in text for e in expected))]
        assert not console, f"console errors: {console}"
        elsewhere = [url for url in self.requests if not url.startswith((self.base_url + "/", "data:", "blob:"))]
        assert not elsewhere, f"requests to another origin than {self.base_url}: {elsewhere}"


@contextlib.contextmanager
def open_page(
    browser: Any,
    base_url: str,
    viewport: dict[str, int] = DESKTOP,
    path: str = "/",
    routes: dict[str, Callable[[Any], None]] | None = None,
) -> Iterator[Watched]:
    """A fresh browser context (no cache, no cookies) at `base_url + path`, watched from its first request.
    `routes`: {URL glob: handler(route)} set before the page loads, to answer in the server's place
    (route.fulfill(status=500, ...)), fail (route.abort()), or hold a request (keep the route, continue_() later)."""
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        for url, handler in (routes or {}).items():
            page.route(url, handler)
        watched = Watched(page, base_url)
        page.goto(base_url + path)
        yield watched
    finally:
        context.close()


def result_count(page: Any) -> str | None:
    """The `data-result` of the panel's result (a new value each time a result is shown; None before the first)."""
    return page.evaluate("() => document.querySelector('[data-result]')?.getAttribute('data-result') ?? null")


def wait_for_new_result(page: Any, before: str | None) -> None:
    page.wait_for_function(
        "before => { const r = document.querySelector('[data-result]'); return r && r.getAttribute('data-result') !== before; }",
        arg=before,
    )


def click_to_result(page: Any, locator: Any) -> float:
    """Click `locator` and wait for the next result to show; the milliseconds it took, as a user sees them."""
    before = result_count(page)
    start = time.perf_counter()
    locator.click()
    wait_for_new_result(page, before)
    return round((time.perf_counter() - start) * 1000, 1)


def api_message(base_url: str, path: str, **request: Any) -> str:
    """The `msg` of the API's first error for this request, as the page must show it."""
    response = httpx.post(base_url + path, timeout=30, **request)
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["msg"]


def check_model_tab(page: Any, runs_dir: Path, project: str) -> None:
    """The model tab shows the served run's metrics (the model card's section of them) and every plot, loaded."""
    tab = page.get_by_role("tab", name="The model")
    tab.click()
    assert tab.get_attribute("aria-selected") == "true"
    model = page.locator("#model")
    model.locator("table.runs").wait_for()
    run = runs.Run(project, *_served(runs_dir, project))
    assert model.locator(".headline table").count() >= 1, "the model card's metrics, as a table"
    plots = sorted(p.name for p in (run.path / "plots").glob("*.png"))
    assert plots, f"the evaluated dry run of {project} has plots"
    images = model.locator(".plots img")
    assert images.count() == len(plots)
    page.wait_for_function("() => [...document.querySelectorAll('.plots img')].every(i => i.complete)")
    widths = images.evaluate_all("images => images.map(i => i.naturalWidth)")
    assert all(width > 0 for width in widths), "every plot loaded"
    assert model.locator("table.runs tbody tr.served th").inner_text() == run.run_id


def _served(runs_dir: Path, project: str) -> tuple[str, Path]:
    [run] = [p for p in (runs_dir / project).iterdir() if p.is_dir() and not p.name.startswith(".")]
    return run.name, run


def assert_labelled(page: Any) -> None:
    """Every control has a name a screen reader reads: a <label>, aria-label(ledby), or a button's own text."""
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                         && !c.getAttribute('aria-labelledby') && !(c.tagName === 'BUTTON' && c.textContent.trim()))
            .map(c => c.outerHTML.slice(0, 120))"""
    )
    assert not unnamed, f"controls without a label: {unnamed}"


def record_timing(output: Path, project: str, what: str, value: float) -> None:
    """Add one measured time to timings.json (reported, not asserted: it depends on the machine and its load)."""
    path = output / "timings.json"
    timings = json.loads(path.read_text()) if path.is_file() else {}
    timings.setdefault(project, {})[what] = value
    path.write_text(json.dumps(timings, indent=2) + "\n")


def fits_width(page: Any) -> bool:
    """Nothing wider than the window: no sideways scrolling at a phone's width."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_credit_risk_page(browser, page_server, page_runs, page_output: Path):
    base = page_server("credit_risk")
    start = time.perf_counter()
    schema = httpx.get(base + "/metadata", timeout=30).json()["input_schema"]
    example = schema["examples"][0]
    with open_page(browser, base) as watched:
        page = watched.page
        result = page.locator("[data-result]")
        result.wait_for()  # the example applicant, scored as the page loads
        assert page.title() == "credit_risk · mlstarter"
        assert result.locator(".headline").inner_text() in ("Approve", "Reject")
        assert "P(default)" in result.inner_text() and result.locator("svg.chart").count() == 2  # gauge, factors

        # the form is the API's schema: a select per category (its values), a bounded number per integer
        housing = page.get_by_label("Housing", exact=True)
        assert housing.evaluate("s => [...s.options].map(o => o.value)") == schema["properties"]["housing"]["enum"]
        age = page.get_by_label("Age", exact=True)
        assert (age.get_attribute("min"), age.get_attribute("max")) == (
            str(schema["properties"]["age"]["minimum"]),
            str(schema["properties"]["age"]["maximum"]),
        )
        assert age.input_value() == str(example["age"]) and housing.input_value() == example["housing"]
        assert_labelled(page)

        milliseconds = click_to_result(page, page.get_by_role("button", name="Score"))
        record_timing(page_output, "credit_risk", "click_to_result_ms", milliseconds)

        # change one field: the answer is scored again and says what moved
        other = next(v for v in schema["properties"]["housing"]["enum"] if v != example["housing"])
        before = result_count(page)
        housing.select_option(other)
        wait_for_new_result(page, before)
        assert f"Housing {example['housing']} → {other}: P(default)" in result.locator(".change").inner_text()
        page.screenshot(path=page_output / "credit_risk-try.png", full_page=True)

        # a bad input: the API's own message, in an alert, and the field marked
        too_old = schema["properties"]["age"]["maximum"] + 100
        message = api_message(base, "/predict?explain=true", json={**example, "housing": other, "age": too_old})
        age.fill(str(too_old))  # scored as typed (debounced): no need to press Score
        alert = page.get_by_role("alert").filter(has_text=message)
        alert.wait_for()
        assert alert.inner_text() == f"age: {message}"
        assert age.get_attribute("aria-invalid") == "true"
        watched.check(refused=[422])

        # keyboard: the tabs are buttons; the arrow keys move between them
        page.get_by_role("tab", name="Try it").focus()
        page.keyboard.press("ArrowRight")
        assert page.get_by_role("tab", name="The model").get_attribute("aria-selected") == "true"
        page.keyboard.press("ArrowLeft")
        check_model_tab(page, page_runs("credit_risk"), "credit_risk")
        page.screenshot(path=page_output / "credit_risk-model.png", full_page=True)
        watched.check(refused=[422])

    # at a phone's width: one column, nothing cut off sideways, on either tab
    with open_page(browser, base, viewport=PHONE) as watched:
        watched.page.locator("[data-result]").wait_for()
        assert fits_width(watched.page)
        watched.page.screenshot(path=page_output / "credit_risk-phone.png", full_page=True)
        watched.page.get_by_role("tab", name="The model").click()
        watched.page.locator("#model table.runs").wait_for()
        assert fits_width(watched.page)
        watched.page.screenshot(path=page_output / "credit_risk-phone-model.png", full_page=True)
        watched.check()
    record_timing(page_output, "credit_risk", "browser_test_s", round(time.perf_counter() - start, 2))


def test_sentiment_page(browser, page_server, page_runs, page_output: Path):
    base = page_server("sentiment")
    start = time.perf_counter()
    with open_page(browser, base) as watched:
        page = watched.page
        result = page.locator("[data-result]")
        result.wait_for()  # the example review, scored as the page loads
        assert result.locator(".headline").inner_text() in ("Positive", "Negative")
        text = page.get_by_label("Review text").input_value()
        answer = httpx.post(base + "/predict", json={"text": text}, timeout=30).json()
        shown = page.evaluate("p => window.mlstarter.api.format(p)", answer["probability_positive"])  # the page's rule
        assert f"P(positive) {shown}" in result.inner_text()
        # the words that moved it most, coloured in the text as typed
        marked = result.locator(".marked-text mark")
        assert marked.count() >= 1
        assert {m.lower() for m in marked.all_inner_texts()} <= {w["word"] for w in answer["words"]}
        assert_labelled(page)

        # an example sentence, clicked
        milliseconds = click_to_result(page, page.get_by_role("button", name="Not bad at all!"))
        record_timing(page_output, "sentiment", "click_to_result_ms", milliseconds)
        assert page.get_by_label("Review text").input_value() == "Not bad at all!"

        # scored as you type
        before = result_count(page)
        page.get_by_label("Review text").fill("A superb, moving film.")
        wait_for_new_result(page, before)
        page.screenshot(path=page_output / "sentiment-try.png", full_page=True)

        # a text with no word the model knows: the answer comes with the API's warning
        before = result_count(page)
        page.get_by_role("button", name="Καλή ταινία, αλλά πολύ μεγάλη.").click()
        wait_for_new_result(page, before)
        assert result.locator("[data-code=no_known_words]").count() == 1

        # an empty text: the API's own message, in an alert
        message = api_message(base, "/predict", json={"text": ""})
        page.get_by_label("Review text").fill("")
        alert = page.get_by_role("alert").filter(has_text=message)
        alert.wait_for()
        assert alert.inner_text() == f"text: {message}"

        check_model_tab(page, page_runs("sentiment"), "sentiment")
        page.screenshot(path=page_output / "sentiment-model.png", full_page=True)
        watched.check(refused=[422])
    record_timing(page_output, "sentiment", "browser_test_s", round(time.perf_counter() - start, 2))


def test_what_went_wrong_is_said(browser, page_server, page_output: Path):
    """/predict answering a plain-text 500, the API's own 413, or not at all: the alert says which, meaningfully."""
    base = page_server("credit_risk")
    example = httpx.get(base + "/metadata", timeout=30).json()["input_schema"]["examples"][0]
    too_big = httpx.post(base + "/predict", json={**example, "padding": "x" * 3_000_000}, timeout=30)
    assert too_big.status_code == 413, too_big.text
    failures: list[Callable[[Any], None]] = []  # how to answer the next requests to /predict, in order

    def predict(route: Any) -> None:
        if failures:
            failures.pop(0)(route)
        else:
            route.continue_()  # to the server itself

    with open_page(browser, base, routes={"**/predict*": predict}) as watched:
        page = watched.page
        page.locator("[data-result]").wait_for()  # the example applicant, answered by the server itself
        failures += [  # for the next three clicks on Score
            lambda route: route.fulfill(status=500, content_type="text/plain", body="Internal Server Error"),
            lambda route: route.fulfill(status=413, content_type="application/json", body=too_big.text),
            lambda route: route.abort(),
        ]
        expected = [
            "The server answered 500: Internal Server Error",
            too_big.json()["detail"][0]["msg"],  # the API's own words
            "Could not reach the server (Failed to fetch): is make serve still running?",
        ]
        for message in expected:
            page.get_by_role("button", name="Score").click()
            page.get_by_role("alert").filter(has_text=message).wait_for()
        page.screenshot(path=page_output / "credit_risk-unreachable.png", full_page=True)
        assert not failures
        watched.check(refused=[500, 413], failed=1)


def test_the_page_shows_all_it_can_whatever_its_answers(browser, page_server, page_output: Path):
    """The model tab clicked before the run's details arrive; /page/run and /page/runs failing; /metadata failing."""
    base = page_server("credit_risk")

    # 1. the model tab, clicked while /page/run is still on its way: it waits, then shows the run
    held: list[Any] = []
    with open_page(browser, base, routes={"**/page/run": lambda route: held.append(route)}) as watched:
        page = watched.page
        page.wait_for_function("() => document.readyState === 'complete'")
        page.get_by_role("tab", name="The model").click()
        assert page.locator("#model-content").get_attribute("aria-busy") == "true"
        held.pop().continue_()
        page.locator("#model table.runs").wait_for()
        assert page.locator("#page-error").is_hidden()
        page.locator("#model .headline table").wait_for()
        watched.check()

    # 2. /page/run and /page/runs fail: the panel still scores, and the model tab shows what it has
    def broken(route: Any) -> None:
        route.fulfill(status=500, content_type="text/plain", body="disk full")

    with open_page(browser, base, routes={"**/page/run": broken, "**/page/runs": broken}) as watched:
        page = watched.page
        page.locator("[data-result]").wait_for()  # the Try-it panel needs /metadata only
        error = "The model tab is incomplete: the run's details (/page/run) did not load: The server answered 500: "
        assert page.locator("#page-error").inner_text() == error + "disk full"
        page.get_by_role("tab", name="The model").click()
        page.locator("#model").get_by_role("alert").filter(has_text="The server answered 500: disk full").wait_for()
        assert page.locator("#h-metrics").is_visible()
        config = page.locator("#model table.keys", has_text="config.json")  # none without /page/run: said so
        assert config.locator("tbody").text_content() == "(empty)"
        assert page.locator("#model-content").get_attribute("aria-busy") is None
        watched.check(refused=[500, 500])

    # 3. /metadata fails: the page says why, and no tab stays "Loading…"
    def refused(route: Any) -> None:
        detail = [{"loc": ["path"], "msg": "the model is being replaced", "type": "unavailable"}]
        route.fulfill(status=503, content_type="application/json", body=json.dumps({"detail": detail}))

    with open_page(browser, base, routes={"**/metadata": refused}) as watched:
        page = watched.page
        page.locator("#page-error").filter(has_text="the model is being replaced").wait_for()
        page.screenshot(path=page_output / "credit_risk-no-metadata.png", full_page=True)
        for tab, content in [("Try it", "#panel"), ("The model", "#model-content")]:
            page.get_by_role("tab", name=tab).click()
            page.locator(content).get_by_text("Nothing to show").wait_for()
            assert page.locator(content).get_attribute("aria-busy") is None, content
        watched.check(refused=[503])
