"""Charts people would rather look at than read, as one self-contained HTML file each (inline
SVG, no script, no CDN): horizontal bars and a heat map. English and Chinese labels render as
given."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:24px;color:#222}}
h1{{font-size:18px}} text{{font-size:12px}} .note{{color:#666;font-size:12px}}</style>
</head><body><h1>{title}</h1>{body}<p class="note">{note}</p></body></html>
"""


def bars(
    title: str, labels: Sequence[str], values: Sequence[float | None], *, unit: str = ""
) -> str:
    """Horizontal bars, one per label (None: no bar, shown as "-")."""
    width, bar_x, row_h = 760, 230, 24
    top = max((v for v in values if v is not None), default=0.0) or 1.0
    rows = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 10 + i * row_h
        length = 0.0 if value is None else max(0.0, value) / top * (width - bar_x - 90)
        shown = "-" if value is None else f"{value:,.2f}{unit}"
        rows.append(
            f'<text x="{bar_x - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{bar_x}" y="{y + 3}" width="{length:.1f}" height="{row_h - 6}" '
            f'fill="#3b7dd8"><title>{escape(label)}: {shown}</title></rect>'
            f'<text x="{bar_x + length + 6:.1f}" y="{y + 15}">{shown}</text>'
        )
    height = 20 + len(labels) * row_h
    return f'<svg width="{width}" height="{height}">{"".join(rows)}</svg>'


def heatmap(
    title: str,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    cells: Sequence[Sequence[float | None]],
    *,
    percent: bool = True,
    texts: Sequence[Sequence[str]] | None = None,
) -> str:
    """A matrix of shares (0-1) coloured from white to blue; None cells stay blank. ``texts``
    (the same shape) replaces the printed share, e.g. with the value the shade stands for."""
    cell_w, cell_h, left, head = 54, 22, 120, 26
    parts = []
    for j, label in enumerate(col_labels):
        x = left + j * cell_w + cell_w / 2
        parts.append(f'<text x="{x}" y="{head - 8}" text-anchor="middle">{escape(label)}</text>')
    for i, (label, row) in enumerate(zip(row_labels, cells, strict=True)):
        y = head + i * cell_h
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        for j, value in enumerate(row):
            if value is None:
                continue
            shade = max(0.0, min(1.0, value))
            fill = f"rgb({int(255 - 196 * shade)},{int(255 - 130 * shade)},{int(255 - 39 * shade)})"
            text = f"{value:.0%}" if percent else f"{value:,.1f}"
            if texts is not None:
                text = escape(texts[i][j])
            ink = "#fff" if shade > 0.55 else "#222"
            x = left + j * cell_w
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}"/>'
                f'<text x="{x + cell_w / 2 - 1}" y="{y + 15}" text-anchor="middle" '
                f'fill="{ink}">{text}</text>'
            )
    width = left + len(col_labels) * cell_w + 10
    height = head + len(row_labels) * cell_h + 10
    return f'<svg width="{width}" height="{height}">{"".join(parts)}</svg>'


def write_page(path: Path, title: str, svg: str, note: str = "") -> None:
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--chart {path}: charts are written as .html")
    page = _PAGE.format(title=escape(title), body=svg, note=escape(note))
    path.write_text(page, encoding="utf-8")
