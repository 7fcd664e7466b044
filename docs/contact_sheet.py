"""Figures of the sample corpus: a contact sheet of posts and the histograms of its ground truth.

    python -m docs.contact_sheet [--posts 1000] [--seed 0]

writes ``docs/contact_sheet.png`` (24 posts with id / character / char_area / clutter captions: a
re-upload pair, a parent/child variant pair, greyscale, monochrome, lineart, a comic page, a line-mask
overlay, tiny and close-up figures, plain and cluttered backgrounds) and ``docs/corpus_histograms.png``.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont, ImageOps  # noqa: E402

from pipeline.samplebooru.corpus import Corpus  # noqa: E402
from pipeline.samplebooru.spec import make_spec  # noqa: E402
from pipeline.store import atomic_path  # noqa: E402

DOCS = Path(__file__).resolve().parent
TILE = 300
CAPTION = 54
COLS = 6


def _image(corpus: Corpus, post_id: int) -> Image.Image:
    im = Image.open(io.BytesIO(corpus.file_bytes(post_id)))
    im.load()
    return ImageOps.exif_transpose(im).convert("RGB")


def _pick(corpus: Corpus) -> list[tuple[int, str]]:
    """(post id, note) for the sheet, chosen from the ground truth so every kind of post shows."""
    ok = [p for p in corpus.posts if corpus.truth(p.id).broken is None]
    ids = {corpus.truth(p.id).index: p.id for p in corpus.posts}
    T = corpus.truth
    chosen: list[tuple[int, str]] = []

    def take(pred, note, n=1, key=None):
        cands = [p.id for p in ok if pred(T(p.id)) and p.id not in {c for c, _ in chosen}]
        if key is not None:
            cands.sort(key=lambda i: key(T(i)))
        for pid in cands[:n]:
            chosen.append((pid, note))

    for p in ok:  # a re-upload pair: the original, then its resized re-upload
        t = T(p.id)
        root = ids.get(t.dup_group)
        if t.transform == "resize" and root and root != p.id and T(root).broken is None and T(root).tone == "color":
            chosen += [(root, "original"), (p.id, "re-upload (resized)")]
            break
    for p in ok:  # a parent/child pair
        spec = make_spec(corpus.seed, T(p.id).index)
        if spec.parent_index is not None and T(p.id).tone == "color" and T(p.id).layout == "illustration":
            par = ids[spec.parent_index]
            if T(par).broken is None:
                chosen += [(par, "parent"), (p.id, "child variant")]
                break
    take(lambda t: t.tone == "greyscale" and t.layout == "illustration", "greyscale")
    take(lambda t: t.tone == "monochrome" and t.layout == "illustration", "monochrome")
    take(lambda t: t.tone == "lineart", "lineart")
    take(lambda t: t.layout == "comic" and t.tone == "color", "comic page")
    take(lambda t: t.tone == "color" and t.layout == "illustration" and t.background == "simple",
         "line mask overlay", key=lambda t: -t.char_area)
    take(lambda t: t.tone == "color" and t.layout == "illustration" and t.framing == "portrait", "portrait", 2)
    take(lambda t: t.tone == "color" and t.layout == "illustration" and t.framing == "wide_shot"
         and t.background == "detailed", "wide shot", 2)
    take(lambda t: t.tone == "color" and t.layout == "illustration" and len(t.characters) >= 2,
         "group", 2, key=lambda t: -len(t.characters))
    take(lambda t: t.tone == "color" and t.layout == "illustration" and t.background == "white", "plain", 2)
    take(lambda t: t.tone == "color" and t.layout == "illustration" and t.clutter > 0.8, "cluttered", 2)
    take(lambda t: t.tone == "color" and t.layout == "illustration" and 0.3 < t.clutter < 0.6, "", 24)
    return chosen[:24]


def contact_sheet(corpus: Corpus, out: Path) -> None:
    picks = _pick(corpus)
    rows = (len(picks) + COLS - 1) // COLS
    sheet = Image.new("RGB", (COLS * TILE, rows * (TILE + CAPTION)), (236, 236, 240))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    for k, (pid, note) in enumerate(picks):
        t = corpus.truth(pid)
        im = _image(corpus, pid)
        if note == "line mask overlay":
            arr = np.asarray(im).copy()
            arr[corpus.line_mask(pid)] = (255, 0, 200)
            im = Image.fromarray(arr)
        im.thumbnail((TILE - 8, TILE - 8), Image.Resampling.LANCZOS)
        x, y = (k % COLS) * TILE, (k // COLS) * (TILE + CAPTION)
        sheet.paste(im, (x + (TILE - im.width) // 2, y + (TILE - im.height) // 2))
        who = t.characters[0] + (f" +{len(t.characters) - 1}" if len(t.characters) > 1 else "")
        lines = [f"#{pid} {who}", f"area {t.char_area:.3f}  clutter {t.clutter:.2f}  {t.tone}",
                 note or f"{t.framing}, {t.background}"]
        for j, line in enumerate(lines):
            draw.text((x + 6, y + TILE + 2 + 16 * j), line, fill=(20, 20, 30), font=font)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG", optimize=True)


def histograms(corpus: Corpus, out: Path) -> None:
    ts = [corpus.truth(p.id) for p in corpus.posts
          if corpus.truth(p.id).broken is None and corpus.truth(p.id).layout == "illustration"]
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    kinds = ("white", "simple", "detailed")
    ax[0].hist([[t.char_area for t in ts if t.background == k] for k in kinds], bins=40, range=(0, 1),
               stacked=True, label=kinds)
    ax[0].set(title=f"char_area ({len(ts)} working illustrations)", xlabel="fraction of pixels on characters",
              ylabel="posts")
    ax[0].legend(title="background")
    ax[1].hist([[t.clutter for t in ts if t.background == k] for k in kinds], bins=40, range=(0, 1),
               stacked=True, label=kinds)
    ax[1].set(title="measured clutter", xlabel="clutter score (background line density)", ylabel="posts")
    ax[1].legend(title="background")
    ax[2].scatter([t.clutter_param for t in ts], [t.clutter for t in ts], s=5,
                  c=[np.log(t.char_scale) for t in ts], cmap="viridis")
    ax[2].set(title="measured vs scene.clutter (colour: log char_scale)", xlabel="scene.clutter",
              ylabel="measured clutter")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DOCS)
    args = ap.parse_args(argv)
    corpus = Corpus(args.posts, seed=args.seed, progress=True)
    contact_sheet(corpus, args.out / "contact_sheet.png")
    histograms(corpus, args.out / "corpus_histograms.png")
    print(f"wrote {args.out / 'contact_sheet.png'} and {args.out / 'corpus_histograms.png'}")


if __name__ == "__main__":
    main()
