"""`make bench-page`: the served run's page in Chromium, the README's screenshot and the click-to-result time.

A real browser and a real server, on the session's evaluated dry run of credit_risk. The benchmark writes where
`paths.repo_root()` points: here a throwaway folder, never this checkout's README or page.png.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mlstarter import bench, paths, testing


def test_bench_page_writes_the_screenshot_the_timing_and_the_readme_block(
    page_runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        testing.missing("Playwright is not installed: .venv/bin/pip install -e '.[dev]'")
    if not bench.chromium_path().is_file():
        testing.missing(
            f"Chromium is not installed at {bench.chromium_path()} (Debian/Ubuntu: apt-get install -y chromium)"
        )
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(page_runs("credit_risk")))  # evaluated: the model tab has plots
    readme = tmp_path / "projects" / "credit_risk" / "README.md"
    readme.parent.mkdir(parents=True)
    readme.write_text("# Credit\n\n<!-- bench:page:start -->\nold numbers\n<!-- bench:page:end -->\nthe rest\n")
    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)  # this process only: the server runs this checkout

    assert bench.bench_page("credit_risk") == 0

    with Image.open(tmp_path / "projects" / "credit_risk" / "page.png") as image:
        assert image.format == "PNG" and image.mode == "P" and image.size == (1100, 860)  # 256 colours, the viewport
    results = json.loads((tmp_path / "bench" / "results" / "credit_risk-page.json").read_text(encoding="utf-8"))
    assert results["button"] == "Score" and results["dry_run"] is True
    assert len(results["clicks_ms"]) == bench.PAGE_CLICKS and all(ms > 0 for ms in results["clicks_ms"])
    timing = results["click_to_result_ms"]  # the clicks after the first
    assert timing["min"] <= timing["median"] <= timing["max"] == max(results["clicks_ms"][1:])
    text = readme.read_text(encoding="utf-8")
    assert "old numbers" not in text and text.endswith("<!-- bench:page:end -->\nthe rest\n")
    assert "from a click on **Score**" in text and "(a dry run)" in text and f"median {timing['median']:.0f} ms" in text
