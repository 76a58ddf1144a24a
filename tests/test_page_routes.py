"""The routes of the page at GET / (src/mlstarter/page.py), without a browser: what they serve, what they refuse.

    $ .venv/bin/python -m pytest -q tests/test_page_routes.py

Through FastAPI's TestClient on an evaluated dry run of credit_risk (conftest's `page_runs`), and one test of
path traversal against the real server (`page_server`), whose own URL handling is what a client meets.
"""

from __future__ import annotations

import asyncio
import http.client
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from mlstarter import page, runs, serving

REPO = Path(__file__).resolve().parents[1]
PROJECT = "credit_risk"


@pytest.fixture
def runs_dir(page_runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the evaluated dry run of credit_risk, for this test to change."""
    folder = tmp_path / "runs"
    shutil.copytree(page_runs(PROJECT), folder)
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(folder))
    return folder


def served_app(panel: bool = True):
    from projects.credit_risk import serve

    if panel:
        return serve.create_app()
    return serving.create_app(project=PROJECT, router=serve.router, load_predictor=serve.CreditPredictor,
                              input_model=serve.Applicant)  # fmt: skip


def test_the_page_and_its_files_carry_the_security_headers(runs_dir: Path):
    with TestClient(served_app()) as client:
        index = client.get("/")
        assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
        assert '<script src="/page/page.js" defer></script>' in index.text
        for path, media in [("/page/page.js", "text/javascript"), ("/page/page.css", "text/css"),
                            ("/page/panel.js", "text/javascript"), ("/page/run", "application/json")]:  # fmt: skip
            answer = client.get(path)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith(media), path
            assert answer.headers["content-security-policy"] == page.CONTENT_SECURITY_POLICY
            assert answer.headers["x-content-type-options"] == "nosniff"
        assert index.headers["content-security-policy"].startswith("default-src 'self';")
        # the project's own panel, as written in its folder
        assert client.get("/page/panel.js").text == (REPO / "projects" / PROJECT / "page.js").read_text()


def test_the_api_routes_are_left_as_they_were(runs_dir: Path):
    """No page header on /predict (nothing added to its path), /docs still works, and the schema lists no page route."""
    example = (REPO / "projects" / PROJECT / "example.json").read_text()
    with TestClient(served_app()) as client:
        answer = client.post("/predict", content=example, headers={"content-type": "application/json"})
        assert answer.status_code == 200 and "content-security-policy" not in answer.headers
        docs = client.get("/docs")
        assert docs.status_code == 200 and "content-security-policy" not in docs.headers
        paths = client.get("/openapi.json").json()["paths"]
        assert "/" not in paths and not [p for p in paths if p.startswith("/page")]


def test_the_served_run_with_its_card_plots_and_metrics(runs_dir: Path):
    run = runs.latest_run(PROJECT)
    with TestClient(served_app()) as client:
        summary = client.get("/page/run").json()
        assert summary["run_id"] == run.run_id and summary["dry_run"] is True
        assert summary["metrics"] == run.metrics and summary["config"] == run.config
        assert summary["environment"]["seed"] == run.config["seed"]
        assert summary["plots"] == sorted(p.name for p in (run.path / "plots").glob("*.png"))
        # the card's section of test metrics, with its baselines, as a table
        assert summary["headline"]["title"] == "Test metrics"
        assert "<table>" in summary["headline"]["html"] and "baseline" in summary["headline"]["html"]
        assert "<h3>Model card: credit_risk" in summary["card_html"]  # headings below the page's own
        plot = client.get(f"/page/run/plots/{summary['plots'][0]}")
        assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
        assert plot.content == (run.path / "plots" / summary["plots"][0]).read_bytes()


def test_markdown_can_put_no_script_or_outside_image_on_the_page(runs_dir: Path):
    run = runs.latest_run(PROJECT)
    (run.path / "MODEL_CARD.md").write_text(
        "# Card\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3))\n\n"
        "![roc](plots/roc.png) ![secret](../config.json) ![far](http://example.com/x.png) ![up](plots/../x.png)\n"
    )
    with TestClient(served_app()) as client:
        html = client.get("/page/run").json()["card_html"]
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img src=x" not in html
    assert 'href="javascript:' not in html
    assert '<img src="/page/run/plots/roc.png" alt="roc" />' in html
    assert html.count("<img") == 1 and "secret" in html and "far" in html  # the others: alt text only


def test_the_runs_list(runs_dir: Path):
    served = runs.latest_run(PROJECT)
    older = runs_dir / PROJECT / "20200101-000000"  # an older run: a copy of the served one under an older id
    shutil.copytree(served.path, older)
    with TestClient(served_app()) as client:
        listed = client.get("/page/runs").json()
    assert [r["run_id"] for r in listed["runs"]] == [served.run_id, older.name]  # newest first
    assert listed["total"] == 2
    newest = listed["runs"][0]
    assert newest["served"] and not listed["runs"][1]["served"] and not newest["promoted"]
    assert newest["kind"] == served.config["model"]["kind"] and newest["dry_run"] is True
    assert newest["created"] == served.environment["created"]
    assert newest["metrics"]["test_roc_auc"] == served.metrics["test_roc_auc"]
    assert all(isinstance(v, int | float) for v in newest["metrics"].values())


def test_the_runs_list_holds_the_newest_runs_only(runs_dir: Path):
    """Past MAX_RUNS runs, the newest are listed, and the total says how many there are."""
    served = runs.latest_run(PROJECT)
    for day in range(page.MAX_RUNS):  # older runs: a config is all that makes a folder a complete run
        older = runs_dir / PROJECT / f"2020{day // 28 + 1:02d}{day % 28 + 1:02d}-000000"  # 20200101, ..., 20200222
        older.mkdir()
        (older / "config.json").write_text("{}")
    with TestClient(served_app()) as client:
        listed = client.get("/page/runs").json()
    assert listed["total"] == page.MAX_RUNS + 1 and len(listed["runs"]) == page.MAX_RUNS
    assert listed["runs"][0]["run_id"] == served.run_id and listed["runs"][-1]["run_id"] == "20200102-000000"


def test_a_run_with_a_file_cut_short_is_marked_and_the_others_listed(runs_dir: Path):
    served = runs.latest_run(PROJECT)
    older = runs_dir / PROJECT / "20200101-000000"
    shutil.copytree(served.path, older)
    (older / "metrics.json").write_text('{"test_roc_auc": 0.7')  # cut short, as by a full disk
    oldest = runs_dir / PROJECT / "20190101-000000"
    shutil.copytree(served.path, oldest)
    (oldest / "metrics.json").write_text("[0.7]")  # JSON, but not the object of a metrics.json: no numbers to show
    with TestClient(served_app()) as client:
        answer = client.get("/page/runs")
    assert answer.status_code == 200
    newest, bad, odd = answer.json()["runs"]
    assert odd["metrics"] == {} and "unreadable" not in odd
    assert newest["metrics"]["test_roc_auc"] == served.metrics["test_roc_auc"]
    assert bad["run_id"] == older.name and bad["unreadable"].startswith("metrics.json: Expecting")
    assert "metrics" not in bad


def test_a_model_card_that_is_not_utf8_leaves_the_rest_of_the_run(runs_dir: Path):
    run = runs.latest_run(PROJECT)
    (run.path / "MODEL_CARD.md").write_bytes("# Carte du modèle\n".encode("latin-1"))
    with TestClient(served_app()) as client:
        answer = client.get("/page/run")
        metadata = client.get("/metadata")  # all the Try-it panel needs
    assert answer.status_code == 200 and metadata.status_code == 200
    summary = answer.json()
    assert summary["headline"] is None and summary["card_html"] is None
    assert summary["metrics"] == run.metrics and summary["plots"]
    [problem] = summary["unreadable"]
    assert problem.startswith("MODEL_CARD.md: 'utf-8' codec can't decode")


def test_a_card_without_a_metrics_section_has_no_headline(runs_dir: Path):
    run = runs.latest_run(PROJECT)
    (run.path / "MODEL_CARD.md").write_text("# Card\n\n## Intended use\n\nTeaching.\n")
    with TestClient(served_app()) as client:
        summary = client.get("/page/run").json()
    assert summary["headline"] is None and "<p>Teaching.</p>" in summary["card_html"]  # shown once, in full


def test_a_dry_run_not_yet_evaluated(dry_run_runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copytree(dry_run_runs(PROJECT), tmp_path / "runs")
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path / "runs"))
    with TestClient(served_app()) as client:
        summary = client.get("/page/run").json()
    assert summary["headline"] is None and summary["card_html"] is None
    assert summary["plots"] == [] and summary["unreadable"] == [] and summary["dry_run"] is True


def test_the_reports_where_they_were_written(runs_dir: Path):
    run = runs.latest_run(PROJECT)
    with TestClient(served_app()) as client:
        assert client.get("/page/reports").json() == {"explore": None, "monitoring": None}
        monitoring = runs_dir / f"{PROJECT}-monitoring" / "report"
        (monitoring / "plots").mkdir(parents=True)
        shutil.copy(run.path / "plots" / "roc.png", monitoring / "plots" / "drift.png")
        (monitoring / "report.md").write_text("# Drift report\n\nVerdict: **stable**\n\n![drift](plots/drift.png)\n")
        reports = client.get("/page/reports").json()
        assert reports["explore"] is None
        assert reports["monitoring"]["plots"] == ["drift.png"]
        assert '<img src="/page/reports/monitoring/plots/drift.png" alt="drift" />' in reports["monitoring"]["html"]
        image = client.get("/page/reports/monitoring/plots/drift.png")
        assert image.status_code == 200 and image.content == (run.path / "plots" / "roc.png").read_bytes()
        assert client.get("/page/reports/elsewhere/plots/drift.png").status_code == 404
        (monitoring / "report.md").write_bytes(b"# Drift \xff\n")  # not UTF-8: said so, the other report still there
        reports = client.get("/page/reports").json()
        assert reports["monitoring"]["unreadable"].startswith("report.md: 'utf-8' codec") and reports["explore"] is None


def test_the_runs_example_files_by_name(runs_dir: Path):
    """A run's examples/ folder (inputs saved for the page to offer): listed, and served by exact name only."""
    run = runs.latest_run(PROJECT)
    (run.path / "examples").mkdir()
    (run.path / "examples" / "applicant.json").write_text('{"age": 30}')
    (run.path / "examples" / "notes.py").write_text("print('not a kind the page serves')")
    with TestClient(served_app()) as client:
        assert client.get("/page/run").json()["examples"] == ["applicant.json"]
        answer = client.get("/page/run/examples/applicant.json")
        assert answer.status_code == 200 and answer.json() == {"age": 30}
        assert answer.headers["content-security-policy"] == page.CONTENT_SECURITY_POLICY
        assert client.get("/page/run/examples/notes.py").status_code == 404
        assert client.get("/page/run/examples/..%2Fconfig.json").status_code == 404


def test_a_symbolic_link_in_a_runs_folder_is_never_served(runs_dir: Path):
    """A link named like a plot, pointing at the run's config: not listed, a 404 (it could point anywhere)."""
    run = runs.latest_run(PROJECT)
    (run.path / "plots" / "secret.png").symlink_to(run.path / "config.json")
    (run.path / "examples").mkdir()
    (run.path / "examples" / "secret.json").symlink_to(run.path / "config.json")
    with TestClient(served_app()) as client:
        summary = client.get("/page/run").json()
        assert "secret.png" not in summary["plots"] and summary["examples"] == []
        assert client.get("/page/run/plots/secret.png").status_code == 404
        assert client.get("/page/run/examples/secret.json").status_code == 404


def test_a_panel_that_is_not_there_stops_the_app_at_once(runs_dir: Path):
    from projects.credit_risk import serve

    with pytest.raises(FileNotFoundError, match=r"The panel of credit_risk's page, .*nowhere\.js, is not a file"):
        serving.create_app(project=PROJECT, router=serve.router, load_predictor=serve.CreditPredictor,
                           input_model=serve.Applicant, panel=runs_dir / "nowhere.js")  # fmt: skip


def test_the_page_is_left_out_of_the_http_metrics(runs_dir: Path):
    """Prometheus' request counts are the API's: loading the page (and its files) adds nothing to them."""
    example = (REPO / "projects" / PROJECT / "example.json").read_text()
    with TestClient(served_app()) as client:
        for path in ("/", "/page/page.js", "/page/run", "/page/runs", "/page/reports"):
            assert client.get(path).status_code == 200, path
        client.post("/predict", content=example, headers={"content-type": "application/json"})
        counted = [line for line in client.get("/metrics").text.splitlines() if line.startswith("http_requests_total")]
    assert any('handler="/predict"' in line for line in counted), counted
    assert not [line for line in counted if 'handler="/"' in line or 'handler="/page' in line], counted


def test_a_project_without_a_panel_points_to_docs(runs_dir: Path):
    with TestClient(served_app(panel=False)) as client:
        script = client.get("/page/panel.js")
    assert script.status_code == 200 and script.text == page.NO_PANEL.read_text() and '"/docs"' in script.text


# Each asks, one way or another, for a file that is not one of the page's: a run's config or model, the code, /etc
TRAVERSALS = [
    "/page/run/plots/..%2Fconfig.json",
    "/page/run/plots/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/page/run/examples/..%2Fconfig.json",
    "/page/run/examples/..%2Fmodel.skops",
    "/page/run/plots/%2e%2e%2fconfig.json",
    "/page/run/plots/..%5Cconfig.json",
    "/page/run/plots/config.json",
    "/page/run/plots/model.skops",
    "/page/run/plots/%2Fetc%2Fpasswd",
    "/page/run/plots/..",
    "/page/run/plots/",
    "/page/run/plots/../../config.json",
    "/page/..%2F..%2Fserving.py",
    "/page/..%2Fpage.py",
    "/page/index.html",
    "/page/",
    "/page/%2Fetc%2Fpasswd",
    "/page/reports/monitoring/plots/..%2Freport.md",
    "/page/reports/..%2F..%2Fcredit_risk/plots/roc.png",
    "/page/panel.js%2F..%2F..%2Fserve.py",
]


def test_path_traversal_is_a_404_on_the_real_server(page_server):
    """Raw requests (http.client sends the path as written: no client cleans up ../) to the running server."""
    address = urlsplit(page_server(PROJECT))
    for path in TRAVERSALS:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        connection.request("GET", path)
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        assert answer.status == 404, f"{path}: {answer.status} {body[:200]!r}"
        assert answer.getheader("content-type") == "application/json", path  # an error, never a file
        assert b"root:" not in body and b"seed" not in body, path


def test_path_traversal_is_a_404_in_the_app(runs_dir: Path):
    with TestClient(served_app()) as client:
        for path in TRAVERSALS:
            if ".." in path.split("/"):
                continue  # the test client itself resolves a literal /../ before sending: the real server's test has it
            answer = client.get(path)
            assert answer.status_code == 404, f"{path}: {answer.status_code} {answer.text[:200]}"
            assert answer.json()["detail"][0]["type"] == "not_found"


def test_asyncio_still_runs_after_the_browser_tests():
    """Playwright's sync API marks an asyncio loop running in the main thread while its browser is open (conftest's
    `browser`, one per module): once test_page.py and test_page_panels.py are done, asyncio.run() works again."""
    assert asyncio.run(asyncio.sleep(0, result="ran")) == "ran"
