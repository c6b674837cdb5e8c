"""The recordings a fleet job runs over: files, folders, glob patterns and fsspec URLs.

Local paths stay paths; anything with a protocol (``s3://bucket/day1/*.mcap``, ``gs://``,
``memory://``) is opened through fsspec, which comes with Dask. Each recording keeps the path
it has below the argument that named it (``rel``), so the outputs mirror the inputs' folders
and two days' ``rec.mcap`` never write the same result.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["FolderTest", "Source", "digest", "expand", "filesystem", "is_local"]

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


#: Decides whether a folder is itself one recording (a phone app's export of CSV files).
FolderTest = Callable[[Any, str], bool]


def expand(items: Sequence[str], suffixes: tuple[str, ...],
           is_recording: FolderTest | None = None) -> list[Source]:
    """The recordings named by ``items``, in order, each once.

    A file is taken as it is, a glob pattern gives every match (``**`` crosses folders), a
    folder every file below it whose name ends with one of ``suffixes``. With
    ``is_recording``, a folder it accepts is one recording and the others are searched.

    Raises:
        ConfigError: an item matches nothing; no recording at all.
    """
    seen: dict[str, Source] = {}
    for item in items:
        found = list(_expand_one(item, suffixes, is_recording))
        if not found:
            raise ConfigError(f"no recording at {item} (looked for {', '.join(suffixes)} files)")
        for src in found:
            seen.setdefault(src.url, src)
    return list(seen.values())


def _expand_one(item: str, suffixes: tuple[str, ...],
                is_recording: FolderTest | None) -> Iterator[Source]:
    fs, path = filesystem(item)
    if any(c in GLOB_CHARS for c in path):
        root = _glob_root(path)
        for match, info in sorted(fs.glob(path, detail=True).items()):
            if info.get("type") != "directory":
                yield _source(fs, root, match, info)
            else:
                yield from _folder(fs, root, match, suffixes, is_recording)
    elif fs.isdir(path):
        yield from _folder(fs, posixpath.dirname(path.rstrip("/")), path, suffixes,
                           is_recording, top=True)
    elif fs.exists(path):
        yield Source(_url(fs, path), posixpath.basename(path.rstrip("/")), int(fs.size(path)))


def _folder(fs: Any, root: str, path: str, suffixes: tuple[str, ...],
            is_recording: FolderTest | None, top: bool = False) -> Iterator[Source]:
    """A folder's recordings, named below ``root`` (below the folder itself when ``top``)."""
    if is_recording is not None and is_recording(fs, path):
        size = sum(int(i.get("size") or 0) for i in fs.find(path, detail=True).values())
        yield Source(_url(fs, path), posixpath.relpath(path, root), size)
        return
    base = path if top else root
    if is_recording is None:
        for name, info in sorted(fs.find(path, detail=True).items()):
            if name.endswith(suffixes):
                yield _source(fs, base, name, info)
        return
    for info in sorted(fs.ls(path, detail=True), key=lambda i: str(i["name"])):
        name = str(info["name"])
        if info.get("type") == "directory":
            yield from _folder(fs, base, name, suffixes, is_recording)
        elif name.endswith(suffixes):
            yield _source(fs, base, name, info)


def _source(fs: Any, root: str, path: str, info: dict[str, Any]) -> Source:
    rel = posixpath.relpath(path, root) if root else posixpath.basename(path)
    return Source(_url(fs, path), rel, int(info.get("size") or 0))


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
