"""Fault profiles of the sample booru: the ways the real site misbehaves, reproducible from a seed.

Every decision is a deterministic hash of ``(seed, profile, request key, n)`` where ``n`` counts how many
times that key was requested before (0 for the first request). The request key is the normalised path
plus, for the API, the sorted query parameters (an image's ``?{id}`` cache-buster is not part of its
key). So a client that retries a URL eventually gets a good answer (transient faults never hit an
attempt ``n >= MAX_FAULTY_ATTEMPTS``), and the same client behaviour meets the same faults on every run.
Only the ``ratelimit`` token bucket depends on wall-clock time.

Profiles (``PROFILES``):

``none``
    A well-behaved site.
``errors``
    ~10% of requests (API, tags and files) answer HTTP 500, 502 or 504 with an HTML error page.
``ratelimit``
    A server-side token bucket of ``rate`` requests/s (burst ``rate``): over it, HTTP 429 with
    ``Retry-After: 1``. Plus ~3% HTTP 503 with ``Retry-After: 1`` (a Cloudflare hiccup).
``truncated``
    ~10% of responses send the full ``Content-Length`` header but only part of the body (sometimes none)
    and then close the connection.
``html``
    ~12% of API/tag answers are replaced, with HTTP 200, by an HTML error page or by
    ``<response success="false" reason="..."/>``; ~3% of file downloads get the HTML page (status 200).
``shortpages``
    Post pages (``s=post&q=index``) come back short or empty although more posts exist (XML ``count`` is
    still the true total; an empty JSON page is an empty body, like "no results"): ~30% of keys on the
    first attempt, ~10% on the second, never after.
``badmd5``
    File bytes that do not match the post's md5 (same length, a few bytes flipped): ~2% of posts are
    PERMANENTLY wrong (every attempt, see ``Faults.permanently_bad``), ~10% of other image requests only on
    the first attempt.
``chaos``
    All of the above at lower rates.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

PROFILES: tuple[str, ...] = ("none", "errors", "ratelimit", "truncated", "html", "shortpages", "badmd5",
                             "chaos")
MAX_FAULTY_ATTEMPTS = 4  # transient faults never hit the 5th request of a key or later
FILE_KINDS = ("image", "sample", "thumbnail")
API_KINDS = ("api", "tag")

# Per-profile rates of each fault (fractions of the requests the fault applies to).
_RATES: dict[str, dict[str, float]] = {
    "none": {},
    "errors": {"error": 0.10},
    "ratelimit": {"bucket": 1.0, "unavailable": 0.03},
    "truncated": {"truncate": 0.10},
    "html": {"html_api": 0.12, "html_file": 0.03},
    "shortpages": {"short0": 0.30, "short1": 0.10},
    "badmd5": {"bad_perm": 0.02, "bad_once": 0.10},
    "chaos": {"error": 0.03, "bucket": 1.0, "unavailable": 0.01, "truncate": 0.03, "html_api": 0.03,
              "html_file": 0.01, "short0": 0.08, "short1": 0.03, "bad_perm": 0.01, "bad_once": 0.03},
}


@dataclass(frozen=True)
class Fault:
    """What to do to one response.

    kind: ``status`` (answer ``status`` with an HTML page, ``retry_after`` if set), ``truncate`` (send
    ``fraction`` of the body then close), ``html`` (HTML page, 200), ``xml_error`` (``<response
    success="false">``, 200), ``short`` (keep ``fraction`` of the page's posts), ``corrupt`` (flip bytes).
    """

    kind: str
    status: int = 200
    retry_after: int | None = None
    fraction: float = 1.0
    salt: int = 0


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` stored; thread-safe."""

    def __init__(self, rate: float, burst: float | None = None):
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


class Faults:
    """The fault plan of one server: ``decide(key, kind, ...)`` per request."""

    def __init__(self, profile: str = "none", seed: int = 0, rate: float = 20.0):
        if profile not in PROFILES:
            raise ValueError(f"unknown fault profile {profile!r}; known: {', '.join(PROFILES)}")
        self.profile, self.seed = profile, seed
        self.rates = _RATES[profile]
        self.bucket = TokenBucket(rate) if "bucket" in self.rates else None
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def _u(self, *parts: object) -> float:
        """A uniform number in [0, 1) from the seed, the profile and ``parts``."""
        text = "\x1f".join(str(p) for p in (self.seed, self.profile, *parts))
        digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def attempt(self, key: str) -> int:
        """Count one request of ``key``; returns how many times it was requested before."""
        with self._lock:
            n = self._seen.get(key, 0)
            self._seen[key] = n + 1
            return n

    def permanently_bad(self, post_id: int) -> bool:
        """Whether post ``post_id``'s file is served with wrong bytes on every attempt (badmd5/chaos)."""
        rate = self.rates.get("bad_perm", 0.0)
        return rate > 0 and self._u("bad_perm", post_id) < rate

    def decide(self, key: str, kind: str, post_id: int | None = None, paged: bool = False) -> Fault | None:
        """The fault for this request of ``key`` (``kind`` as in RequestRecord), or None.

        ``post_id``: the post a file request belongs to; ``paged``: a post-search page (shortpages).
        """
        if not self.rates or kind not in (*FILE_KINDS, *API_KINDS):
            return None
        n = self.attempt(key)
        r = self.rates
        if self.bucket is not None and not self.bucket.take():
            return Fault("status", 429, retry_after=1)
        transient = n < MAX_FAULTY_ATTEMPTS

        def hit(name: str) -> bool:
            rate = r.get(name, 0.0)
            return rate > 0 and self._u(name, key, n) < rate

        if transient and hit("unavailable"):
            return Fault("status", 503, retry_after=1)
        if transient and hit("error"):
            status = (500, 502, 504)[int(self._u("error-status", key, n) * 3)]
            return Fault("status", status)
        if transient and kind in API_KINDS and hit("html_api"):
            return Fault("html" if self._u("html-kind", key, n) < 0.5 else "xml_error")
        if transient and kind in FILE_KINDS and hit("html_file"):
            return Fault("html")
        if kind == "image" and post_id is not None:
            if self.permanently_bad(post_id):
                return Fault("corrupt", salt=post_id)
            if n == 0 and hit("bad_once"):
                return Fault("corrupt", salt=n + 1)
        if paged and ((n == 0 and hit("short0")) or (n == 1 and hit("short1"))):
            # Half of the short pages are empty, the others keep a random part.
            u = self._u("short-fraction", key, n)
            return Fault("short", fraction=0.0 if u < 0.5 else (u - 0.5) * 2)
        if transient and hit("truncate"):
            return Fault("truncate", fraction=self._u("truncate-fraction", key, n) * 0.9)
        return None


def corrupt(data: bytes, salt: int) -> bytes:
    """``data`` with a few bytes flipped (same length; md5 differs). Deterministic in ``salt``."""
    if not data:
        return b"\0"
    buf = bytearray(data)
    h = hashlib.blake2b(f"{salt}:{len(data)}".encode(), digest_size=16).digest()
    for pos in {(len(buf) // 2 + int.from_bytes(h[4 * i:4 * i + 4], "big")) % len(buf) for i in range(4)}:
        buf[pos] ^= 0xFF
    return bytes(buf)
