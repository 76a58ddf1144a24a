"""mlstarter.explore: a data report is written whole or not at all, replaces only a previous report, and its
Markdown reads on its own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from mlstarter import explore, paths


def small_report(caption: str = "3 of 4 are ones") -> explore.Report:
    report = explore.Report("demo", "4 numbers.")
    report.section("1. Counts")
    report.text("Some text.")
    report.table(["value", "count"], [["1", 3], ["a | b", 1]])
    fig = Figure(figsize=(2, 2))
    fig.subplots().bar(["0", "1"], [1, 3])
    report.plot("counts", fig, caption)
    report.numbers["ones"] = 3
    return report


def test_the_markdown_embeds_each_plot_with_its_caption_and_the_json_holds_the_numbers(tmp_path: Path):
    written = explore.write(small_report(), tmp_path / "report")
    markdown = written.read_text(encoding="utf-8")
    assert markdown.startswith("# Data report: demo\n\n4 numbers.\n\n## 1. Counts\n\nSome text.\n")
    assert "| a \\| b | 1 |" in markdown  # a | inside a cell does not break the table
    assert "![counts](plots/counts.png)\n\n*3 of 4 are ones*" in markdown
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["numbers"] == {"ones": 3}
    assert report["plots"] == {"counts": {"file": "plots/counts.png", "caption": "3 of 4 are ones"}}
    assert (tmp_path / "report" / "plots" / "counts.png").read_bytes()[:4] == b"\x89PNG"
    assert small_report().summary().splitlines() == ["***** Data report: demo *****", "4 numbers.", "- 3 of 4 are ones"]


def test_a_rerun_replaces_the_report_and_a_crash_leaves_the_old_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    out = tmp_path / "report"
    explore.write(small_report("first"), out)
    (out / "plots" / "stale.png").write_bytes(b"from an older report")
    explore.write(small_report("second"), out)
    assert json.loads((out / "report.json").read_text())["plots"]["counts"]["caption"] == "second"
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["counts.png"]  # the whole folder was replaced

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(explore.runs, "write_json", broken)  # fails after the plots and report.md are written
    with pytest.raises(OSError, match="disk full"):
        explore.write(small_report("third"), out)
    assert "second" in (out / "report.md").read_text()  # the old report, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no half-written folder left beside it


def test_a_folder_that_is_not_a_report_is_never_replaced(tmp_path: Path):
    (tmp_path / "notes" / "mine.txt").parent.mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("my notes")
    (tmp_path / "thesis" / "plots").mkdir(parents=True)  # a folder of your own that holds only a plots/ folder
    (tmp_path / "thesis" / "plots" / "figure1.png").write_bytes(b"my figure")
    (tmp_path / "half" / "plots").mkdir(parents=True)  # report.md and plots/ but no report.json: not written by us
    (tmp_path / "half" / "report.md").write_text("# my own report")
    for folder in ("notes", "thesis", "half"):
        with pytest.raises(paths.ProjectError, match="is not a data report"):
            explore.write(small_report(), tmp_path / folder)
    assert (tmp_path / "notes" / "mine.txt").read_text() == "my notes"
    assert (tmp_path / "thesis" / "plots" / "figure1.png").read_bytes() == b"my figure"
    assert (tmp_path / "half" / "report.md").read_text() == "# my own report"
    (tmp_path / "empty").mkdir()  # an empty folder is fine: nothing of yours to lose
    assert explore.write(small_report(), tmp_path / "empty") == tmp_path / "empty" / "report.md"


def test_the_default_folder_is_beside_the_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path))
    assert explore.report_dir is paths.explore_dir  # one definition, which the page reads the report from too
    assert explore.report_dir("credit_risk") == tmp_path / "credit_risk-explore"
    assert explore.explore_parser(None, "credit_risk").parse_args([]).out == tmp_path / "credit_risk-explore"


def test_nearest_distances_skip_the_image_itself_and_sample_is_seeded():
    images = np.stack([np.full((4, 4), v, np.uint8) for v in (0, 10, 200, 10)])
    distance, index = explore.nearest_distances(images, images, skip=np.arange(4))
    assert index.tolist() == [1, 3, 1, 1] and distance[1] == 0 and distance[0] == pytest.approx(10 / 255)
    assert explore.exact_duplicates(images[:2], images[2:]).tolist() == [False, True]
    assert explore.sample(5, 10, seed=0).tolist() == [0, 1, 2, 3, 4]
    assert explore.sample(100, 10, seed=0).tolist() == explore.sample(100, 10, seed=0).tolist()
    assert len(set(explore.sample(100, 10, seed=0))) == 10


def test_nearest_distances_in_blocks_match_a_direct_search():
    # 300 references searched in blocks of 8 x 4 = 32, queries 4 at a time, each query skipping itself
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (300, 5, 5), dtype=np.uint8)
    queries = np.array([0, 31, 32, 33, 150, 299])
    distance, index = explore.nearest_distances(images[queries], images, skip=queries, chunk=4)
    flat = images.reshape(300, -1).astype(np.float64) / 255
    direct = np.sqrt(((flat[queries, None, :] - flat[None, :, :]) ** 2).mean(axis=2))  # (6, 300)
    direct[np.arange(len(queries)), queries] = np.inf  # not itself
    assert index.tolist() == direct.argmin(axis=1).tolist()
    assert distance == pytest.approx(direct.min(axis=1), abs=1e-6)
