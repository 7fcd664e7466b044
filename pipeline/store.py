"""Atomic writes and the content-addressed image store.

Every output of the pipeline is written to a temporary file in the destination folder, flushed, then
renamed into place, so a killed process never leaves a half-written file that a later run trusts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_PREFIX = ".tmp-"


def _file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give: mkstemp's 0600 would hide outputs from others."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=path.suffix, dir=path.parent)
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def image_relpath(md5: str, ext: str) -> str:
    """Content-addressed location of an image inside a store: ``images/<md5[:2]>/<md5>.<ext>``."""
    md5 = md5.lower()
    if len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5):
        raise ValueError(f"not an md5 hex digest: {md5!r}")
    ext = ext.lower().lstrip(".")
    if not ext.isalnum() or len(ext) > 5:
        raise ValueError(f"bad file extension: {ext!r}")
    return f"images/{md5[:2]}/{md5}.{ext}"


def clean_temp_files(folder: Path | str) -> int:
    """Remove temporary files a killed writer left under ``folder``; return how many."""
    n = 0
    for p in Path(folder).rglob(f"{TMP_PREFIX}*"):
        p.unlink(missing_ok=True)
        n += 1
    return n
