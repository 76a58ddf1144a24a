"""What every project's `explore.py` shares: its options, the report it builds, and writing that report whole.

    $ make explore PROJECT=credit_risk        # runs projects/credit_risk/explore.py: a data report

A project's explore.py computes its statistics and figures and adds them to a `Report`, step by step:

    report = Report(PROJECT, "German Credit: 1,000 applicants")
    report.section("1. The target")
    report.text("30.0% of the applicants defaulted.")
    report.table(["part", "applicants", "default rate"], rows)
    report.plot("target", figure, "what to notice, computed from the data")   # a matplotlib Figure
    report.numbers["default_rate"] = 0.3                                      # what report.json holds
    write(report, report_dir(PROJECT))      # runs/credit_risk-explore/: report.md, report.json, plots/*.png

A report is plain data until `write` saves it, so a notebook can build one in-process
(`explore.report(cfg)`) and show its figures without touching the disk. `write` puts the files in
a hidden folder first and swaps it in at the end: a rerun replaces the old report, and a crash
halfway leaves the old one (or none), never half of a new one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from . import paths, plots, runs

REPORT_FILES = ("report.md", "report.json")  # what makes a folder a data report, which a rerun may replace


report_dir = paths.explore_dir  # where `make explore` writes a project's data report: runs/<project>-explore/


def explore_parser(description: str | None, project: str) -> argparse.ArgumentParser:
    """The options of every `explore.py`: the data (`--data`, `--set`, as train.py takes them) and where to write."""
    parser = argparse.ArgumentParser(
        prog=f"python -m projects.{project}.explore",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data", default=None, metavar="PATH", help="Explore your own file, in the format train.py's --data takes."
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override a config value, as for train.py, e.g. --set data.separator=semicolon.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=report_dir(project),
        help=f"The folder to write the report to; a previous report there is replaced (default: "
        f"{paths.shown(report_dir(project))}).",
    )
    return parser


@dataclass
class Plot:
    """A figure of the report, its file name (without .png) and its one-line "what to notice"."""

    name: str
    figure: Figure
    caption: str


@dataclass
class Report:
    """A data report being built: Markdown blocks in order, the figures among them, and the numbers."""

    project: str
    title: str  # one line: the data and its size
    blocks: list[tuple[str, Any]] = field(default_factory=list)  # ("section" | "text" | "table" | "plot", content)
    numbers: dict[str, Any] = field(default_factory=dict)  # report.json: every number the text and captions use

    def section(self, heading: str) -> None:
        self.blocks.append(("section", heading))

    def text(self, paragraph: str) -> None:
        self.blocks.append(("text", paragraph))

    def table(self, header: list[str], rows: list[list[Any]]) -> None:
        self.blocks.append(("table", (header, rows)))

    def plot(self, name: str, figure: Figure, caption: str) -> None:
        if any(p.name == name for p in self.plots):
            raise ValueError(f"the report already has a plot named {name!r}")
        self.blocks.append(("plot", Plot(name, figure, caption)))

    @property
    def plots(self) -> list[Plot]:
        return [content for kind, content in self.blocks if kind == "plot"]

    def summary(self) -> str:
        """What to print: the title and every plot's "what to notice"."""
        return "\n".join(
            [f"***** Data report: {self.project} *****", self.title, *(f"- {p.caption}" for p in self.plots)]
        )

    def markdown(self) -> str:
        """The report as Markdown that reads on its own: each plot by its relative path, its caption under it."""
        lines = [f"# Data report: {self.project}", "", self.title, ""]
        for kind, content in self.blocks:
            if kind == "section":
                lines += [f"## {content}", ""]
            elif kind == "text":
                lines += [content, ""]
            elif kind == "table":
                header, rows = content
                lines += [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows), ""]
            else:
                lines += [f"![{content.name}](plots/{content.name}.png)", "", f"*{content.caption}*", ""]
        return "\n".join(lines).rstrip() + "\n"

    def to_dict(self) -> dict[str, Any]:
        """report.json: the numbers, and every plot's file and caption."""
        return {
            "project": self.project,
            "title": self.title,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "plots": {p.name: {"file": f"plots/{p.name}.png", "caption": p.caption} for p in self.plots},
            "numbers": self.numbers,
        }


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def write(report: Report, out: Path) -> Path:
    """Write report.md, report.json and plots/<name>.png into `out`, replacing a previous report there.

    Everything goes into a hidden folder beside `out` first, which is renamed to `out` only once complete. A
    folder that is not a data report is never replaced: it could be anything of yours.
    """
    out = Path(out).expanduser().resolve()
    if out.exists() and not _is_report(out):
        raise paths.ProjectError(
            f"--out {out} exists and is not a data report (a report has report.json, and nothing but "
            f"{', '.join(REPORT_FILES)} and plots/); choose a new folder, which will be created, or an empty one"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".incomplete", dir=out.parent))
    previous = out.with_name(f".{out.name}.previous-{os.getpid()}")
    try:
        for plot in report.plots:
            plots.save(plot.figure, partial / "plots" / f"{plot.name}.png")
        (partial / "report.md").write_text(report.markdown(), encoding="utf-8")
        runs.write_json(partial / "report.json", report.to_dict())
        os.chmod(partial, 0o755)  # mkdtemp makes it private; the report is as readable as a run
        if out.exists():
            os.replace(out, previous)  # two renames: for a moment there is no report, but never half of one
        os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        if previous.exists() and not out.exists():
            os.replace(previous, out)  # the second rename failed: the previous report goes back
        raise
    shutil.rmtree(previous, ignore_errors=True)
    return out / "report.md"


def _is_report(folder: Path) -> bool:
    """An empty folder, or a report `write` wrote: report.json there, and nothing else than what `write` writes.

    A folder of your own with only a plots/ inside (a thesis, say) is not a report: report.json must be there."""
    if not folder.is_dir():
        return False
    names = {p.name for p in folder.iterdir()}
    return not names or ("report.json" in names and names <= {*REPORT_FILES, "plots"})


def nearest_distances(
    queries: np.ndarray, references: np.ndarray, *, skip: np.ndarray | None = None, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """For each query image, the RMS pixel distance (0-1 scale) to its nearest reference image, and that image's index.

    Images are uint8 (N, H, W[, C]); the distance is sqrt(mean((a - b)^2)) on pixels / 255, so 0.02 is about
    5 grey levels per pixel. `skip[i]` is a reference index query i may not match (itself, when the queries are
    drawn from the references); -1 for none. Matrix products in float32, a block of `chunk` queries against a
    block of 8 x `chunk` references at a time, so memory stays bounded however many references (all of MNIST's
    55,000 training images: a (1024, 8192) block, 32 MB):
        ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b     # (chunk, D) @ (D, 8 chunk) -> (chunk, 8 chunk)
    """
    q = queries.reshape(len(queries), -1).astype(np.float32) / 255  # (N, D)
    flat_refs = references.reshape(len(references), -1)  # (M, D) uint8: a block at a time becomes float32
    best_d2, best_i = np.full(len(q), np.inf, np.float32), np.zeros(len(q), np.int64)
    for start in range(0, len(q), chunk):
        part = q[start : start + chunk]  # (c, D)
        part_sq, rows = (part * part).sum(axis=1)[:, None], np.arange(len(part))  # (c, 1), (c,)
        for first in range(0, len(flat_refs), 8 * chunk):
            block = flat_refs[first : first + 8 * chunk].astype(np.float32) / 255  # (m, D)
            d2 = part_sq + (block * block).sum(axis=1)[None, :] - 2 * part @ block.T  # (c, m)
            if skip is not None:  # a query's own image, when it falls in this block, is not its neighbour
                own = skip[start : start + chunk] - first
                inside = np.flatnonzero((own >= 0) & (own < len(block)))  # skip -1 (none): own < 0
                d2[inside, own[inside]] = np.inf
            i = d2.argmin(axis=1)
            closer = d2[rows, i] < best_d2[start : start + chunk]
            best_d2[start : start + chunk][closer] = d2[rows, i][closer]
            best_i[start : start + chunk][closer] = first + i[closer]
    # the nearest one's distance again, directly: the expansion above loses the last digits (a copy: 0.0002)
    nearest = flat_refs[best_i].astype(np.float32) / 255  # (N, D)
    return np.sqrt(((q - nearest) ** 2).mean(axis=1)), best_i


def exact_duplicates(queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """For each query image, whether some reference image has exactly the same pixels (by a hash of its bytes)."""
    seen = {image.tobytes() for image in references}
    return np.array([image.tobytes() in seen for image in queries], dtype=bool)


def sample(n: int, size: int, seed: int) -> np.ndarray:
    """Indices of at most `size` of n items, drawn without replacement with `seed` and sorted; all of them if fewer."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def image_rows(rows: dict[str, np.ndarray], title: str, pad: int = 1) -> Figure:
    """One row of images per label (uint8 (N, H, W) grayscale or (N, H, W, 3) colour), the label on its left.

    The images are tiled into one picture, `pad` grey pixels between them, and drawn once: one axes, not one per
    image, so a grid of 10 classes draws in a blink."""
    first = next(iter(rows.values()))
    h, w = first.shape[1:3]
    channels = 3 if first.ndim == 4 else 1
    columns = max(len(images) for images in rows.values())
    grid = np.full((len(rows) * (h + pad) + pad, columns * (w + pad) + pad, channels), 128, np.uint8)
    for r, images in enumerate(rows.values()):
        for c, image in enumerate(images):
            top, left = pad + r * (h + pad), pad + c * (w + pad)
            grid[top : top + h, left : left + w] = image.reshape(h, w, channels)
    scale = 1.1 / max(h, w)  # inches per pixel: each image about 1.1 inches a side
    fig = Figure(figsize=(grid.shape[1] * scale + 1.5, grid.shape[0] * scale + 0.7))
    ax = fig.subplots()
    ax.imshow(grid[..., 0] if channels == 1 else grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([pad + r * (h + pad) + h / 2 for r in range(len(rows))], list(rows))
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title)
    return fig


def percent(x: float, digits: int = 0) -> str:
    """0.1234 -> '12%' (or '12.3%' with digits=1): the way the captions write shares."""
    return f"{100 * x:.{digits}f}%"
