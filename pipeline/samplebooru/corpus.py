"""The sample corpus: rendered posts, what the booru publishes about them, and their ground truth.

``Corpus(n_posts, seed)`` renders (or loads from its on-disk cache) the first ``n_posts`` posts of
corpus ``seed``. ``corpus.posts`` is what the HTTP API may expose; ``corpus.truth(post_id)`` and
``corpus.line_mask(post_id)`` are the ground truth the API never exposes.

Cache layout, one completion marker per post (the ``.json``, written last)::

    <cache_dir>/v<SPEC>.<RENDER>/seed<seed>/<index:06d>.<ext>        the file's bytes
    <cache_dir>/v<SPEC>.<RENDER>/seed<seed>/<index:06d>.lines.png    line-layer mask (if any)
    <cache_dir>/v<SPEC>.<RENDER>/seed<seed>/<index:06d>.json         Post + Truth
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.samplebooru import render, reuploads
from pipeline.samplebooru.canvas import PARTS  # noqa: F401 - re-exported: the part codes of part_map
from pipeline.samplebooru.spec import SPEC_VERSION, PostSpec, make_spec, post_id
from pipeline.store import atomic_write_bytes

SAMPLE_WIDTH = 850
THUMB_SIZE = 150


@dataclass(frozen=True)
class Post:
    """One post as the booru publishes it (the API's view; no ground truth here)."""

    id: int
    md5: str
    ext: str
    width: int
    height: int
    file_size: int
    directory: int
    image: str  # file name under /images/<directory>/
    rating: str  # JSON spelling: general | safe | questionable | explicit
    tags: tuple[str, ...]
    parent_id: int  # 0 when unset
    has_children: bool
    score: int | None
    source: str
    owner: str
    created_at: int
    change: int
    has_notes: bool
    comment_count: int
    status: str
    legacy: bool  # old record: JSON carries no *_url fields

    @property
    def stem(self) -> str:
        return self.image.rsplit(".", 1)[0]

    @property
    def sample(self) -> bool:
        return self.width > SAMPLE_WIDTH

    @property
    def sample_size(self) -> tuple[int, int]:
        if not self.sample:
            return self.width, self.height
        return SAMPLE_WIDTH, max(1, round(self.height * SAMPLE_WIDTH / self.width))

    @property
    def preview_size(self) -> tuple[int, int]:
        scale = min(1.0, THUMB_SIZE / max(self.width, self.height, 1))
        return max(1, round(self.width * scale)), max(1, round(self.height * scale))


@dataclass(frozen=True)
class Truth:
    """Ground truth of one post: what later stages are measured against."""

    post_id: int
    index: int
    tone: str  # color | greyscale | monochrome | lineart
    layout: str  # illustration | comic
    characters: tuple[str, ...]
    main_character: str | None
    char_area: float  # fraction of the image covered by characters
    char_bbox: tuple[int, int, int, int] | None  # x0, y0, x1, y1 in file pixels
    clutter: float  # measured clutter score in [0, 1]
    clutter_param: float  # the scene parameter it was drawn from
    char_scale: float
    framing: str
    background: str
    dup_group: int  # posts with the same dup_group are one drawing (re-uploads)
    family: int  # parent/child family (index of its root post)
    parent_id: int
    transform: str | None  # one of spec.REUPLOAD_TRANSFORMS for a re-upload, else None
    transform_detail: str  # the kind and its params, e.g. "crop l=0.052 r=0.010 t=0.081 b=0.000" ("" if none)
    broken: str | None  # one of spec.BROKEN_KINDS
    true_tags: tuple[str, ...]
    tag_edits: tuple[str, ...]
    has_lines: bool


def default_cache_dir() -> Path:
    env = os.environ.get("LINECOLOR_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "linecolor" / "samplebooru"


def _file_name(spec: PostSpec, md5: str) -> str:
    return f"{md5 if spec.legacy else spec.image_stem}.{spec.ext}"


def _build_one(args: tuple[Path, int, int]) -> int:
    """Render post ``index`` into ``folder`` unless its completion marker is there."""
    folder, seed, index = args
    marker = folder / f"{index:06d}.json"
    if marker.exists():
        return index
    spec = make_spec(seed, index)
    out = render.render_post(spec)
    md5 = hashlib.md5(out.data).hexdigest()
    atomic_write_bytes(folder / f"{index:06d}.{spec.ext}", out.data)
    if out.line_mask is not None:
        buf = io.BytesIO()
        # A 1-bit PNG at low compression: a fraction of the time of an 8-bit one.
        Image.fromarray(np.ascontiguousarray(out.line_mask, dtype=bool)).save(buf, format="PNG", compress_level=1)
        atomic_write_bytes(folder / f"{index:06d}.lines.png", buf.getvalue())
    parent_id = post_id(seed, spec.parent_index) if spec.parent_index is not None else 0
    post = Post(
        id=spec.id, md5=md5, ext=spec.ext, width=out.width, height=out.height, file_size=len(out.data),
        directory=spec.directory, image=_file_name(spec, md5), rating=spec.rating, tags=spec.tags,
        parent_id=parent_id, has_children=False, score=spec.score, source=spec.source, owner=spec.owner,
        created_at=spec.created_at, change=spec.change, has_notes=spec.has_notes,
        comment_count=spec.comment_count, status="active", legacy=spec.legacy,
    )
    chars = spec.scene.characters
    truth = Truth(
        post_id=spec.id, index=index, tone=spec.tone, layout=spec.scene.layout, characters=chars,
        main_character=chars[0] if chars else None, char_area=out.char_area, char_bbox=out.char_bbox,
        clutter=out.clutter, clutter_param=spec.scene.clutter, char_scale=spec.scene.char_scale,
        framing=spec.scene.framing, background=spec.scene.background, dup_group=spec.dup_group,
        family=spec.family, parent_id=parent_id, transform=spec.transform,
        transform_detail=reuploads.describe(spec.transform, spec.transform_params), broken=spec.broken,
        true_tags=spec.true_tags, tag_edits=spec.tag_edits, has_lines=out.line_mask is not None,
    )
    atomic_write_bytes(marker, json.dumps({"post": asdict(post), "truth": asdict(truth)}).encode())
    return index


def _tuples(d: dict, keys: Iterable[str]) -> dict:
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()} | {
        k: tuple(d[k]) for k in keys if d.get(k) is not None
    }


class Corpus:
    """The first ``n_posts`` posts of sample corpus ``seed``, rendered and cached on disk."""

    def __init__(self, n_posts: int = 1000, seed: int = 0, cache_dir: Path | str | None = None,
                 workers: int | None = None, progress: bool = False):
        self.n_posts, self.seed = n_posts, seed
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.folder = root / f"v{SPEC_VERSION}.{render.RENDER_VERSION}" / f"seed{seed}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._build(workers, progress)
        self.posts: list[Post] = []
        self._truth: dict[int, Truth] = {}
        self._index: dict[int, int] = {}
        for i in range(n_posts):
            rec = json.loads((self.folder / f"{i:06d}.json").read_text())
            post = Post(**_tuples(rec["post"], ["tags"]))
            self.posts.append(post)
            self._truth[post.id] = Truth(**_tuples(rec["truth"], []))
            self._index[post.id] = i
        parents = {p.parent_id for p in self.posts if p.parent_id}
        self.posts = [
            Post(**{**asdict(p), "has_children": True}) if p.id in parents else p for p in self.posts
        ]
        self._by_id = {p.id: p for p in self.posts}

    def _build(self, workers: int | None, progress: bool) -> None:
        todo = [i for i in range(self.n_posts) if not (self.folder / f"{i:06d}.json").exists()]
        if not todo:
            return
        workers = workers or os.cpu_count() or 1
        jobs = [(self.folder, self.seed, i) for i in todo]
        done = 0
        if workers == 1 or len(todo) < 8:
            results: Iterable[int] = map(_build_one, jobs)
        else:
            pool = ProcessPoolExecutor(workers)
            results = pool.map(_build_one, jobs, chunksize=4)
        for _ in results:
            done += 1
            if progress and (done % 50 == 0 or done == len(todo)):
                print(f"samplebooru: rendered {done}/{len(todo)} posts", file=sys.stderr, flush=True)
        if workers != 1 and len(todo) >= 8:
            pool.shutdown()

    def __len__(self) -> int:
        return len(self.posts)

    def post(self, post_id: int) -> Post:
        return self._by_id[post_id]

    def truth(self, post_id: int) -> Truth:
        return self._truth[post_id]

    def file_path(self, post_id: int) -> Path:
        return self.folder / f"{self._index[post_id]:06d}.{self._by_id[post_id].ext}"

    def file_bytes(self, post_id: int) -> bytes:
        return self.file_path(post_id).read_bytes()

    def part_map(self, post_id: int) -> np.ndarray | None:
        """What each displayed pixel is (uint8 codes, ``PARTS``: background, skin, hair, eyes, outfit,
        accent, line), aligned like ``line_mask``; None for files that are not pictures.

        Not cached: the post is drawn again (tens of milliseconds), so the cache and the posts' bytes stay
        as they are. Ground truth: for measuring (the evaluate stage's per-part colour error) only.
        """
        return render.render_post(make_spec(self.seed, self._index[post_id])).parts

    def line_mask(self, post_id: int) -> np.ndarray | None:
        """Boolean mask of the drawn outlines, aligned with the file's displayed pixels."""
        path = self.folder / f"{self._index[post_id]:06d}.lines.png"
        if not path.exists():
            return None
        return np.asarray(Image.open(path).convert("L")) > 127
