"""Rendering a report: document blocks (tables, figures, paragraphs, sections) to Markdown and HTML.

Both documents are rendered from one list of :class:`Section` blocks, so they carry the same content.
The HTML is self-contained: figures embedded as base64 PNG, inline CSS, no scripts, every piece of
text from the data escaped.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

NA = "\u2013"


@dataclass
class Table:
    """A table block: display DataFrame (strings or numbers) and an optional caption."""

    frame: pd.DataFrame
    caption: str = ""


@dataclass
class Fig:
    """A figure block: file stem, caption, PNG bytes."""

    name: str
    caption: str
    png: bytes = field(repr=False)


@dataclass
class Section:
    """A titled list of blocks (str = paragraph, Table, Fig, ("h3", text), or ("ul", [item, ...]): a bullet list)."""

    title: str
    blocks: list = field(default_factory=list)


def fmt(x, digits: int = 4) -> str:
    """Display text of a number (NaN -> en dash, inf -> infinity sign) or of anything else."""
    if x is None:
        return NA
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        if np.isnan(x):
            return NA
        if np.isinf(x):
            return "\u221e" if x > 0 else "-\u221e"
        if float(x).is_integer() and abs(x) < 1e6:
            return str(int(x))
        return f"{x:.{digits}g}"
    return str(x)


def display(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """All cells of a table formatted with :func:`fmt`."""
    return frame.apply(lambda col: col.map(lambda v: fmt(v, digits))) if not frame.empty else frame


def _md_cell(v) -> str:
    return fmt(v).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    f = t.frame
    lines = [f"*{t.caption}*", ""] if t.caption else []
    if f.empty:
        return "\n".join([*lines, "(empty)"])
    lines.append("| " + " | ".join(_md_cell(c) for c in f.columns) + " |")
    lines.append("|" + "|".join("---" for _ in f.columns) + "|")
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in f.itertuples(index=False)]
    return "\n".join(lines)


def render_markdown(title: str, sections: Sequence[Section]) -> str:
    """Markdown document (figures linked as ``figures/<name>.png``)."""
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, Table):
                out.append(_md_table(b))
            elif isinstance(b, Fig):
                out.append(f"![{b.caption}](figures/{b.name}.png)\n\n*{b.caption}*")
            elif isinstance(b, tuple) and b[0] == "ul":
                out.append("\n".join(f"- {item}" for item in b[1]))
            elif isinstance(b, tuple):
                out.append(f"### {b[1]}")
            else:
                out.append(str(b))
            out.append("")
    return "\n".join(out)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1280px;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #0173b2;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
h3{font-size:1.05em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.82em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f6f9}
tr:nth-child(even) td{background:#fafafa}
caption{caption-side:top;text-align:left;font-style:italic;padding:.2em 0}
figure{margin:1em 0 2em}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#555}
.verdict{font-weight:600;padding:.1em .4em;border-radius:3px;white-space:nowrap}
.v-supported{background:#d6efe0;color:#0b5e2e}
.v-not-supported{background:#f8d9d4;color:#8a1c0b}
.v-inconclusive{background:#eee;color:#444}
nav a{margin-right:1em}
"""


def _html_cell(v, column: str) -> str:
    text = html.escape(fmt(v))
    if column == "verdict":
        return f'<span class="verdict v-{html.escape(fmt(v).replace(" ", "-"))}">{text}</span>'
    return text


def _html_table(t: Table) -> str:
    f = t.frame
    cap = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    if f.empty:
        return f"<p>{cap or '(empty)'}</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in f.columns)
    body = "".join("<tr>" + "".join(f"<td>{_html_cell(v, str(c))}</td>" for v, c in zip(row, f.columns, strict=True))
                   + "</tr>" for row in f.itertuples(index=False))
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def render_html(title: str, sections: Sequence[Section]) -> str:
    """Self-contained HTML: inline CSS, figures as base64 PNG data URIs, all text escaped, no scripts."""
    nav = " ".join(f'<a href="#{_anchor(s.title)}">{html.escape(s.title)}</a>' for s in sections)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", f"<nav>{nav}</nav>"]
    for s in sections:
        parts.append(f'<h2 id="{_anchor(s.title)}">{html.escape(s.title)}</h2>')
        for b in s.blocks:
            if isinstance(b, Table):
                parts.append(_html_table(b))
            elif isinstance(b, Fig):
                data = base64.b64encode(b.png).decode("ascii")
                parts.append(f'<figure><img alt="{html.escape(b.caption)}" src="data:image/png;base64,{data}">'
                             f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
            elif isinstance(b, tuple) and b[0] == "ul":
                parts.append("<ul>" + "".join(f"<li>{html.escape(str(item))}</li>" for item in b[1]) + "</ul>")
            elif isinstance(b, tuple):
                parts.append(f"<h3>{html.escape(str(b[1]))}</h3>")
            else:
                parts.append(f"<p>{html.escape(str(b))}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
