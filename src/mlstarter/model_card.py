"""A model card (Mitchell et al., 2019) as Markdown: what the model is, how well it does, where not to use it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .metrics import shown


def table(rows: Sequence[Mapping[str, Any]], digits: int = 3) -> str:
    """A Markdown table from a list of dicts sharing the same keys."""
    if not rows:
        return "_(none)_"
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row[h], digits) for h in headers) + " |")
    return "\n".join(lines)


def render(title: str, sections: Mapping[str, str]) -> str:
    """The card: a title, then one `##` section per entry, in order."""
    parts = [f"# Model card: {title}", ""]
    for heading, body in sections.items():
        parts += [f"## {heading}", "", body.strip(), ""]
    return "\n".join(parts)


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return shown(value, digits)  # 0.9996 as "> 0.999": rounding never claims a perfect score
    return str(value).replace("|", "\\|").replace("\n", " ")  # a cell is one line; | would end it
