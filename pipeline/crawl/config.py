"""The crawl stage's settings: params.yaml ``crawl:`` maps onto ``CrawlConfig`` (``pipeline.config``).

No field has a default: params.yaml is the one place defaults live. Values are checked here, at start-up,
so a crawl never runs an hour on a setting it cannot honour.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.manifest import normalise_rating

API_MAX_LIMIT = 1000  # the API clamps `limit` to this
SAMPLE_SOURCE = "sample"


@dataclass(frozen=True)
class Query:
    """One configured tag query and the most posts one run may take from it (None: all)."""

    tags: str
    max_posts: int | None

    @property
    def key(self) -> str:
        """The query's identity (normalised tags): its resume and incremental state hang on it."""
        return " ".join(self.tags.split())


@dataclass(frozen=True)
class Retry:
    times: int  # retries of a failed request (5xx, connection errors, truncated bodies)
    md5_retries: int  # re-downloads of a file whose md5 does not match the API's hash
    empty_page_retries: int  # re-requests of an empty/short page while `count` says more exist
    max_retry_after: float  # longest Retry-After honoured; a longer one counts as a failure
    backoff: float  # pause (s) after a 429/503 without Retry-After, doubled per attempt


@dataclass(frozen=True)
class CrawlConfig:
    """The ``crawl:`` section of params.yaml."""

    source: str  # "sample" or the base URL of a Gelbooru 0.2 site
    queries: tuple[Query, ...]
    limit: int | None  # most posts (over all queries) one run takes
    min_width: int
    min_height: int
    ratings: tuple[str, ...]  # normalised on construction: "safe" is "general"
    rate: float  # requests/s to a real site; 0 = unlimited
    sample_rate: float  # requests/s when source is the embedded sample booru; 0 = unlimited
    concurrency: int
    page_size: int
    max_file_bytes: int
    user_agent: str
    timeout: float
    retry: Retry

    def __post_init__(self) -> None:
        if not self.queries:
            raise ValueError("queries: at least one query is needed")
        if not 1 <= self.page_size <= API_MAX_LIMIT:
            raise ValueError(f"page_size must be in 1..{API_MAX_LIMIT}")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        object.__setattr__(self, "ratings", tuple(normalise_rating(r) for r in self.ratings))

    def request_rate(self, is_sample: bool) -> float:
        return self.sample_rate if is_sample else self.rate


@dataclass(frozen=True)
class SampleBooruConfig:
    """The ``samplebooru:`` section: the embedded sample booru the crawl starts when ``source: sample``."""

    seed: int
    posts: int
