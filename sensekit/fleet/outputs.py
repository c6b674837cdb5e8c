"""Where a fleet writes: results that appear whole or not at all, the manifest, attempt marks.

Every result is written under a temporary name in its final folder (``.NAME.TOKEN.fleet-tmp``)
and renamed when complete, so a crash or a killed worker never leaves a half-written result
under the real name. A retried task writes the same name again, so it replaces rather than
duplicates. On object storage (``s3://``...) the result is written locally, uploaded under the
temporary name and moved; there a folder result counts as complete once the manifest lists it.

The manifest (``fleet-manifest.json`` beside the outputs, replaced atomically) records for each
output the input's size and SHA-256 and the job's options, so a rerun skips what is done.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .sources import filesystem, is_local

__all__ = ["MANIFEST", "STATE", "TMP_SUFFIX", "OutputDir", "replace_atomically"]

MANIFEST = "fleet-manifest.json"
#: Hidden folder of run state (attempt marks); removed when a run ends.
STATE = ".sensekit-fleet"
TMP_SUFFIX = ".fleet-tmp"


def replace_atomically(tmp: Path, final: Path) -> None:
    """Give ``tmp`` (file or folder) the name ``final``, replacing what was there.

    A file is replaced in one rename. A folder cannot be renamed over a folder, so an older
    one is first moved aside (the only moment without a result under ``final``) and deleted
    after; a crash then leaves no result rather than a mixed one.
    """
    if tmp.is_dir() and final.is_dir():
        aside = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old{TMP_SUFFIX}")
        os.replace(final, aside)
        os.replace(tmp, final)
        shutil.rmtree(aside, ignore_errors=True)
        return
    if tmp.is_dir() and final.exists():
        final.unlink()
    os.replace(tmp, final)


class OutputDir:
    """The output folder of a fleet run, local or behind an fsspec URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = filesystem(url)
        self.local = is_local(self.fs)

    def path(self, rel: str) -> str:
        """Absolute local path or URL of ``rel`` inside the folder."""
        full = posixpath.join(self.root, rel)
        return full if self.local else str(self.fs.unstrip_protocol(full))

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(posixpath.join(self.root, rel)))

    def make(self) -> None:
        """Create the folder.

        Raises:
            ConfigError: a file is there.
        """
        if self.fs.exists(self.root) and not self.fs.isdir(self.root):
            raise ConfigError(f"output folder {self.url} is a file. Hint: give a folder "
                              "(it is created when missing)")
        self.fs.makedirs(self.root, exist_ok=True)

    @contextlib.contextmanager
    def writing(self, rel: str, token: str) -> Iterator[Path]:
        """A local path to write ``rel`` to; published under its real name on success only."""
        final = posixpath.join(self.root, rel)
        tmp_name = f".{posixpath.basename(rel)}.{token}{TMP_SUFFIX}"
        tmp = posixpath.join(posixpath.dirname(final), tmp_name)
        if self.local:
            Path(final).parent.mkdir(parents=True, exist_ok=True)
            try:
                yield Path(tmp)
                replace_atomically(Path(tmp), Path(final))
            finally:
                _remove(Path(tmp))
            return
        with tempfile.TemporaryDirectory(prefix="sensekit-fleet-") as scratch:
            local = Path(scratch) / posixpath.basename(rel)
            yield local
            try:
                self.fs.put(str(local), tmp, recursive=local.is_dir())
                if self.fs.exists(final):
                    self.fs.rm(final, recursive=True)
                self.fs.mv(tmp, final, recursive=local.is_dir())
            finally:
                if self.fs.exists(tmp):
                    self.fs.rm(tmp, recursive=True)

    def sweep(self, rels: list[str]) -> int:
        """Remove temporaries left by killed attempts at ``rels``; return how many.

        Each output folder is listed once, however many results it holds.
        """
        by_folder: dict[str, set[str]] = {}
        for rel in rels:
            folder, name = posixpath.split(rel)
            by_folder.setdefault(folder, set()).add(name)
        removed = 0
        for folder, names in by_folder.items():
            path = posixpath.join(self.root, folder)
            if not self.fs.exists(path):
                continue
            for entry in self.fs.ls(path, detail=False):
                if _temporary_of(posixpath.basename(str(entry).rstrip("/"))) in names:
                    self.fs.rm(entry, recursive=True)
                    removed += 1
        return removed

    def existing(self) -> set[str]:
        """Paths below the folder (files and folders), listed once."""
        if not self.fs.exists(self.root):
            return set()
        return {posixpath.relpath(str(p), self.root)
                for p in self.fs.find(self.root, withdirs=True)}

    # -- manifest ----------------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any]:
        """The manifest's entries by output (empty when there is none yet)."""
        path = posixpath.join(self.root, MANIFEST)
        if not self.fs.exists(path):
            return {}
        with self.fs.open(path, "r") as fh:
            doc = json.load(fh)
        return dict(doc.get("outputs", {}))

    def write_manifest(self, job: str, outputs: Mapping[str, Any]) -> None:
        """Replace the manifest atomically (temporary file, then rename)."""
        text = json.dumps({"version": 1, "job": job, "outputs": dict(sorted(outputs.items()))},
                          indent=1) + "\n"
        with self.writing(MANIFEST, uuid.uuid4().hex[:12]) as tmp:
            tmp.write_text(text)

    # -- attempts ----------------------------------------------------------------------------
    def mark_attempt(self, run: str, key: str) -> int:
        """Record one attempt at ``key`` in run ``run``; return its number (1 for the first).

        A worker killed mid-task leaves its mark, so the retry is counted. The marks are
        files ``KEY.N`` made exclusively, so two attempts never take one number locally.
        """
        folder = posixpath.join(self.root, STATE, run)
        self.fs.makedirs(folder, exist_ok=True)
        for n in itertools.count(1):
            path = posixpath.join(folder, f"{key}.{n}")
            if self.local:
                try:
                    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
                except FileExistsError:
                    continue
                return n
            if not self.fs.exists(path):
                self.fs.touch(path)
                return n
        raise AssertionError("unreachable")

    def forget_run(self, run: str) -> None:
        """Remove a finished run's attempt marks (and the state folder once empty)."""
        folder = posixpath.join(self.root, STATE, run)
        if self.fs.exists(folder):
            self.fs.rm(folder, recursive=True)
        state = posixpath.join(self.root, STATE)
        with contextlib.suppress(OSError):  # another run's marks are still there
            if self.fs.exists(state) and not self.fs.ls(state):
                self.fs.rmdir(state)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def _temporary_of(base: str) -> str | None:
    """The result a temporary stands for: ``.NAME.TOKEN.fleet-tmp`` and
    ``.NAME.HEX.old.fleet-tmp`` (tokens hold no dot) give NAME; anything else None."""
    if not (base.startswith(".") and base.endswith(TMP_SUFFIX)):
        return None
    core = base[1:-len(TMP_SUFFIX)].removesuffix(".old")
    return core.rsplit(".", 1)[0] if "." in core else None
