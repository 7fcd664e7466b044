"""Items the safebooru spider yields; the item pipelines do all the I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PageItem:
    """One API page of one query: the new posts it listed (each with ``reason`` "" when to be fetched),
    and the query's progress after it (journalled after the posts, so a resume never skips a post)."""

    query: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    top: int | None = None
    cursor: int | None = None
    done: bool = False


@dataclass
class FetchItem:
    """Posts listed earlier (a killed run, or failed in an earlier run) whose files are still to fetch."""

    posts: list[dict[str, Any]] = field(default_factory=list)
