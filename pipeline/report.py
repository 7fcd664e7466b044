"""The HTML report toolkit every stage's report is built with: pages that open from disk, escaped by construction.

- **Escaping by construction.** ``Html`` is markup this module built; every other value handed to a builder
  is *text* and is escaped (``esc``), attributes included. Booru tags and sources are internet text: they
  can only ever reach a page as text. ``el`` refuses ``script``/``style`` elements, ``on*`` and ``style``
  attributes, and any URL with a scheme other than an inlined ``data:image/`` (no ``javascript:``).
- **Self-contained.** Thumbnails are inlined as ``data:`` URIs; a page loads nothing from outside itself.
  Its Content-Security-Policy (a ``<meta>``) allows only inlined images, this module's stylesheet and the
  review script (by hash), so even a markup mistake could not run a script from a tag.
- **No script on disk.** A page carries verdict buttons hidden by CSS; only the review server
  (``pipeline.review``) adds ``REVIEW_SCRIPT``, which shows them and posts a click as a verdict.
- **Deterministic.** The same input gives the same bytes, so reports can be DVC outputs.

Building blocks: ``figure`` (thumbnail, caption, lines of text, verdict buttons), ``row`` (a wrapping grid of
figures), ``table``, ``histogram`` (inline SVG, thresholds drawn), ``pager`` and ``page``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image, ImageOps

CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
.row{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start;margin:.4em 0 1.2em}
figure{margin:0;text-align:center;font-size:12px;max-width:240px}figure img{display:block;border:1px solid #bbb}
figure a{display:inline-block}.keep img{border:3px solid #2a7}.note{color:#666;font-size:13px}
.meta{margin:2px 0;color:#444;font-size:11px}.tags{margin:2px 0;color:#666;font-size:11px;overflow-wrap:anywhere}
.pair{border:1px solid #ddd;padding:6px;margin:.4em 0;display:inline-block}nav{margin:.6em 0}nav a,nav b{margin-right:.5em}
.verdicts{display:none;flex-wrap:wrap;gap:4px;justify-content:center;margin-top:3px}.reviewing .verdicts{display:flex}
button.verdict{font-size:11px;padding:1px 5px;cursor:pointer}button.verdict.chosen{background:#2a7;color:#fff}
.said{font-size:11px;color:#2a7;width:100%}.said.err{color:#c22}"""

# Added by the review server only (never present in a file on disk): shows the verdict buttons and posts a
# click, the data-* attributes of the button's [data-review] box and of the button, as JSON to /_review/verdict.
REVIEW_SCRIPT = """(function () {
  "use strict";
  function say(box, text, ok) {
    var s = box.querySelector(".said");
    if (s) { s.textContent = text; s.className = ok ? "said" : "said err"; }
  }
  function click(ev) {
    var b = ev.target.closest("button.verdict"), box = b && b.closest("[data-review]");
    if (!box) { return; }
    var body = {};
    [box.dataset, b.dataset].forEach(function (d) { Object.keys(d).forEach(function (k) { body[k] = d[k]; }); });
    b.disabled = true;
    fetch("/_review/verdict", {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        b.disabled = false;
        if (!res[0]) { say(box, "refused: " + res[1].error, false); return; }
        box.querySelectorAll("button.verdict").forEach(function (x) { x.classList.remove("chosen"); });
        b.classList.add("chosen");
        say(box, "recorded: " + res[1].recorded, true);
      })
      .catch(function (e) { b.disabled = false; say(box, "not recorded: " + e, false); });
  }
  document.body.classList.add("reviewing");
  document.addEventListener("click", click);
})();"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


CSP = (f"default-src 'none'; img-src data:; style-src {_csp_hash(CSS)}; script-src {_csp_hash(REVIEW_SCRIPT)}; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'")


class Html(str):
    """Markup: made by this module's builders (or ``Html(...)`` around a literal the caller wrote itself)."""

    __slots__ = ()


def esc(value: object) -> Html:
    """``value`` as markup: ``Html`` unchanged, anything else as escaped text (quotes included)."""
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def join(parts: Iterable[object]) -> Html:
    """Concatenate: markup as is, text escaped, ``None`` left out."""
    return Html("".join(esc(p) for p in parts if p is not None))


_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")
_VOID = {"img", "br", "hr", "meta"}
_REFUSED_TAGS = {"script", "style", "iframe", "object", "embed", "base", "form", "link", "frame"}
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]*={0,2}\Z")


def safe_url(url: object) -> str:
    """A relative link or an inlined image; anything with a scheme, a host or a leading slash is refused."""
    u = str(url)
    if _DATA_IMAGE.match(u):
        return u
    if any(ord(c) <= 0x20 or c in "\\\x7f" for c in u):
        raise ValueError(f"URL with whitespace, a control character or a backslash: {u[:60]!r}")
    parts = urlsplit(u)
    if parts.scheme or parts.netloc or u.startswith("/"):
        raise ValueError(f"only relative links and data:image URIs are allowed in a report: {u[:60]!r}")
    return u


def el(tag: str, *children: object, **attrs: object) -> Html:
    """``<tag attrs>children</tag>``: children are markup or text (escaped); attribute values are escaped.

    Attribute names come from keywords: ``class_="x"`` is ``class``, ``data_post_id=1`` is ``data-post-id``;
    ``None``/``False`` leave it out, ``True`` writes it bare.
    """
    if not _NAME.match(tag) or tag in _REFUSED_TAGS:
        raise ValueError(f"element <{tag}> is not allowed in a report")
    out = [f"<{tag}"]
    for key, value in attrs.items():
        name = key.rstrip("_").replace("_", "-")
        if not _NAME.match(name) or name.startswith("on") or name == "style":
            raise ValueError(f"attribute {name!r} is not allowed in a report")
        if value is None or value is False:
            continue
        if value is True:
            out.append(f" {name}")
            continue
        text = safe_url(value) if name in ("href", "src", "xlink-href") else str(value)
        out.append(f' {name}="{html.escape(text, quote=True)}"')
    out.append(">")
    if tag in _VOID:
        if children:
            raise ValueError(f"<{tag}> has no children")
        return Html("".join(out))
    return Html("".join(out) + join(children) + f"</{tag}>")


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
    return jpeg_uri(buf.getvalue())


def jpeg_uri(data: bytes) -> str:
    """JPEG bytes as a data URI: a thumbnail a stage made already (no second decode for the report)."""
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def figure(path: Path | str, caption: object, size: int = 160, css_class: str = "", *, lines: Sequence[object] = (),
           tags: object = None, link: str | None = None, data: Mapping[str, object] | None = None,
           actions: Html | None = None, jpeg: bytes | None = None) -> Html:
    """A thumbnail with its caption; then ``lines`` (text), ``tags`` (text) and ``actions`` (verdict buttons).

    ``link`` (relative) makes the thumbnail open the full-size file; ``data`` become ``data-*`` attributes of
    the figure (``data-review`` marks it as a box the review script reads). ``jpeg``: a ready thumbnail
    (else one is made from ``path``).
    """
    img = el("img", src=jpeg_uri(jpeg) if jpeg else thumbnail_uri(path, size), alt=caption)
    return el("figure", el("a", img, href=link) if link else img, el("figcaption", caption),
              *(el("p", line, class_="meta") for line in lines),
              el("p", tags, class_="tags") if tags else None, actions,
              class_=css_class or None, **{f"data_{k}": v for k, v in (data or {}).items()})


def verdicts(buttons: Sequence[tuple[str, Mapping[str, object]]]) -> Html:
    """Verdict buttons (label, data-* of the button): hidden until the review server's script shows them."""
    return el("div", *(el("button", label, type="button", class_="verdict", **{f"data_{k}": v for k, v in d.items()})
                       for label, d in buttons), el("span", class_="said"), class_="verdicts")


def row(figures: Iterable[object]) -> Html:
    return el("div", *figures, class_="row")


def table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> Html:
    return el("table", el("tr", *(el("th", h) for h in header)),
              *(el("tr", *(el("td", c) for c in r)) for r in rows))


def link(href: str, text: object) -> Html:
    return el("a", text, href=href)


def pager(pages: Sequence[tuple[str, object]], current: int) -> Html:
    """Links to every page (href, title); the current one in bold."""
    return el("nav", *(el("b", t) if i == current else link(h, t) for i, (h, t) in enumerate(pages)))


PALETTE = ("#3a7bd5", "#e07b39", "#8a5cc2", "#3aa17e")


def histogram(series: Mapping[str, Sequence[float]], marks: Mapping[str, float], *, lo: float = 0.0,
              hi: float = 1.0, bins: int = 20, width: int = 440, height: int = 170, title: str = "") -> Html:
    """Stacked bar counts of each series over [lo, hi] (NaN left out), with ``marks`` as labelled lines."""
    edges = [lo + (hi - lo) * i / bins for i in range(bins + 1)]
    counts = {name: [0] * bins for name in series}
    for name, values in series.items():
        for v in values:
            if v is not None and not math.isnan(v):
                counts[name][min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins)))] += 1
    tallest = max([sum(c[i] for c in counts.values()) for i in range(bins)] + [1])
    left, top, plot_w, plot_h = 34, 18, width - 44, height - 52
    bar_w = plot_w / bins
    parts: list[Html] = [el("text", title, x=left, y=12, font_size=12)] if title else []
    for i in range(bins):
        base = 0
        for k, name in enumerate(counts):
            n = counts[name][i]
            if n:
                h = plot_h * n / tallest
                y = top + plot_h - plot_h * (base + n) / tallest
                parts.append(el("rect", el("title", f"{name}: {n} in [{edges[i]:.2f}, {edges[i + 1]:.2f})"),
                                x=f"{left + i * bar_w:.1f}", y=f"{y:.1f}", width=f"{bar_w - 1:.1f}", height=f"{h:.1f}",
                                fill=PALETTE[k % len(PALETTE)]))
            base += n
    axis_y = top + plot_h
    parts.append(el("line", x1=left, y1=axis_y, x2=left + plot_w, y2=axis_y, stroke="#444"))
    for v in (lo, (lo + hi) / 2, hi):
        parts.append(el("text", f"{v:g}", x=f"{left + plot_w * (v - lo) / (hi - lo):.1f}", y=axis_y + 13,
                        font_size=10, text_anchor="middle"))
    parts.append(el("text", str(tallest), x=left - 4, y=top + 8, font_size=10, text_anchor="end"))
    for name, v in marks.items():
        x = f"{left + plot_w * (min(max(v, lo), hi) - lo) / (hi - lo):.1f}"
        parts += [el("line", x1=x, y1=top - 4, x2=x, y2=axis_y, stroke="#c22", stroke_width=2, stroke_dasharray="4 3"),
                  el("text", f"{name} {v:g}", x=x, y=top - 6, font_size=10, fill="#c22", text_anchor="middle")]
    for k, name in enumerate(counts):
        x = left + k * 130
        parts += [el("rect", x=x, y=height - 14, width=10, height=10, fill=PALETTE[k % len(PALETTE)]),
                  el("text", f"{name} ({sum(counts[name])})", x=x + 14, y=height - 5, font_size=11)]
    return el("svg", *parts, xmlns="http://www.w3.org/2000/svg", width=width, height=height,
              viewbox=f"0 0 {width} {height}", role="img", aria_label=title or None)


def page(title: object, sections: Iterable[tuple[object, object]], intro: object = "", *,
         nav: Html | None = None) -> str:
    """A whole page: ``sections`` are (heading, body) pairs; text is escaped, ``Html`` kept."""
    head = Html(f'<meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
                f'<meta name="viewport" content="width=device-width"><title>{esc(title)}</title>'
                f"<style>{CSS}</style>")
    body = [el("h1", title), nav, el("p", intro, class_="note") if intro else None]
    for heading, content in sections:
        body += [el("h2", heading), content]
    if nav:
        body.append(nav)
    return f"<!doctype html><html><head>{head}</head><body>{join(body)}</body></html>\n"
