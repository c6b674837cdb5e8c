"""Foxglove's JSON schemas, as sensekit writes them, copied from a pinned published release.

Source: the npm package ``@foxglove/schemas`` version :data:`VERSION`
(https://registry.npmjs.org/@foxglove/schemas/-/schemas-2.1.0.tgz, integrity
:data:`INTEGRITY`), module ``dist/jsonschema/index.js``, each schema written out with
``JSON.stringify(schema, null, 2)`` by ``tools/update_foxglove_schemas.sh``. MIT license
(Foxglove, as its package.json states). ``tests/log/test_foxglove_schemas.py`` checks the copies
against :data:`SHA256` and every schema the codec writes against its copy.

sensekit writes these schemas unchanged but for one added property, ``sensekit``: the fields
Foxglove's schema has no place for (host ``t_ns``, GPS quality), so a message read back gives
the packet exactly.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["INTEGRITY", "SCHEMAS", "SHA256", "VERSION", "schema", "schema_text"]

VERSION = "2.1.0"
INTEGRITY = ("sha512-Av19oG2AdRG5k/36iR/44bRrQB8fI7B5kad1gamXg9morMzklYlhl9+s578eXCR/V8RIeUo+"
             "zoUIf1UUt6gyZQ==")
#: SHA-256 of each copied file, as tools/update_foxglove_schemas.sh wrote it.
SHA256 = {
    "LocationFix": "95f0593820c44c7b573c0038ab17670b972a1843ce1e7267cae68fb622e801c2",
    "CompressedImage": "7c79bf04079b80108295646a31869e7e5347b1664464cb449c4b75322d397dd9",
    "RawImage": "5d6d9ba91f98a951487039d0d3009294c562c214a149502e8cb8b82e3c618136",
    "RawAudio": "3edc29f4ed91835b5024c7b9697165f82be08334a46492a1921f3049828e28a1",
    "PoseInFrame": "608bb6dfe9fc59cd285b71756304b9ed27a412f9612031d88e81b9821d213d42",
}
SCHEMAS = tuple(f"foxglove.{name}" for name in SHA256)


def schema_text(name: str) -> bytes:
    """The copied file of ``foxglove.NAME`` (or ``NAME``), byte for byte."""
    short = name.removeprefix("foxglove.")
    return resources.files(__name__).joinpath(f"{short}.json").read_bytes()


@cache
def _parsed(name: str) -> str:
    return json.dumps(json.loads(schema_text(name)))


def schema(name: str) -> dict[str, Any]:
    """A fresh copy of the schema of ``foxglove.NAME`` as a dict."""
    loaded: dict[str, Any] = json.loads(_parsed(name))
    return loaded
