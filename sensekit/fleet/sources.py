"""The recordings a fleet job runs over: files, folders, glob patterns and fsspec URLs.

Local paths stay paths; anything with a protocol (``s3://bucket/day1/*.mcap``, ``gs://``,
``memory://``) is opened through fsspec, which comes with Dask. Each recording keeps the path
it has below the argument that named it (``rel``), so the outputs mirror the inputs' folders
and two days' ``rec.mcap`` never write the same result.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["Source", "digest", "expand", "filesystem", "is_local"]

GLOB_CHARS = frozenset("*?[")
READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class Source:
    """One recording of a fleet run.

    Attributes:
        url: Absolute local path, or fsspec URL with its protocol.
        rel: Its path below the folder or glob root it was found in ("/"-separated).
        size: Bytes (a folder recording: the sum of its files).
    """

    url: str
    rel: str
    size: int


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem and path of ``url`` (a local path gives the local filesystem)."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)
    return fs, str(path)


def is_local(fs: Any) -> bool:
    """Whether ``fs`` is the local disk (renames are atomic there, paths need no copying)."""
    return "file" in _protocols(fs)


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def _url(fs: Any, path: str) -> str:
    return path if is_local(fs) else str(fs.unstrip_protocol(path))


def expand(items: Sequence[str], suffixes: tuple[str, ...]) -> list[Source]:
    """The recordings named by ``items``, in order, each once.

    A file is taken as it is, a folder gives every file below it whose name ends with one of
    ``suffixes`` (all levels), a glob pattern every match (``**`` crosses folders).

    Raises:
        ConfigError: an item matches nothing; no recording at all.
    """
    seen: dict[str, Source] = {}
    for item in items:
        found = list(_expand_one(item, suffixes))
        if not found:
            raise ConfigError(f"no recording at {item} (looked for {', '.join(suffixes)} files)")
        for src in found:
            seen.setdefault(src.url, src)
    return list(seen.values())


def _expand_one(item: str, suffixes: tuple[str, ...]) -> Iterator[Source]:
    fs, path = filesystem(item)
    if any(c in GLOB_CHARS for c in path):
        root = _glob_root(path)
        matches = fs.glob(path, detail=True)
        yield from _sources(fs, root, matches.items(), suffixes, strict=False)
    elif fs.isdir(path):
        yield from _sources(fs, path, fs.find(path, detail=True).items(), suffixes, strict=True)
    elif fs.exists(path):
        yield Source(_url(fs, path), posixpath.basename(path.rstrip("/")), int(fs.size(path)))


def _sources(fs: Any, root: str, entries: Iterable[tuple[str, dict[str, Any]]],
             suffixes: tuple[str, ...], strict: bool) -> Iterator[Source]:
    for path, info in sorted(entries):
        if info.get("type") == "directory" or (strict and not path.endswith(suffixes)):
            continue
        rel = posixpath.relpath(path, root) if root else posixpath.basename(path)
        yield Source(_url(fs, path), rel, int(info.get("size") or 0))


def _glob_root(pattern: str) -> str:
    """The folder above the first glob character: outputs keep the path below it."""
    parts = pattern.split("/")
    fixed = next(i for i, p in enumerate(parts) if any(c in GLOB_CHARS for c in p))
    return "/".join(parts[:fixed])


def digest(url: str) -> tuple[int, str]:
    """Size in bytes and SHA-256 of a recording's content (a folder: of its files in order)."""
    fs, path = filesystem(url)
    h = hashlib.sha256()
    files = sorted(fs.find(path)) if fs.isdir(path) else [path]
    size = 0
    for name in files:
        if len(files) > 1:
            h.update(posixpath.relpath(name, path).encode() + b"\0")
        with fs.open(name, "rb") as fh:
            while block := fh.read(READ_BLOCK):
                h.update(block)
                size += len(block)
    return size, h.hexdigest()
