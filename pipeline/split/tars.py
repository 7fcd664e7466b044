"""Tar shards in the WebDataset convention: ``<key>.<ext>`` members, one sample's members together.

DVC moves a few large files far faster than many small ones (its issues 7607, 7681, 497: hundreds of
thousands of files push for hours; pack them), so a split is a handful of tar shards, not one file per
picture. A shard is written deterministically (members in key order, fixed mode/owner/mtime, PAX-free
ustar headers), atomically (temp file, rename), so the same samples give the same bytes and a shard that
exists is complete. Keys contain no dot: the first dot of a member name separates key and extension, as
in WebDataset, whose readers (and the plain ``iter_samples`` below) group members by key.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.store import atomic_path

_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
Sample = tuple[str, dict[str, bytes]]  # (key, {extension: bytes}), e.g. ("0000001234_0", {"color.png": ...})


def write_shard(path: Path | str, samples: Iterable[Sample]) -> int:
    """Write ``samples`` (in the order given) as one tar; return how many samples it holds."""
    n = 0
    with atomic_path(path) as tmp, tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for key, members in samples:
            if not _KEY.match(key):
                raise ValueError(f"a sample key must be letters, digits, _ or -, not {key!r}")
            for ext in sorted(members):
                data = members[ext]
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
            n += 1
    return n


def iter_samples(path: Path | str) -> Iterator[Sample]:
    """Stream the samples of one shard, in file order, without extracting it."""
    key, members = None, {}
    with tarfile.open(path, "r|") as tar:  # a stream: one pass, no index, no seeks
        for info in tar:
            if not info.isfile():
                continue
            name = info.name.rsplit("/", 1)[-1]
            k, _, ext = name.partition(".")
            if k != key:
                if key is not None:
                    yield key, members
                key, members = k, {}
            members[ext] = tar.extractfile(info).read()
    if key is not None:
        yield key, members
