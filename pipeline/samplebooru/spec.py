"""Deterministic post specifications of the sample corpus.

Everything about post ``index`` of corpus ``seed`` is decided here from ``(seed, index)`` alone, before a
pixel is drawn: the scene (who, how framed, how cluttered), how the file is encoded, whether it is a
re-upload or a child of an earlier post, whether it is broken, and the noisy tags a tagger gave it.
A corpus of ``n`` posts is the first ``n`` specs, so corpora of different sizes share their posts and
their rendered files.

Rendering (``render.py``) turns a spec into bytes plus the pixel-level ground truth.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

import numpy as np

from pipeline.samplebooru import reuploads

SPEC_VERSION = 6
# The random streams stay those of spec 4: spec 5 only maps two of its draws (figure size, clutter) onto
# other distributions, and spec 6 decides a re-upload's transform from a stream of its own
# (``_TRANSFORM_SALT``) while the main stream still makes spec 5's transform draws, so every other decision
# (broken files, tones, ratings, tags noise) is the same post for post. Only the posts whose first draw
# now makes them children (``CHILD_ROLL``, up from 0.18) are other posts, with their re-uploads.
_SEED_VERSION = 4
_TRANSFORM_SALT = 17  # issue #17: the stream that picks a re-upload's kind and params (salt 1: post ids)
REUPLOAD_ROLL, CHILD_ROLL = 0.12, 0.22  # the first draw: < 0.12 a re-upload, < 0.22 a parent/child variant
# Spec 5's mix, nearer a real booru's than spec 4's uniform one (42 % wide shots, 53 % detailed
# backgrounds): the log figure size's uniform position u in [0, 1] becomes u ** SCALE_SKEW (more close-ups),
# the clutter draw c becomes c ** CLUTTER_SKEW (more plain backgrounds). Ranges are unchanged.
SCALE_SKEW = 0.5
CLUTTER_SKEW = 2.0


@dataclass(frozen=True)
class Character:
    """One member of the cast: a fixed look that a colorizer can learn."""

    name: str
    gender: str  # "girl" | "boy"
    hairstyle: str  # long | short | twintails | ponytail | bob | spiky
    hair_tag: str  # booru hair colour tag, e.g. "blue_hair"
    hair_rgb: tuple[int, int, int]
    eye_tag: str
    eye_rgb: tuple[int, int, int]
    skin_rgb: tuple[int, int, int]
    outfit_rgb: tuple[int, int, int]
    accent_rgb: tuple[int, int, int]


CAST: tuple[Character, ...] = (
    Character("aoi_sakuraba", "girl", "long", "blue_hair", (62, 96, 196), "blue_eyes", (40, 90, 200),
              (255, 226, 208), (245, 245, 250), (214, 48, 62)),
    Character("hina_kurokawa", "girl", "twintails", "pink_hair", (242, 140, 178), "red_eyes", (200, 30, 50),
              (255, 224, 206), (40, 40, 56), (250, 200, 60)),
    Character("mio_tachibana", "girl", "ponytail", "brown_hair", (128, 78, 44), "green_eyes", (40, 150, 70),
              (250, 218, 196), (70, 120, 70), (230, 230, 210)),
    Character("rin_shirogane", "girl", "bob", "white_hair", (236, 236, 244), "purple_eyes", (140, 70, 190),
              (255, 232, 220), (90, 60, 140), (40, 40, 40)),
    Character("yuki_amane", "girl", "short", "blonde_hair", (248, 214, 96), "yellow_eyes", (220, 170, 20),
              (255, 228, 212), (230, 110, 40), (60, 80, 160)),
    Character("kaito_minase", "boy", "spiky", "black_hair", (36, 36, 48), "brown_eyes", (120, 70, 30),
              (240, 206, 180), (40, 60, 110), (220, 220, 220)),
    Character("sora_hayami", "boy", "short", "red_hair", (196, 52, 40), "blue_eyes", (40, 90, 200),
              (246, 214, 190), (230, 230, 230), (30, 30, 30)),
)
CAST_BY_NAME = {c.name: c for c in CAST}

FRAMINGS = ("portrait", "upper_body", "cowboy_shot", "full_body", "wide_shot")
BROKEN_KINDS = (
    "truncated", "not_image", "cmyk_jpeg", "png16", "palette_transparency", "animated_gif",
    "one_pixel", "decompression_bomb", "exif_rotated",
)
REUPLOAD_TRANSFORMS = ("resize", "requality", "convert", "crop", "border", "overlay", "tone", "mirror")
# Spec 5's kinds, still drawn from the main stream (with all three of its args) so the draws after them stay.
_SPEC5_TRANSFORMS = ("resize", "requality", "convert", "crop")
GENERAL_NOISE_TAGS = (
    "smile", "open_mouth", "looking_at_viewer", "blush", "school_uniform", "hat", "ribbon", "outdoors",
    "indoors", "sky", "tree", "flower", "dress", "skirt", "long_sleeves", "closed_eyes", "holding",
)


@dataclass(frozen=True)
class Scene:
    """What is drawn. Re-uploads share their original's scene (same drawing)."""

    scene_seed: int
    layout: str  # "illustration" | "comic"
    characters: tuple[str, ...]
    framing: str  # one of FRAMINGS
    char_scale: float  # character height relative to the canvas height (continuous)
    clutter: float  # 0 plain white .. 1 cluttered (continuous)
    background: str  # white | simple | detailed
    width: int
    height: int
    variant: int = 0  # parent/child variants of one drawing differ by this (0: the root drawing)


@dataclass(frozen=True)
class PostSpec:
    """Everything decided about one post before rendering."""

    index: int
    id: int
    scene: Scene
    tone: str  # color | greyscale | monochrome | lineart
    ext: str  # jpg | png | gif
    jpeg_quality: int
    dup_of: int | None  # index of the original this post re-uploads
    transform: str | None  # how the re-upload differs (REUPLOAD_TRANSFORMS)
    transform_params: tuple[float, ...]  # the kind's params, laid out as reuploads.py's table says
    dup_group: int  # index of the drawing's first post; re-uploads share it
    parent_index: int | None  # index of this post's parent (parent/child variants)
    family: int  # index of the family's root post
    broken: str | None  # one of BROKEN_KINDS
    rating: str  # general | safe | questionable | explicit (JSON spelling)
    score: int | None
    created_at: int  # unix time
    change: int
    owner: str
    source: str
    legacy: bool  # an old record: JSON has no *_url fields, image name is the md5
    directory: int
    image_stem: str  # 40 hex chars for new records ("" for legacy ones: the md5 is the name)
    has_notes: bool
    comment_count: int
    true_tags: tuple[str, ...]
    tags: tuple[str, ...]  # as a tagger wrote them: a few percent wrong or missing
    tag_edits: tuple[str, ...] = field(default=())  # "-tag"/"+tag": the noise applied, for tests


BASE_TIME = 1_500_000_000  # 2017-07-14; posts are roughly hourly after that


def _rng(seed: int, index: int, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([_SEED_VERSION, seed, index, salt])


def post_id(seed: int, index: int) -> int:
    """Ids increase with the index, with gaps as on a real site (deleted posts)."""
    return 1000 + index * 7 + int(_rng(seed, index, 1).integers(0, 7))


def _framing_for(char_scale: float) -> str:
    # char_scale is the visible figure height / canvas height; framing follows it loosely.
    if char_scale > 1.6:
        return "portrait"
    if char_scale > 1.15:
        return "upper_body"
    if char_scale > 0.8:
        return "cowboy_shot"
    if char_scale > 0.42:
        return "full_body"
    return "wide_shot"


def _base_scene(rng: np.random.Generator, scene_seed: int) -> Scene:
    n_chars = int(rng.choice([1, 2, 3], p=[0.72, 0.21, 0.07]))
    chars = tuple(str(c) for c in rng.choice([c.name for c in CAST], size=n_chars, replace=False))
    layout = "comic" if rng.random() < 0.05 else "illustration"
    # figure height / canvas height over a wide continuous range, skewed towards close-ups:
    # 0.12 = a tiny figure in a wide scene, 2.4 = a close-up where only the head fits.
    u = (rng.uniform(math.log(0.12), math.log(2.4)) - math.log(0.12)) / math.log(20.0)
    char_scale = float(0.12 * 20.0 ** (u ** SCALE_SKEW))
    clutter = float(rng.beta(1.1, 1.6) ** CLUTTER_SKEW)
    if clutter < 0.12:
        background = "white"
    elif clutter < 0.35:
        background = "simple"
    else:
        background = "detailed"
    long_side = int(rng.integers(600, 2001))
    aspect = float(math.exp(rng.uniform(math.log(0.62), math.log(1.6))))  # width / height
    if aspect >= 1:
        width, height = long_side, max(300, int(long_side / aspect))
    else:
        width, height = max(300, int(long_side * aspect)), long_side
    return Scene(
        scene_seed=scene_seed, layout=layout, characters=chars, framing=_framing_for(char_scale),
        char_scale=char_scale, clutter=clutter, background=background, width=width, height=height,
    )


def _true_tags(scene: Scene, tone: str) -> tuple[str, ...]:
    tags: set[str] = set()
    chars = [CAST_BY_NAME[n] for n in scene.characters]
    girls = sum(c.gender == "girl" for c in chars)
    boys = len(chars) - girls
    if girls:
        tags.add({1: "1girl", 2: "2girls"}.get(girls, "multiple_girls"))
    if boys:
        tags.add({1: "1boy", 2: "2boys"}.get(boys, "multiple_boys"))
    if girls > 1:
        tags.add("multiple_girls")
    if boys > 1:
        tags.add("multiple_boys")
    tags.add("solo" if len(chars) == 1 else "multiple_characters" if girls and boys else "group")
    for c in chars:
        tags.update({c.name, c.hair_tag, c.eye_tag, f"{c.hairstyle}_hair" if c.hairstyle in
                     ("long", "short") else c.hairstyle})
    if scene.layout == "comic":
        tags.add("comic")
    else:
        tags.add(scene.framing)
        if scene.framing == "wide_shot":
            tags.add("scenery")
    tags.add({"white": "white_background", "simple": "simple_background",
              "detailed": "detailed_background"}[scene.background])
    if tone in ("greyscale", "monochrome"):
        tags.update({"greyscale", "monochrome"})
    elif tone == "lineart":
        tags.update({"lineart", "monochrome"})
    return tuple(sorted(tags))


def _noisy(rng: np.random.Generator, true_tags: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Drop ~3% of true tags and add a wrong tag to ~4% of posts, plus harmless general tags."""
    kept = [t for t in true_tags if rng.random() >= 0.03]
    edits = [f"-{t}" for t in true_tags if t not in kept]
    extra = set(rng.choice(GENERAL_NOISE_TAGS, size=int(rng.integers(0, 5)), replace=False))
    if rng.random() < 0.04:
        pool = [c.hair_tag for c in CAST] + list(FRAMINGS) + ["simple_background", "comic", "monochrome"]
        wrong = str(rng.choice(pool))
        if wrong not in true_tags:
            extra.add(wrong)
            edits.append(f"+{wrong}")
    return tuple(sorted(set(kept) | extra)), tuple(edits)


def _reupload(rng: np.random.Generator, seed: int, index: int,
              tone: str) -> tuple[str, str, tuple[float, ...], int]:
    """Spec 5's kind, then the re-upload's kind, params and a spare JPEG quality.

    The main stream ``rng`` makes exactly spec 5's draws (the kind over its four, then all three args:
    its dict literal evaluated every value), so every draw after them is spec 5's; what spec 6 decides
    comes from the post's own stream, the kind uniform over ``REUPLOAD_TRANSFORMS``. A resize or
    requality takes spec 5's factor or quality, drawn for every re-upload from the same ranges.
    """
    spec5_kind = str(rng.choice(_SPEC5_TRANSFORMS))
    factor, quality = float(rng.uniform(0.45, 0.85)), float(rng.integers(55, 86))
    rng.uniform(0.008, 0.016)  # spec 5's crop fraction, unused now
    sub = _rng(seed, index, _TRANSFORM_SALT)
    kind = str(sub.choice(REUPLOAD_TRANSFORMS))
    spare_quality = int(sub.integers(80, 96))
    return spec5_kind, kind, reuploads.draw(sub, kind, tone, factor, quality), spare_quality


@functools.lru_cache(maxsize=65536)
def make_spec(seed: int, index: int) -> PostSpec:
    """The spec of post ``index`` of corpus ``seed``; depends on earlier specs only through ``make_spec``."""
    rng = _rng(seed, index)
    pid = post_id(seed, index)
    roll = rng.random()
    dup_of = parent_index = transform = spec5_kind = None
    params: tuple[float, ...] = ()
    spare_quality = 0
    if index >= 8 and roll < REUPLOAD_ROLL:
        dup_of = int(rng.integers(0, index))
    elif index >= 8 and roll < CHILD_ROLL:
        parent_index = int(rng.integers(max(0, index - 200), index))

    broken = None
    if index >= 3 and rng.random() < 0.025:
        broken = str(rng.choice(BROKEN_KINDS))

    if dup_of is not None:
        orig = make_spec(seed, dup_of)
        # A re-upload of a re-upload is a re-upload of the first drawing.
        scene, dup_group, family = orig.scene, orig.dup_group, orig.family
        tone = orig.tone
        spec5_kind, transform, params, spare_quality = _reupload(rng, seed, index, tone)
        ext = orig.ext if transform != "convert" else ("png" if orig.ext == "jpg" else "jpg")
        if orig.broken:  # a re-upload of a broken file is a fresh, working upload
            ext = "jpg" if ext == "gif" else ext
    else:
        if parent_index is not None:
            parent = make_spec(seed, parent_index)
            # variant = 3 * index + composition state: unique per post (two children of one parent are
            # never the same picture), and the state (root 0, children 1 or 2) always differs from the
            # parent's, so the renderer can move a child's composition away from its parent's.
            pstate = parent.scene.variant % 3 if parent.scene.variant else 0
            scene = replace(parent.scene, variant=3 * index + (2 if pstate == 1 else 1))
            family, tone = parent.family, parent.tone
        else:
            scene = _base_scene(rng, scene_seed=int(rng.integers(0, 2**31)))
            family = index
            r = rng.random()
            tone = ("greyscale" if r < 0.05 else "monochrome" if r < 0.07
                    else "lineart" if r < 0.11 else "color")
        dup_group = index
        ext = str(rng.choice(["jpg", "png"], p=[0.7, 0.3]))
    if broken == "animated_gif":
        ext = "gif"
    elif broken in ("cmyk_jpeg", "exif_rotated", "truncated", "decompression_bomb"):
        ext = "jpg"
    elif broken in ("png16", "palette_transparency", "one_pixel"):
        ext = "png"
    # spec 5 drew a quality here unless its kind was requality; a spec-6 requality uses its own, and a
    # re-upload whose spec-5 kind was requality (no draw here) the one its own stream holds for that case
    main_quality = int(rng.integers(80, 96)) if spec5_kind != "requality" else spare_quality
    jpeg_quality = int(params[0]) if transform == "requality" else main_quality

    true_tags = _true_tags(scene, tone)
    tags, edits = _noisy(rng, true_tags)
    legacy = pid < post_id(seed, 0) + 7 * 150 and rng.random() < 0.8  # the oldest posts
    r = rng.random()
    rating = "safe" if legacy else ("general" if r < 0.9 else "questionable" if r < 0.98 else "explicit")
    created = BASE_TIME + index * 3600 + int(rng.integers(0, 3600))
    return PostSpec(
        index=index, id=pid, scene=scene, tone=tone, ext=ext, jpeg_quality=jpeg_quality,
        dup_of=dup_of, transform=transform, transform_params=params, dup_group=dup_group,
        parent_index=parent_index, family=family, broken=broken, rating=rating,
        score=None if rng.random() < 0.1 else int(rng.integers(0, 120)),
        created_at=created, change=created + int(rng.integers(0, 10_000_000)),
        owner=str(rng.choice(["danbooru", "anonymous", "moderator_kun", "tagger42"])),
        source="" if rng.random() < 0.3 else f"https://www.pixiv.net/artworks/{int(rng.integers(1e7, 1e8))}",
        legacy=bool(legacy), directory=int(rng.integers(1, 5000)),
        image_stem="" if legacy else "".join(rng.choice(list("0123456789abcdef"), size=40)),
        has_notes=bool(rng.random() < 0.03), comment_count=int(rng.poisson(0.3)),
        true_tags=true_tags, tags=tags, tag_edits=edits,
    )


def make_specs(seed: int, n_posts: int) -> list[PostSpec]:
    """The first ``n_posts`` specs (memoised re-uploads keep this linear in practice)."""
    return [make_spec(seed, i) for i in range(n_posts)]
