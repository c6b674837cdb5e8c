"""Property-based fuzzing of the parsers that read files a user hands sensekit: MCAP scan and
repair, rig TOML, power-model tables and fusion weights metadata.

Each property: no exception but sensekit's own errors, memory and time bounded (each test runs
in a forked child under RLIMIT_AS, see :mod:`fuzzing`), and nothing written but the output.
Example counts are stated on each test; together they run in about 20 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fuzzing import bounded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensekit.clock import FakeClock
from sensekit.errors import SampleDropped, SensekitError
from sensekit.packets import Packet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FUZZ = settings(deadline=timedelta(seconds=10), database=None, derandomize=False,
                suppress_health_check=list(HealthCheck))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# -- MCAP scan and repair ------------------------------------------------------------------
def _small_recording(path: Path) -> bytes:
    from sensekit.log.recorder import Recorder

    clock = FakeClock()
    with Recorder(path, clock=clock, flush_s=0.25) as rec:
        for i in range(12):
            t0 = i * 100_000_000
            t = t0 + np.arange(40, dtype=np.int64) * 2_500_000
            rec.write(Packet("imu", t, {"accel_mps2": np.full((40, 3), i, np.float32)}, "imu"))
            rec.write(Packet("light", np.array([t0], np.int64),
                             {"lux": np.array([i], np.float32)}, "light"))
            if i % 4 == 0:
                rec.write(Packet("gps", np.array([t0], np.int64), {
                    "lat_deg": np.array([52.5]), "lon_deg": np.array([13.4]),
                    "mode": np.array([3], np.int8)}, "gps"))
            clock.advance(0.1)
    return path.read_bytes()


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _small_recording(tmp_path_factory.mktemp("fuzz") / "base.mcap")


def _mutate(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, where, blob in edits:
        at = where % (len(out) + 1)
        if kind == "overwrite":
            out[at:at + len(blob)] = blob
        elif kind == "zero":
            out[at:at + len(blob) * 64] = bytes(len(out[at:at + len(blob) * 64]))
        elif kind == "insert":
            out[at:at] = blob
        else:  # cut
            del out[at:]
    return bytes(out)


EDITS = st.lists(st.tuples(st.sampled_from(["overwrite", "zero", "insert", "cut"]),
                           st.integers(0, 1 << 20), st.binary(min_size=1, max_size=24)),
                 min_size=1, max_size=6)


def _read_everything(path: Path) -> None:
    import sensekit.log as sklog

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDropped)
        for skip in (False, True):
            try:
                with sklog.open(path, skip_corrupt=skip) as log:
                    for _ in log.packets():
                        pass
                    log.scan_streams()
                    log.changes()
                    log.devices()
                    if skip:
                        loss = log.loss()
                        assert loss.messages is None or loss.messages >= 0
            except SensekitError:
                pass


def _repair(path: Path, out: Path) -> None:
    import sensekit.log as sklog
    from sensekit.log.repair import repair

    before = _files(path.parent)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SampleDropped)
            result = repair(path, out)
    except SensekitError:
        assert _files(path.parent) == before  # a refused or failed repair wrote nothing
        return
    after = _files(path.parent)
    assert set(after) == {path.name, out.name} and after[path.name] == before[path.name]
    with sklog.open(out) as log:  # a repaired file is complete and reads without complaint
        assert log.indexed
        assert sum(1 for _ in log.raw_messages()) == result.messages


def test_fuzz_mcap_scan_and_repair(recording: bytes) -> None:
    """MCAP scan and repair, 150 mutated recordings (overwritten, zeroed, inserted and cut
    bytes) and 50 of random bytes after the magic."""

    @settings(FUZZ, max_examples=150)
    @given(edits=EDITS)
    def mutated(edits: list[tuple[str, int, bytes]]) -> None:
        _check_file(_mutate(recording, edits))

    @settings(FUZZ, max_examples=50)
    @given(body=st.binary(max_size=2048))
    def random(body: bytes) -> None:
        _check_file(b"\x89MCAP0\r\n" + body)

    bounded(lambda: (mutated(), random()), memory_mb=768, timeout_s=180)


def _check_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.mcap"
        path.write_bytes(data)
        _read_everything(path)
        assert _files(Path(tmp)) == {"in.mcap": data}  # reading writes nothing
        _repair(path, Path(tmp) / "out.mcap")


# -- rig TOML ------------------------------------------------------------------------------
VALUES = st.one_of(st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                   st.text(max_size=12), st.lists(st.integers(), max_size=3),
                   st.dictionaries(st.text(max_size=6), st.integers(), max_size=3))
KEYS = st.sampled_from(["driver", "url", "stream", "rate_hz", "mode", "enabled", "options",
                        "name", "output", "duration_s", "split_size", "split_duration",
                        "split_mb", "split_s", "flush_s", "params", "budget_mw", "x"])
SECTIONS = st.sampled_from(["rig", "devices.imu", "devices.gps", "policy", "record",
                            "devices", "other"])


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v > 0 else "-inf") if abs(v) == float("inf") \
            else repr(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {x}" for k, x in v.items()) + "}"
    return json.dumps(v)


def test_fuzz_rig_toml() -> None:
    """Rig TOML: 250 generated rigs (known and unknown sections and keys, values of every
    kind) and 150 texts of arbitrary characters."""
    from sensekit.config import parse_rig

    @settings(FUZZ, max_examples=250)
    @given(tables=st.lists(st.tuples(SECTIONS, st.lists(st.tuples(KEYS, VALUES), max_size=6)),
                           max_size=5))
    def generated(tables: list[tuple[str, list[tuple[str, Any]]]]) -> None:
        lines = []
        for section, items in tables:
            lines.append(f"[{section}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in dict(items).items()]
        _parse(parse_rig, "\n".join(lines))

    @settings(FUZZ, max_examples=150)
    @given(text=st.text(max_size=300))
    def arbitrary(text: str) -> None:
        _parse(parse_rig, text)

    bounded(lambda: (generated(), arbitrary()), timeout_s=120)


def _parse(parse: Any, text: str) -> None:
    with contextlib.suppress(SensekitError):  # anything else fails the property
        parse(text, "rig.toml")


# -- power-model tables --------------------------------------------------------------------
def test_fuzz_power_tables() -> None:
    """Power-model tables: 250 shipped tables with rows and values replaced or removed, and
    150 generated documents of any shape."""
    from importlib import resources

    from sensekit.power.model import available_models, parse_power_model

    folder = resources.files("sensekit.power").joinpath("tables")
    shipped = [tomllib.loads(folder.joinpath(f"{m}.toml").read_text()) for m in
               available_models()]

    @settings(FUZZ, max_examples=250)
    @given(index=st.integers(0, len(shipped) - 1),
           edits=st.lists(st.tuples(st.sampled_from(["set", "drop"]), st.integers(0, 1000),
                                    st.integers(0, 1000), VALUES), min_size=1, max_size=5))
    def edited(index: int, edits: list[tuple[str, int, int, Any]]) -> None:
        data = json.loads(json.dumps(shipped[index]))
        for kind, a, b, value in edits:
            _edit_nested(data, kind, a, b, value)
        _power_table(parse_power_model, data)

    @settings(FUZZ, max_examples=150)
    @given(data=st.recursive(VALUES, lambda inner: st.dictionaries(
        st.sampled_from(["modes", "transition", "supply_v", "device", "part", "idle",
                         "power_w", "current_a", "source", "time_s", "from", "to"]), inner,
        max_size=4) | st.lists(inner, max_size=3), max_leaves=20))
    def generated(data: Any) -> None:
        _power_table(parse_power_model, data)

    bounded(lambda: (edited(), generated()), timeout_s=120)


def _edit_nested(data: Any, kind: str, a: int, b: int, value: Any) -> None:
    """Replace or drop one entry, one or two levels down."""
    node = data
    for pick in (a, b):
        if not isinstance(node, dict) or not node:
            return
        key = sorted(node)[pick % len(node)]
        if not isinstance(node[key], (dict, list)) or pick == b:
            if kind == "drop":
                del node[key]
            else:
                node[key] = value
            return
        node = node[key] if isinstance(node[key], dict) else node[key][0] if node[key] else {}


def _power_table(parse: Any, data: Any) -> None:
    try:
        model = parse(data, "fuzz.toml")
    except SensekitError:
        return
    for mode in model.modes.values():
        assert mode.power_w >= 0 and mode.watts(10.0, 100) >= 0


# -- fusion weights metadata ---------------------------------------------------------------
def test_fuzz_weights_metadata(tmp_path: Path) -> None:
    """Fusion weights metadata: 200 shipped metadata files with fields replaced or removed,
    and 100 JSON documents of any shape."""
    pytest.importorskip("torch")
    from sensekit.fusion.weights import SHIPPED, read_metadata

    shipped = json.loads((SHIPPED / "sim_har.json").read_text())
    path = tmp_path / "w.json"

    def check(doc: Any) -> None:
        path.write_text(json.dumps(doc))
        try:
            meta = read_metadata(path)
        except SensekitError:
            return
        assert isinstance(meta, dict) and meta["_path"] == str(path)

    @settings(FUZZ, max_examples=200)
    @given(edits=st.lists(st.tuples(st.sampled_from(["set", "drop"]), st.integers(0, 1000),
                                    st.integers(0, 1000), VALUES), min_size=1, max_size=4))
    def edited(edits: list[tuple[str, int, int, Any]]) -> None:
        doc = json.loads(json.dumps(shipped))
        for kind, a, b, value in edits:
            _edit_nested(doc, kind, a, b, value)
        check(doc)

    @settings(FUZZ, max_examples=100)
    @given(doc=st.recursive(VALUES, lambda inner: st.dictionaries(
        st.sampled_from(["format", "modalities", "tasks", "name", "window_s", "weights_file",
                         "weights_sha256", "training", "kwargs", "kind", "channels",
                         "rates_hz"]), inner, max_size=5) | st.lists(inner, max_size=3),
        max_leaves=20))
    def generated(doc: Any) -> None:
        if isinstance(doc, dict) and "format" not in doc:
            doc["format"] = "sensekit.fusion.weights/1"
        check(doc)

    bounded(lambda: (edited(), generated()), timeout_s=120)
    assert sorted(os.listdir(tmp_path)) in ([], ["w.json"])  # nothing else written
