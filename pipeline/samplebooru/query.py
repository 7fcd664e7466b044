"""Safebooru (Gelbooru 0.2) tag search over the sample corpus.

``search(posts, "1girl -comic blue_* rating:general id:<5000 sort:id:asc")`` returns the matching posts in
the requested order. Syntax, as on the real site:

- space separated terms are ANDed; ``-term`` excludes; ``*`` is a wildcard (anywhere in a term);
- ``~a ~b`` (every ``~``-prefixed term of the query forms one OR group), also ``a ~ b``;
- metatags ``rating:`` (general|safe|g|s, questionable|q, explicit|e; safe and general are the same),
  ``id:``, ``width:``, ``height:``, ``score:`` with ``N``, ``<N``, ``>N``, ``<=N``, ``>=N``, ``N..M``
  (a null score counts as 0), ``md5:``, ``user:``, ``source:`` (wildcards allowed), ``parent:N``
  (the children of post N; ``parent:none`` posts without a parent);
- ``sort:<id|score|rating|user|height|width|parent|source|updated>[:asc|:desc]``, default ``id`` descending,
  ties broken by id descending. ``sort:random`` does nothing (as on Safebooru). An unknown ``sort:`` is
  ignored. A term with an unknown ``prefix:`` is an ordinary tag (tags like ``re:zero`` exist).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from pipeline.samplebooru.corpus import Post

Predicate = Callable[[Post], bool]

NUMERIC_META = ("id", "width", "height", "score")
TEXT_META = ("md5", "user", "source")
METATAGS = (*NUMERIC_META, *TEXT_META, "rating", "parent", "sort")
SORT_KEYS = ("id", "score", "rating", "user", "height", "width", "parent", "source", "updated")

_RATING = {"general": "g", "safe": "g", "g": "g", "s": "g", "sensitive": "g",
           "questionable": "q", "q": "q", "explicit": "e", "e": "e"}
_RATING_ORDER = {"g": 0, "q": 1, "e": 2}
_NUM = re.compile(r"^(<=|>=|<|>|=)?(-?\d+)$")
_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


def rating_class(rating: str) -> str:
    """``general``/``safe`` → ``g``, ``questionable`` → ``q``, ``explicit`` → ``e`` ('' if unknown)."""
    return _RATING.get(rating.lower(), "")


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.IGNORECASE)


def _numeric(field_: str, value: str) -> Predicate | None:
    def get(p: Post) -> int:
        v = getattr(p, field_)
        return 0 if v is None else int(v)

    m = _RANGE.match(value)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        return lambda p: lo <= get(p) <= hi
    m = _NUM.match(value)
    if not m:
        return None
    op, n = m.group(1) or "=", int(m.group(2))
    return {
        "=": lambda p: get(p) == n,
        "<": lambda p: get(p) < n,
        ">": lambda p: get(p) > n,
        "<=": lambda p: get(p) <= n,
        ">=": lambda p: get(p) >= n,
    }[op]


def _never(_: Post) -> bool:
    return False


def _term(term: str) -> Predicate | None:
    """The predicate of one (unprefixed) term; ``None`` for a term that does not filter (sort:)."""
    prefix, sep, value = term.partition(":")
    prefix = prefix.lower()
    if sep and prefix in METATAGS and value:
        if prefix == "sort":
            return None
        if prefix in NUMERIC_META:
            return _numeric(prefix, value) or _never
        if prefix == "rating":
            want = rating_class(value)
            return (lambda p: rating_class(p.rating) == want) if want else _never
        if prefix == "parent":
            if value.lower() == "none":
                return lambda p: p.parent_id == 0
            if not value.isdigit():
                return _never
            parent = int(value)
            return lambda p: p.parent_id == parent
        attr = {"md5": "md5", "user": "owner", "source": "source"}[prefix]
        rx = _wildcard(value)
        return lambda p: bool(rx.match(getattr(p, attr)))
    if "*" in term:
        rx = _wildcard(term)
        return lambda p: any(rx.match(t) for t in p.tags)
    name = term.lower()
    return lambda p: name in p.tags


@dataclass
class Query:
    """A parsed tag search: predicates to AND, one OR group, and the order."""

    must: list[Predicate] = field(default_factory=list)
    any_of: list[Predicate] = field(default_factory=list)
    sort_key: str = "id"
    descending: bool = True

    def matches(self, post: Post) -> bool:
        if not all(pred(post) for pred in self.must):
            return False
        return not self.any_of or any(pred(post) for pred in self.any_of)

    def order(self, posts: Iterable[Post]) -> list[Post]:
        if self.sort_key == "id":  # ids are unique: no tie-break needed (and the input is usually sorted)
            return sorted(posts, key=attrgetter("id"), reverse=self.descending)
        key = _sort_key(self.sort_key)
        # Ties break by id descending whatever the direction, as a database's secondary order would.
        if self.descending:
            return sorted(posts, key=lambda p: (key(p), p.id), reverse=True)
        return sorted(posts, key=lambda p: (key(p), -p.id))


def _sort_key(name: str) -> Callable[[Post], object]:
    return {
        "id": lambda p: p.id,
        "score": lambda p: p.score or 0,
        "rating": lambda p: _RATING_ORDER.get(rating_class(p.rating), 0),
        "user": lambda p: p.owner.lower(),
        "height": lambda p: p.height,
        "width": lambda p: p.width,
        "parent": lambda p: p.parent_id,
        "source": lambda p: p.source,
        "updated": lambda p: p.change,
    }[name]


def parse(tags: str) -> Query:
    """Parse a ``tags`` parameter (already URL-decoded: ``+`` is a space)."""
    q = Query()
    terms = tags.split()
    i = 0
    while i < len(terms):
        term = terms[i]
        # Infix OR: "a ~ b ~ c" joins its neighbours into the OR group.
        if i + 2 < len(terms) and terms[i + 1] == "~":
            group = [term]
            while i + 2 < len(terms) and terms[i + 1] == "~":
                group.append(terms[i + 2])
                i += 2
            i += 1
            preds = [p for p in (_term(t[1:] if t.startswith("~") else t) for t in group) if p is not None]
            q.any_of.extend(preds)
            continue
        i += 1
        if term == "~":
            continue
        if term.startswith("~") and len(term) > 1:
            pred = _term(term[1:])
            if pred is not None:
                q.any_of.append(pred)
            continue
        negate = term.startswith("-") and len(term) > 1
        body = term[1:] if negate else term
        prefix, _, value = body.partition(":")
        if prefix.lower() == "sort" and value and not negate:
            key, _, direction = value.lower().partition(":")
            if key in SORT_KEYS:
                q.sort_key = key
                q.descending = direction != "asc"
            continue  # sort:random and unknown keys do nothing
        pred = _term(body)
        if pred is None:
            continue
        if negate:
            pred = (lambda f: lambda p: not f(p))(pred)
        # Metatags first: they are cheap and cut the candidates down (a cursor's id:<N especially).
        q.must.insert(0 if prefix.lower() in METATAGS else len(q.must), pred)
    return q


def search(posts: Sequence[Post], tags: str) -> list[Post]:
    """All posts matching ``tags``, in the query's order."""
    q = parse(tags)
    return q.order(p for p in posts if q.matches(p))
