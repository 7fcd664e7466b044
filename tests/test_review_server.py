"""The review server over plain HTTP on loopback: what it serves, what it refuses, and whole lines per click."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
from urllib.parse import urljoin

import pytest
import requests

from pipeline import report as html
from pipeline.dedup.labels import read_pair_labels
from pipeline.labels import read_labels
from pipeline.review.server import ReviewPaths, ReviewServer
from tests.conftest import REPO

SECRET = "top-secret-do-not-serve"


@pytest.fixture(scope="module")
def tree(review_tree):
    (review_tree.root / "secret.txt").write_text(SECRET)  # beside the served folders, under the same root
    return review_tree  # its data/raw/posts.parquet is not served either: only data/raw/images/


@pytest.fixture()
def server(tree, tmp_path):
    paths = ReviewPaths(tree.reports, tree.raw / "images", tmp_path / "labels.csv", tmp_path / "dedup_labels.csv")
    with ReviewServer(paths).start(0) as srv:
        yield srv


def raw_get(url: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET exactly ``target`` (no client-side normalising of ``..``) with exactly these Host/Origin headers."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
    for k, v in (headers if headers is not None else {"Host": f"127.0.0.1:{port}"}).items():
        conn.putheader(k, v)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def post(srv, body: object, origin: str | None = "own", **headers: str) -> requests.Response:
    h = {"Content-Type": "application/json"} | ({"Origin": srv.url if origin == "own" else origin} if origin else {})
    return requests.post(srv.url + "/_review/verdict", data=json.dumps(body), headers=h | headers, timeout=10)


def label_click(tree, target: str = "small", value: object = 0, **over: object) -> dict:
    row = tree.decisions.iloc[0]
    return {"review": "label", "postId": str(row["id"]), "md5": row["md5"], "target": target, "value": str(value)} | over


def test_reports_are_served_with_the_review_script_and_images_as_images(tree, server):
    page = requests.get(server.url + "/reports/filter/index.html", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert f"<script>{html.REVIEW_SCRIPT}</script></body>" in page.text
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "<script" not in tree.filter_html.read_text()  # the file on disk has none
    front = requests.get(server.url + "/", timeout=10).text
    assert 'href="reports/dedup/index.html"' in front and 'href="reports/filter/index.html"' in front
    href = re.search(r'<a href="([^"]+)"><img', page.text).group(1)  # a thumbnail's full-size link
    got = requests.get(urljoin(page.url, href), timeout=10)  # resolves on the server as it does on disk
    image = tree.raw / "images" / href.split("/images/", 1)[1]
    assert got.status_code == 200 and got.content == image.read_bytes()
    assert got.headers["Content-Type"].startswith("image/") and got.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("target", [
    "/reports/../secret.txt", "/reports/filter/../../secret.txt", "/reports/%2e%2e/secret.txt",
    "/reports/%2E%2E%2Fsecret.txt", "/reports/..%2fsecret.txt", "/reports/%252e%252e/secret.txt",
    "/secret.txt", "//secret.txt", "/etc/passwd", "http://127.0.0.1/secret.txt", "/data/raw/posts.parquet",
    "/reports/..\\secret.txt", "/reports/%00/index.html", "/data/raw/images/../../../secret.txt",
])
def test_paths_outside_the_served_folders_are_refused(server, target):
    status, body = raw_get(server.url, target)
    assert status in (400, 403, 404), (target, status)
    assert SECRET.encode() not in body and b"PAR1" not in body


@pytest.mark.parametrize("headers", [
    {"Host": "evil.example:80"}, {"Host": "localhost.evil.example"}, {},
    {"Host": "OWN", "Origin": "http://evil.example"}, {"Host": "OWN", "Origin": "null"},
    {"Host": "OWN", "Sec-Fetch-Site": "cross-site"},
])
def test_a_foreign_host_or_origin_is_refused(server, headers):
    port = server.url.rsplit(":", 1)[1]
    own = {k: v.replace("OWN", f"127.0.0.1:{port}") for k, v in headers.items()}
    status, _ = raw_get(server.url, "/reports/filter/index.html", own)
    assert status == 403
    assert raw_get(server.url, "/reports/filter/index.html")[0] == 200  # the same request from its own page


def test_a_verdict_is_one_line_and_anything_else_is_refused(tree, server, tmp_path):
    ok = post(server, label_click(tree))
    assert ok.status_code == 200 and ok.json() == {"ok": True, "recorded": f"not small (post {label_click(tree)['postId']})"}
    refused = [
        post(server, label_click(tree, target="tiny")),  # not in the vocabulary
        post(server, label_click(tree, value=2)),
        post(server, label_click(tree, md5="../../etc/passwd")),
        post(server, label_click(tree) | {"extra": "1"}),
        post(server, {"review": "pair", "md5A": "a" * 32, "md5B": "b" * 32, "verdict": "maybe"}),
        post(server, label_click(tree), origin="http://evil.example"),
        post(server, label_click(tree), origin=None),  # a write needs the page's Origin
        post(server, label_click(tree), **{"Content-Type": "text/plain"}),
        post(server, "not an object"),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400, 400, 400, 403, 403, 415, 400]
    assert "target must be one of" in refused[0].json()["error"]
    labels, bad = read_labels(tmp_path / "labels.csv")
    assert not bad and [(lab.target, lab.value, lab.source) for lab in labels] == [("small", 0, "review-server")]
    assert not (tmp_path / "dedup_labels.csv").exists()
    pair = post(server, {"review": "pair", "md5A": "b" * 32, "md5B": "a" * 32, "verdict": "different"})
    assert pair.status_code == 200 and pair.json()["recorded"] == "not the same picture"
    pairs, _ = read_pair_labels(tmp_path / "dedup_labels.csv")
    assert [(p.md5_a, p.md5_b, p.verdict) for p in pairs] == [("a" * 32, "b" * 32, "different")]


def test_sixteen_concurrent_clicks_give_sixteen_whole_lines(tree, server, tmp_path):
    rows = tree.decisions.iloc[:16]
    start = threading.Barrier(16)
    codes: list[int] = []

    def click(k: int) -> None:
        start.wait()
        r = post(server, label_click(tree, "clutter", k % 2, postId=str(rows["id"].iloc[k]), md5=rows["md5"].iloc[k]))
        codes.append(r.status_code)

    threads = [threading.Thread(target=click, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 16
    lines = (tmp_path / "labels.csv").read_text().splitlines()
    assert len(lines) == 17 and lines[0] == "post_id,md5,target,value,time,source"
    labels, bad = read_labels(tmp_path / "labels.csv")
    assert not bad and sorted(lab.post_id for lab in labels) == sorted(rows["id"])


def test_the_command_prints_one_line_and_serves_until_interrupted(tree, tmp_path):
    cmd = [sys.executable, "-m", "pipeline.review", "--port", "0", "--reports", str(tree.reports),
           "--images", str(tree.raw / "images"), "--labels", str(tmp_path / "l.csv"),
           "--dedup-labels", str(tmp_path / "d.csv")]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:") and line.endswith("\n")
        url = line.split()[1]
        assert requests.get(url + "/reports/dedup/index.html", timeout=10).status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and out == ""  # nothing after the one line
