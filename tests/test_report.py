"""The report toolkit: text is escaped by construction, unsafe markup is refused, pages carry no script."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from PIL import Image

from pipeline import report as html

XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


@pytest.mark.parametrize("text", XSS)
def test_text_stays_text_in_children_and_attributes(text):
    out = html.el("p", text, title=text, data_tag=text)
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert out == f'<p title="{escaped}" data-tag="{escaped}">{escaped}</p>'
    assert html.join([text, html.el("b", "x")]) == html.esc(text) + "<b>x</b>"
    fig = html.figure("/nonexistent.png", text, 32, tags=text, lines=[text])
    assert "<script" not in fig and fig.count("<img") == 1


@pytest.mark.parametrize(("call", "why"), [
    (lambda: html.el("script", "alert(1)"), "not allowed"),
    (lambda: html.el("style", "p{}"), "not allowed"),
    (lambda: html.el("p", onclick="alert(1)"), "not allowed"),
    (lambda: html.el("p", style="color:red"), "not allowed"),
    (lambda: html.el("a", href="javascript:alert(1)"), "relative"),
    (lambda: html.el("a", href=" javascript:alert(1)"), "whitespace"),
    (lambda: html.el("a", href="//evil.example/x"), "relative"),
    (lambda: html.el("a", href="/etc/passwd"), "relative"),
    (lambda: html.el("img", src="http://evil.example/x.png"), "relative"),
    (lambda: html.el("img", src="data:text/html;base64,PHNjcmlwdD4="), "relative"),
])
def test_unsafe_markup_is_refused(call, why):
    with pytest.raises(ValueError, match=why):
        call()


def test_relative_links_and_inlined_images_pass():
    assert html.el("a", "x", href="../../data/raw/images/ab/f.png") == '<a href="../../data/raw/images/ab/f.png">x</a>'
    uri = html.thumbnail_uri("/nonexistent.png", 16)  # an unreadable file: a grey placeholder, never a crash
    assert html.el("img", src=uri).startswith('<img src="data:image/jpeg;base64,')


def test_histogram_counts_and_draws_the_threshold():
    svg = html.histogram({"kept": [0.05, 0.1, float("nan")], "rejected": [0.9, 0.95, 0.97]}, {"small": 0.5},
                         bins=10, width=240, title="p_small")
    assert "kept: 2 in [0.00, 0.10)" not in svg and "kept: 1 in [0.00, 0.10)" in svg
    assert "kept: 1 in [0.10, 0.20)" in svg and "rejected: 3 in [0.90, 1.00)" in svg  # 1.0 lands in the last bin
    assert "kept (2)" in svg and "rejected (3)" in svg and "small 0.5" in svg
    x = re.search(r'<line x1="([\d.]+)" y1="14"', svg).group(1)  # the threshold line, half way along the axis
    assert float(x) == pytest.approx(34 + (240 - 44) * 0.5, abs=0.1)


def test_pages_have_a_strict_policy_and_no_script_and_are_deterministic():
    body = html.row([html.figure("/nonexistent.png", XSS[0], 32)])
    one, two = (html.page("T <i>", [("h " + XSS[1], body)], intro=XSS[0]) for _ in range(2))
    assert one == two
    assert "<script" not in one and "<i>" not in one
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', one).group(1)
    digest = base64.b64encode(hashlib.sha256(html.REVIEW_SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp.replace("&#x27;", "'")
    assert "default-src 'none'" in csp.replace("&#x27;", "'") and "img-src data:;" in csp


def test_thumbnails_are_small_jpegs(tmp_path):
    Image.new("RGB", (640, 320), (10, 200, 30)).save(tmp_path / "a.png")
    uri = html.thumbnail_uri(tmp_path / "a.png", 100)
    raw = base64.b64decode(uri.split(",", 1)[1])
    assert raw[:2] == b"\xff\xd8" and len(raw) < 4000
