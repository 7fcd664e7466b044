"""Small, dependency-free HTML reports: self-contained pages of tables and thumbnails.

Thumbnails are inlined as ``data:`` URIs so a report is one file that opens anywhere; every call is
deterministic (same input, same bytes), so reports can be DVC outputs.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from PIL import Image, ImageOps

CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.row{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end;margin:.4em 0 1.2em}
figure{margin:0;text-align:center;font-size:12px}figure img{display:block;border:1px solid #bbb}
.keep img{border:3px solid #2a7}.note{color:#666;font-size:13px}"""


def esc(value: object) -> str:
    return html.escape(str(value))


def thumbnail_uri(path: Path | str, size: int = 160) -> str:
    """A JPEG thumbnail of ``path`` as a data URI, or a grey placeholder if it cannot be decoded."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (size, size))
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail((size, size), Image.Resampling.BOX)
    except Exception:  # a report never fails on one bad file
        img = Image.new("RGB", (size, size), (200, 200, 200))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80, optimize=False)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figure(path: Path | str, caption: str, size: int = 160, css_class: str = "") -> str:
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return (f'<figure{cls}><img src="{thumbnail_uri(path, size)}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def row(figures: Iterable[str]) -> str:
    return '<div class="row">' + "".join(figures) + "</div>"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, sections: Iterable[tuple[str, str]], intro: str = "") -> str:
    """A whole page: ``sections`` are (heading, HTML body) pairs."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
             f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>"]
    if intro:
        parts.append(f'<p class="note">{intro}</p>')
    for heading, body in sections:
        parts.append(f"<h2>{esc(heading)}</h2>{body}")
    parts.append("</body></html>\n")
    return "".join(parts)
