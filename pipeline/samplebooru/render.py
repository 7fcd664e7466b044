"""Rendering: a post spec becomes file bytes plus pixel-level ground truth.

The drawings are simple anime cel illustrations. Every shape is painted, back to front, into a *label
map* (one integer label per flat-coloured region) with OpenCV primitives; everything else is derived from
that map with a few vectorised passes over the whole canvas:

* flat colour: a palette lookup of the label;
* the shadow tone (cel shading): a pixel is in shadow when, a few pixels towards the light, a region in
  front of it casts onto it (hair onto the face, the chin onto the neck), or when, a few pixels away from
  the light, its own region ends (the far rim of every shape);
* the outlines: wherever the label changes, dilated by a width that depends on the boundary (thick
  silhouettes, thinner inner lines, thin background lines, brush-like variation along a stroke), plus
  detail strokes (eyelashes, mouth, hair strands, hatching) drawn into a stroke layer that later shapes
  erase (so occluded strokes vanish).

Each cast member has a fixed look (``spec.CAST``); a post's ``scene_seed`` decides the composition, its
``variant`` the pose, expression, position and background arrangement (parent/child posts), so
re-uploads of one scene are the same drawing pixel for pixel before their transform (``reuploads``).

Modules, in the order a picture is made: ``canvas`` (the label map and stroke layer), ``characters`` and
``backgrounds`` (what is painted), ``scenes`` (composition, comic pages, balloons), ``shading`` (the
passes above) and ``encoding`` (tones, file bytes, masks). This module is the entry point: ``render_post``
and the deliberately broken files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image

from pipeline.samplebooru import reuploads
from pipeline.samplebooru.canvas import LINE
from pipeline.samplebooru.encoding import bbox, encode, toned
from pipeline.samplebooru.scenes import draw_picture
from pipeline.samplebooru.spec import PostSpec

RENDER_VERSION = 8


@dataclass
class Rendered:
    data: bytes
    width: int
    height: int
    char_area: float
    char_bbox: tuple[int, int, int, int] | None
    clutter: float
    line_mask: np.ndarray | None  # bool HxW, aligned with the file's displayed pixels
    parts: np.ndarray | None = None  # uint8 HxW part codes (canvas.PARTS), aligned likewise; not cached

NOT_IMAGE = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>\n<body>\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\n<hr><center>nginx</center>\n"
    b"</body></html>\n"
)

_EXIF_STORE = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def render_post(spec: PostSpec) -> Rendered:
    s = spec.scene
    brk = spec.broken
    if brk == "not_image":
        return Rendered(NOT_IMAGE + f"<!-- post {spec.id} -->\n".encode(), s.width, s.height, 0.0, None, 0.0,
                        None)
    if brk == "one_pixel":
        data = encode(np.full((1, 1, 3), 255, np.uint8), "png", 0)
        return Rendered(data, 1, 1, 0.0, None, 0.0, np.zeros((1, 1), bool))
    if brk == "decompression_bomb":
        return _bomb(spec)

    pic = draw_picture(s)
    px = toned(pic, spec.tone)
    lines, chars, parts = pic.lines, pic.chars, pic.parts
    px, lines, chars, parts = reuploads.apply(spec.transform, spec.transform_params, px, lines, chars, parts)
    png_level = 6 if spec.transform == "requality" and spec.ext == "png" else 1  # re-saved: other bytes
    px = np.ascontiguousarray(px)
    lines, chars, parts = np.ascontiguousarray(lines), np.ascontiguousarray(chars), parts.copy()
    parts[lines] = LINE  # after any resize, so the part map agrees with the line mask
    h, w = lines.shape

    if brk == "truncated":
        full = encode(px, "jpg", spec.jpeg_quality)
        cut = int(len(full) * (0.35 + 0.3 * (s.scene_seed % 97) / 97))
        return Rendered(full[:cut], w, h, 0.0, None, pic.clutter, None)
    if brk == "cmyk_jpeg":
        buf = io.BytesIO()
        Image.fromarray(px).convert("RGB").convert("CMYK").save(buf, format="JPEG", quality=spec.jpeg_quality)
        data = buf.getvalue()
    elif brk == "png16":
        grey = px if px.ndim == 2 else cv2.cvtColor(px, cv2.COLOR_RGB2GRAY)
        buf = io.BytesIO()
        Image.fromarray(grey.astype("<u2") * 257).save(buf, format="PNG", compress_level=1)
        data = buf.getvalue()
    elif brk == "palette_transparency":
        im = Image.fromarray(px).convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE)
        pal = np.array(im.getpalette()[: 3 * 64]).reshape(-1, 3)
        white = int(np.argmax(pal.sum(axis=1)))
        buf = io.BytesIO()
        im.save(buf, format="PNG", transparency=white, compress_level=1)
        data = buf.getvalue()
    elif brk == "animated_gif":
        frames = [Image.fromarray(px).convert("RGB")]
        blink = px.copy()
        blink[lines] = 255 - blink[lines] // 3  # second frame: the outlines flash
        frames.append(Image.fromarray(blink).convert("RGB"))
        frames = [f.quantize(colors=128, method=Image.Quantize.FASTOCTREE) for f in frames]
        buf = io.BytesIO()
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
        data = buf.getvalue()
    elif brk == "exif_rotated":
        orient = (3, 6, 8)[s.scene_seed % 3]
        stored = Image.fromarray(px).transpose(_EXIF_STORE[orient])
        exif = Image.Exif()
        exif[0x0112] = orient
        buf = io.BytesIO()
        stored.save(buf, format="JPEG", quality=spec.jpeg_quality, exif=exif.tobytes())
        data = buf.getvalue()
    else:
        data = encode(px, spec.ext, spec.jpeg_quality, png_level)
    return Rendered(data, w, h, float(chars.mean()), bbox(chars), pic.clutter, lines, parts)


def _bomb(spec: PostSpec) -> Rendered:
    """A small, valid JPEG whose header claims 40000 x 40000 pixels."""
    small = draw_picture(replace(spec.scene, width=96, height=96, layout="illustration"))
    data = bytearray(encode(small.rgb, "jpg", 80))
    i = 2
    while i < len(data) - 9:
        if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = (40000).to_bytes(2, "big") * 2
            break
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return Rendered(bytes(data), 40000, 40000, 0.0, None, 0.0, None)
