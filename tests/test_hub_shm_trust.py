"""Shared memory a reader can trust: owner, mode and header checks; cleanup on signals and at
the next start after a crash."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from sensekit import _shm
from sensekit._shm import SHM_DIR
from sensekit.errors import SegmentRefused
from sensekit.hub import Hub, SharedRing, connect
from sensekit.hub_shm import HEADER_BYTES, SLOT_HEADER
from sensekit.packets import Packet
from sensekit.testing.limits import BoundedFailure, run_bounded

pytestmark = pytest.mark.skipif(not os.path.isdir(SHM_DIR), reason="needs Linux /dev/shm")


@pytest.fixture
def name() -> Iterator[str]:
    """A unique segment name; fails the test if a segment of it outlives the test."""
    base = f"sktrust-{uuid.uuid4().hex[:10]}"
    yield base
    left = [n for n in os.listdir(SHM_DIR) if n.startswith(base)]
    for n in left:
        os.unlink(os.path.join(SHM_DIR, n))
    assert left == [], f"segments leaked: {left}"


def frame(n: int = 0) -> Packet:
    return Packet("cam", np.array([n], np.int64), {"image": np.full((1, 8, 8, 3), n, np.uint8)},
                  "camera", {"exposure_us": 100 + n})


def path(name: str) -> str:
    return os.path.join(SHM_DIR, name)


def test_readers_map_read_only_and_segments_are_owner_only(name: str) -> None:
    with SharedRing.create(name, 4096, 4) as ring, SharedRing.attach(name) as other:
        assert stat.S_IMODE(os.stat(path(name)).st_mode) == 0o600
        ring.write(frame(7))
        [got] = other.reader(from_oldest=True).read()
        assert got["image"][0, 0, 0, 0] == 7 and got.meta == {"exposure_us": 107}
        with pytest.raises(ValueError, match="read-only"):
            got["image"][0, 0, 0, 0] = 1  # the mapping itself is read-only, not just the flag
        assert other.segment.buf.readonly


def test_another_users_segment_is_refused_unless_its_group_is_configured(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    gid = os.getgid()
    with SharedRing.create(name, 4096, 2, group=gid):
        assert stat.S_IMODE(os.stat(path(name)).st_mode) == 0o640
        assert os.stat(path(name)).st_gid == gid
        me = os.geteuid()
        monkeypatch.setattr(_shm.os, "geteuid", lambda: me + 1)  # as seen by another user
        monkeypatch.delenv(_shm.GROUP_ENV, raising=False)
        with pytest.raises(SegmentRefused, match=r"belongs to user \d+ .* not to you .*"
                           "SENSEKIT_SHM_GROUP"):
            SharedRing.attach(name)
        SharedRing.attach(name, group=gid).close()  # the recorder/login-account set-up
        monkeypatch.setenv(_shm.GROUP_ENV, str(gid))
        SharedRing.attach(name).close()
        monkeypatch.setenv(_shm.GROUP_ENV, str(gid + 1))
        with pytest.raises(SegmentRefused, match="not to you"):
            SharedRing.attach(name)


def test_unknown_group_is_a_config_error(name: str) -> None:
    with pytest.raises(ValueError, match="group 'no-such-group-here' does not exist"):
        SharedRing.create(name, 4096, 2, group="no-such-group-here")
    assert not os.path.exists(path(name))


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o604])
def test_a_segment_others_may_write_or_read_is_refused(name: str, mode: int) -> None:
    with SharedRing.create(name, 4096, 2):
        os.chmod(path(name), mode)
        with pytest.raises(SegmentRefused, match=f"mode {mode:04o}"):
            SharedRing.attach(name)


def _write_header(name: str, slots: int, slot_bytes: int, stride: int, size: int) -> None:
    words = np.zeros(HEADER_BYTES // 8, np.uint64)
    words[1:7] = [2, slots, slot_bytes, stride, os.getpid(), _shm.process_start_time(
        os.getpid())]
    words[0] = int.from_bytes(_shm.MAGIC, sys.byteorder)
    fd = os.open(path(name), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.ftruncate(fd, size)
        os.pwrite(fd, words.tobytes(), 0)
    finally:
        os.close(fd)


@pytest.mark.parametrize(("slots", "slot_bytes", "stride"), [
    (2**40, 4096, 4160),          # a slot count the segment cannot hold
    (4, 2**50, 4160),             # slots larger than their stride
    (4, 4096, 4161),              # a stride that is not 64-aligned
    (1, 4096, 4160),              # one slot cannot be a ring
])
def test_an_inconsistent_header_is_refused_in_bounded_memory(name: str, slots: int,
                                                               slot_bytes: int,
                                                               stride: int) -> None:
    _write_header(name, slots, slot_bytes, stride, HEADER_BYTES + 4 * 4160)

    def attach() -> str:
        try:
            SharedRing.attach(name)
        except SegmentRefused as exc:
            return str(exc)
        return "accepted"

    message = run_bounded(attach, memory_mib=64, timeout_s=20)
    assert "inconsistent header" in message and f"{slots} slots of {slot_bytes} bytes" in message
    os.unlink(path(name))


def test_a_slot_that_contradicts_its_layout_is_refused(name: str) -> None:
    with SharedRing.create(name, 4096, 4) as ring, SharedRing.attach(name) as other:
        reader = other.reader()
        ring.write(frame(1))
        # Rewrite the slot's layout JSON to claim an array far beyond the slot (the sequence
        # word stays "complete", so this is not a torn read but a crafted segment).
        base = HEADER_BYTES + SLOT_HEADER
        words = ring._w
        slot_word = HEADER_BYTES // 8
        blob_at, blob_len = int(words[slot_word + 4]), int(words[slot_word + 5])
        blob = json.loads(bytes(ring.segment.buf[base + blob_at:base + blob_at + blob_len]))
        blob[2][1][2] = [1, 4000, 4000, 3]
        crafted = json.dumps(blob).encode()
        ring.segment.buf[base + blob_at:base + blob_at + len(crafted)] = crafted
        words[slot_word + 5] = len(crafted)
        with pytest.raises(SegmentRefused, match="slot 0 is inconsistent: its layout"):
            reader.read()
        words[slot_word + 3] += 1000  # a layout id whose JSON is still the crafted one
        with pytest.raises(SegmentRefused, match="does not fit its slot"):
            other.reader(from_oldest=True).read()


def test_an_absurd_slot_meta_or_count_is_refused(name: str) -> None:
    with SharedRing.create(name, 4096, 4) as ring, SharedRing.attach(name) as other:
        ring.write(frame(1))
        slot_word = HEADER_BYTES // 8
        ring._w[slot_word + 6] = 2**60  # meta length
        with pytest.raises(SegmentRefused, match="meta is not a JSON object within the slot"):
            other.reader(from_oldest=True).read()
        ring._w[slot_word + 6] = 0
        ring._w[slot_word + 2] = 10**9  # sample count
        with pytest.raises(SegmentRefused, match="holds 1000000000 samples of a 1-sample"):
            other.reader(from_oldest=True).read()


SIGNALLED = """
import os, signal, sys, time, numpy as np
from sensekit.hub import Hub
from sensekit.packets import Packet
how = sys.argv[2]
if how == "exit-handler":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))
    signal.signal(signal.SIGHUP, lambda *a: sys.exit(3))
elif how == "reload-handler":
    signal.signal(signal.SIGHUP, lambda *a: print("reloaded", flush=True))
elif how == "nohup":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
else:  # the default actions, even when the tests themselves run under nohup
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
hub = Hub(shared=sys.argv[1])
hub.publish(Packet("x", np.arange(3, dtype=np.int64), {}))
print("ready", flush=True)
time.sleep(float(sys.argv[3]))
"""


def start(name: str, how: str, sleep_s: float = 60) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", SIGNALLED, name, how, str(sleep_s)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    assert os.path.exists(path(f"{name}.x"))
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_remove_the_segments_and_still_kill(name: str, sig: int) -> None:
    proc = start(name, "default")
    proc.send_signal(sig)
    assert proc.wait(60) == -sig  # died of the signal, as without sensekit
    assert not os.path.exists(path(f"{name}.x"))


def test_the_users_exit_handler_runs_and_the_segments_go(name: str) -> None:
    proc = start(name, "exit-handler")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 3
    assert not os.path.exists(path(f"{name}.x"))


def test_a_handler_that_carries_on_keeps_the_segments(name: str) -> None:
    proc = start(name, "reload-handler", sleep_s=1.5)
    proc.send_signal(signal.SIGHUP)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "reloaded"
    assert os.path.exists(path(f"{name}.x"))  # the process goes on: so does its hub
    assert proc.wait(60) == 0
    assert not os.path.exists(path(f"{name}.x"))  # then a normal exit cleans up


def test_an_ignored_sighup_stays_ignored(name: str) -> None:
    proc = start(name, "nohup", sleep_s=1.5)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(60) == 0
    assert not os.path.exists(path(f"{name}.x"))


def test_the_next_start_of_any_hub_process_sweeps_dead_processes_segments(name: str) -> None:
    foreign = path(f"{name}-foreign")
    with open(foreign, "wb") as f:
        f.write(b"not a sensekit segment")
    with Hub(shared=f"{name}-live") as live:  # this process swept long ago: it will not
        live.publish(frame())
        dead = start(f"{name}-dead", "default")
        dead.kill()  # SIGKILL: no code runs, the segment stays
        dead.wait(60)
        try:
            assert os.path.exists(path(f"{name}-dead.x"))
            code = f"from sensekit.hub import connect\nconnect({name + '-live'!r}, 'cam').close()"
            subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
            assert not os.path.exists(path(f"{name}-dead.x"))  # swept by an unrelated reader
            assert os.path.exists(path(f"{name}-live.cam")) and os.path.exists(foreign)
        finally:
            os.unlink(foreign)


def test_a_shared_hub_with_a_group_reads_across_accounts(name: str,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    gid = os.getgid()
    with Hub(shared=name, shared_group=gid) as hub:
        hub.publish(frame(1))
        me = os.geteuid()
        monkeypatch.setattr(_shm.os, "geteuid", lambda: me + 1)
        monkeypatch.delenv(_shm.GROUP_ENV, raising=False)
        with pytest.raises(SegmentRefused):
            connect(name, "cam", timeout_s=0)
        with connect(name, "cam", group=gid, timeout_s=0) as sub:
            hub.publish(frame(2))
            [got] = sub.poll(0, copy=True)
            assert int(got["image"][0, 0, 0, 0]) == 2


def test_bounded_runner_reports_memory_and_time_overruns() -> None:
    with pytest.raises(BoundedFailure, match="MemoryError") as caught:
        run_bounded(lambda: bytearray(512 * 2**20), memory_mib=64, timeout_s=20)
    assert caught.value.kind == "MemoryError"
    def spin() -> None:
        while True:
            pass

    with pytest.raises(BoundedFailure, match="TimeoutError"):
        run_bounded(spin, memory_mib=64, timeout_s=0.3)
    assert run_bounded(lambda: sum(range(10)), memory_mib=64, timeout_s=20) == 45
