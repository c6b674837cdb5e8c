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
import json
import os
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

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
        """Remove temporaries left by killed attempts at ``rels``; return how many."""
        removed = 0
        for rel in rels:
            pattern = posixpath.join(self.root, posixpath.dirname(rel),
                                     f".{_glob_escape(posixpath.basename(rel))}.*{TMP_SUFFIX}")
            for path in self.fs.glob(pattern):
                self.fs.rm(path, recursive=True)
                removed += 1
        return removed

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
        """Record one attempt at ``key`` in run ``run``; return the attempts so far, this one
        included (a worker killed mid-task leaves its mark, so the retry counts it)."""
        folder = posixpath.join(self.root, STATE, run)
        self.fs.makedirs(folder, exist_ok=True)
        self.fs.touch(posixpath.join(folder, f"{key}.{uuid.uuid4().hex}"))
        return len(self.fs.glob(posixpath.join(folder, f"{key}.*")))

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


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
