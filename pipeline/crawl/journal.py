"""Resume and incremental state of a crawl: an append-only journal, and the manifest built from it.

The journal is one JSON object per line, flushed per record. A ``kill -9`` can only tear its last line;
reading ignores a torn line and opening for append cuts it off, so the next record starts clean.

Records (``t`` = type):
  run    a run begins (a run ends with ``end``; a journal whose last run has no ``end`` is resumed)
  page   one API page's outcome for a query: the posts it listed (``posts``), the run's descent top,
         the cursor below which the descent continues, and whether the query is done for this run
  file   a file's outcome for a post: ok | failed | rejected, reason, path, size, time
  end    the run finished; ``newest`` maps each query key to the newest post id it has covered,
         so the next run only lists posts above it (incremental crawls)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.manifest import RAW_POSTS

JOURNAL_FILE = ".crawl/journal.jsonl"  # inside the raw folder


def journal_path(raw_dir: Path | str) -> Path:
    return Path(raw_dir) / JOURNAL_FILE


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_journal(path: Path | str) -> list[dict[str, Any]]:
    """All complete records of a journal (a torn or garbled line is skipped)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break  # torn last line
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    return out


@dataclass
class QueryRun:
    """A query's progress within the current run."""

    top: int | None = None  # newest id met by this run's descent
    cursor: int | None = None  # the descent continues below this id
    accepted: int = 0  # posts taken (to be fetched) by this query in this run
    done: bool = False


@dataclass
class CrawlState:
    """Everything the journal says, kept in memory; ``record_*`` append to the journal as they update."""

    path: Path
    run: int = 0
    resumed: bool = False
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> listed row (+ query, listed_at)
    files: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> latest file outcome
    file_runs: dict[int, int] = field(default_factory=dict)  # id -> run of that outcome
    queries: dict[str, QueryRun] = field(default_factory=dict)  # this run's per-query progress
    newest: dict[str, int] = field(default_factory=dict)  # from finished runs
    all_done: bool = False  # every query finished in this run (set by the spider): the run may end
    _f: Any = None

    @classmethod
    def open(cls, path: Path | str) -> CrawlState:
        """Load the journal at ``path`` and begin a run, or resume the unfinished one."""
        state = cls(Path(path))
        open_run = False
        for rec in read_journal(state.path):
            t = rec.get("t")
            if t == "run":
                state.run, open_run, state.queries = rec["run"], True, {}
            elif t == "end":
                open_run = False
                for k, v in rec.get("newest", {}).items():
                    state.newest[k] = max(state.newest.get(k, 0), v)
            elif t == "page":
                state._apply_page(rec)
            elif t == "file":
                state.files[rec["id"]] = rec
                state.file_runs[rec["id"]] = rec.get("run", 0)
        state._open_for_append()
        if open_run:
            state.resumed = True
        else:
            state.run += 1
            state.queries = {}
            state._write({"t": "run", "run": state.run, "at": utc_now()})
        return state

    def __deepcopy__(self, memo: dict[int, Any]) -> CrawlState:
        """The live journal itself: Scrapy deep-copies its settings, and every copy must append to one file."""
        return self

    def _open_for_append(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():  # cut a torn last line so the next record starts on a fresh line
            data = self.path.read_bytes()
            keep = data.rfind(b"\n") + 1
            if keep != len(data):
                with open(self.path, "r+b") as f:
                    f.truncate(keep)
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def _write(self, rec: dict[str, Any]) -> None:
        self._f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None

    def _apply_page(self, rec: dict[str, Any]) -> None:
        for p in rec.get("posts", []):
            self.posts.setdefault(p["id"], p)
        q = rec.get("q")
        if q is not None:
            qr = self.queries.setdefault(q, QueryRun())
            qr.top, qr.cursor, qr.done = rec.get("top"), rec.get("cursor"), bool(rec.get("done"))
            qr.accepted += sum(1 for p in rec.get("posts", []) if not p.get("reason"))

    # ------------------------------------------------------------------ updates

    def record_page(self, query: str, posts: list[dict[str, Any]], top: int | None, cursor: int | None,
                    done: bool) -> None:
        """Journal one page: its new posts (each with ``query``, ``reason``, ``listed_at``), then progress."""
        rec = {"t": "page", "run": self.run, "q": query, "top": top, "cursor": cursor, "done": done,
               "posts": posts}
        self._write(rec)
        self._apply_page(rec)

    def record_file(self, post_id: int, status: str, reason: str = "", path: str | None = None,
                    size: int | None = None) -> None:
        rec = {"t": "file", "run": self.run, "id": post_id, "status": status, "reason": reason,
               "path": path, "size": size, "at": utc_now()}
        self._write(rec)
        self.files[post_id] = rec
        self.file_runs[post_id] = self.run

    def end_run(self) -> None:
        newest = dict(self.newest)
        for k, qr in self.queries.items():
            if qr.top is not None:
                newest[k] = max(newest.get(k, 0), qr.top)
        self._write({"t": "end", "run": self.run, "at": utc_now(), "newest": newest})
        self.newest = newest

    # ------------------------------------------------------------------ queries

    def query_run(self, key: str) -> QueryRun:
        return self.queries.setdefault(key, QueryRun())

    def accepted_this_run(self) -> int:
        return sum(q.accepted for q in self.queries.values())

    def to_fetch(self) -> list[dict[str, Any]]:
        """Accepted posts with no final file outcome yet: never resolved, or failed in an earlier run."""
        out = []
        for pid, post in self.posts.items():
            if post.get("reason"):
                continue
            f = self.files.get(pid)
            if f is None or (f["status"] == "failed" and self.file_runs.get(pid, 0) < self.run):
                out.append(post)
        return sorted(out, key=lambda p: -p["id"])




def build_manifest(state: CrawlState) -> pd.DataFrame:
    """data/raw/posts.parquet as a DataFrame: one row per post ever listed, with its latest outcome."""
    rows = []
    for pid, post in state.posts.items():
        row = {k: post.get(k) for k in RAW_POSTS.names}
        f = state.files.get(pid)
        if post.get("reason"):
            row.update(status="rejected", reason=post["reason"], path=None, file_size=None,
                       fetched_at=post.get("listed_at"))
        elif f is not None:
            row.update(status=f["status"], reason=f["reason"], path=f["path"] if f["status"] == "ok" else None,
                       file_size=f["size"] if f["status"] == "ok" else None, fetched_at=f["at"])
        else:
            row.update(status="failed", reason="not_fetched", path=None, file_size=None,
                       fetched_at=post.get("listed_at"))
        rows.append(row)
    df = pd.DataFrame(rows, columns=RAW_POSTS.names)
    for col in ("width", "height", "score", "change", "file_size"):
        df[col] = df[col].astype("Int64")
    return df
