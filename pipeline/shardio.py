"""Sample shards: tar files in the WebDataset convention, written by the split stage, streamed by training.

A shard ``shard-00000.tar`` holds samples one after the other; a sample is the files ``<key>.<part>`` that
share a key (``<key>.color.png``, ``<key>.line.png``, ``<key>.json``), consecutive in the tar. Keys carry
no dots or slashes, so the part is everything after the first dot, as WebDataset splits it; any reader of
that convention (``webdataset``, ``tar tvf``) reads these shards. Shards are written deterministically (no
times, owners or modes from the machine: the same samples give the same bytes) and atomically (a shard
appears whole or not at all), and read as a stream (``tarfile`` ``r|``), so a reader never seeks and a
shard may be larger than memory.

    with ShardWriter(folder, max_samples=1000) as w:
        w.write("123", {"color.png": png, "line.png": png, "json": b"{...}"})
    for key, parts in iter_samples(folder / "shard-00000.tar"): ...
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.store import atomic_path

SHARD_PATTERN = "shard-{:05d}.tar"
SHARD_GLOB = "shard-*.tar"
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PART_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class ShardError(ValueError):
    """A shard that breaks the convention: the message names the shard and the sample."""


def shard_paths(folder: Path | str) -> list[Path]:
    """The shards of a folder in name order (the order their samples were written)."""
    return sorted(Path(folder).glob(SHARD_GLOB))


class ShardWriter:
    """Write samples into ``shard-00000.tar``, ``shard-00001.tar``... of at most ``max_samples`` each."""

    def __init__(self, folder: Path | str, max_samples: int):
        if max_samples < 1:
            raise ValueError(f"max_samples must be at least 1, got {max_samples}")
        self.folder = Path(folder)
        self.max_samples = max_samples
        self.paths: list[Path] = []
        self._tar: tarfile.TarFile | None = None
        self._atomic = None
        self._count = 0
        self._keys: set[str] = set()

    def write(self, key: str, parts: dict[str, bytes]) -> None:
        """Add one sample; ``parts`` maps a part name (``color.png``) to its bytes, written in name order."""
        if not KEY_RE.match(key):
            raise ShardError(f"sample key {key!r}: 1-64 letters, digits, '_' or '-' (no dots, no slashes)")
        if key in self._keys:
            raise ShardError(f"sample key {key!r} written twice")
        if not parts or not all(PART_RE.match(p) for p in parts):
            raise ShardError(f"sample {key!r}: bad part names {sorted(parts)}")
        if self._tar is None or self._count == self.max_samples:
            self._open_next()
        for part in sorted(parts):
            data = parts[part]
            info = tarfile.TarInfo(f"{key}.{part}")
            info.size, info.mode, info.mtime = len(data), 0o444, 0
            self._tar.addfile(info, io.BytesIO(data))
        self._keys.add(key)
        self._count += 1

    def _open_next(self) -> None:
        self._close_current()
        path = self.folder / SHARD_PATTERN.format(len(self.paths))
        self._atomic = atomic_path(path)
        tmp = self._atomic.__enter__()
        self._tar = tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT)
        self.paths.append(path)
        self._count = 0

    def _close_current(self, exc: BaseException | None = None) -> None:
        if self._tar is not None:
            self._tar.close()
            atomic, self._tar, self._atomic = self._atomic, None, None
            atomic.__exit__(type(exc) if exc else None, exc, None)

    def close(self) -> list[Path]:
        """Finish the last shard; return every shard written."""
        self._close_current()
        return self.paths

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
        elif self._tar is not None:  # a failed run leaves no half shard behind
            self._close_current(exc)
            self.paths.pop()


def iter_samples(path: Path | str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Stream ``(key, {part: bytes})`` from one shard, in the order written."""
    path = Path(path)
    key, parts = None, {}
    try:
        with tarfile.open(path, "r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = member.name.rsplit("/", 1)[-1]
                k, dot, part = name.partition(".")
                if not dot:
                    raise ShardError(f"{path}: member {member.name!r} has no '<key>.<part>' name")
                if k != key:
                    if key is not None:
                        yield key, parts
                    key, parts = k, {}
                if part in parts:
                    raise ShardError(f"{path}: sample {k!r} has two '{part}' parts (keys must be consecutive)")
                parts[part] = tar.extractfile(member).read()
    except tarfile.TarError as exc:
        raise ShardError(f"{path}: not a readable tar shard ({exc})") from exc
    if key is not None:
        yield key, parts


def list_keys(path: Path | str) -> list[str]:
    """The sample keys of one shard, in order, from the tar headers alone (the data is skipped, not read)."""
    path = Path(path)
    keys: list[str] = []
    try:
        with tarfile.open(path, "r:") as tar:
            for member in tar.getmembers():
                k = member.name.rsplit("/", 1)[-1].partition(".")[0]
                if member.isfile() and (not keys or keys[-1] != k):
                    keys.append(k)
    except tarfile.TarError as exc:
        raise ShardError(f"{path}: not a readable tar shard ({exc})") from exc
    if len(set(keys)) != len(keys):
        raise ShardError(f"{path}: a sample's files are not consecutive (a key appears twice)")
    return keys
