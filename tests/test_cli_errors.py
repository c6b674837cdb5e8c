"""Every failing CLI path ends in one line naming the file and the problem, the right exit status,
no traceback, and every input byte for byte as it was (the real CLI, run in-process)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from sensekit.cli import main
from sensekit.clock import FakeClock
from sensekit.log.recorder import Recorder
from sensekit.packets import Packet

RUN = 1  # the run failed
USAGE = 2  # the command or its configuration is wrong


@dataclass(frozen=True)
class Case:
    argv: str  # "{d}" is the folder of the inputs
    code: int
    said: str  # a part of the one line on stderr (after "{d}" is filled in)
    touches: tuple[str, ...] = ()  # files the command may create (never an input)


def _recording(path: Path) -> None:
    import numpy as np

    clock = FakeClock()
    with Recorder(path, clock=clock, flush_s=0.2) as rec:
        for i in range(20):
            t = i * 100_000_000 + np.arange(100, dtype=np.int64) * 1_000_000
            rec.write(Packet("imu", t, {"accel_mps2": np.ones((100, 3), np.float32)}, "imu"))
            clock.advance(0.1)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    _recording(d / "walk.mcap")
    data = (d / "walk.mcap").read_bytes()
    (d / "cut.mcap").write_bytes(data[:200])  # a header and no chunk: nothing to replay
    (d / "link.mcap").symlink_to(d / "walk.mcap")
    os.link(d / "walk.mcap", d / "hard.mcap")
    (d / "old.mcap").write_bytes(b"an earlier result")
    (d / "folder").mkdir()
    (d / "junk.bin").write_bytes(b"hello world, not a recording")
    (d / "data.csv").write_text("t,lux\n1,2.5\n2,3.5\n")
    (d / "garbage.json").write_text("{not json")
    (d / "list.json").write_text("[1, 2]")
    (d / "binary.json").write_bytes(b"\xff\xfe\x00{")
    (d / "bad.onnx.json").write_text('{"format": 1, "modalities": {"accel": 3}}')
    (d / "rig.toml").write_text(f'[devices.imu]\ndriver = "replay"\n'
                                f'url = "replay://{d}/walk.mcap?speed=0#imu"\n')
    (d / "badkey.toml").write_text('[devices.imu]\ndriver = "replay"\nurl = "emu://"\n'
                                   'rate_hz = "fast"\n')
    (d / "badopt.toml").write_text('[devices.imu]\ndriver = "mpu6050"\nurl = "emu://"\n'
                                   "options = { accel_range_g = 3 }\n")
    (d / "binary.toml").write_bytes(b"\xff\xfe[devices")
    (d / "campaign.toml").write_text('[measure]\ncommand = ["true"]\nrate_hz = "x"\n')
    (d / "weights.json").write_text('{"format": "sensekit.fusion.weights/1"}')
    (d / "weights.pt").write_bytes(b"not used")
    return d


CASES = {
    "repair over its input": Case("log repair {d}/walk.mcap -o {d}/walk.mcap", USAGE,
                                  "{d}/walk.mcap is an input"),
    "repair over a symlink to its input": Case("log repair {d}/walk.mcap -o {d}/link.mcap",
                                               USAGE, "is an input (the same file"),
    "repair over a hard link to its input": Case("log repair {d}/walk.mcap -o {d}/hard.mcap",
                                                 USAGE, "is an input (the same file"),
    "repair over an existing file": Case("log repair {d}/walk.mcap -o {d}/old.mcap", USAGE,
                                         "old.mcap exists. Hint: add --force"),
    "repair -o a folder": Case("log repair {d}/walk.mcap -o {d}/folder", USAGE,
                               "{d}/folder is a folder"),
    "repair a missing file": Case("log repair {d}/nothing.mcap -o {d}/out.mcap", RUN,
                                  "{d}/nothing.mcap: no such recording"),
    "repair a file that is not a recording": Case("log repair {d}/junk.bin -o {d}/out.mcap",
                                                  RUN, "junk.bin is not an MCAP file"),
    "export over its input": Case("export {d}/walk.mcap --to foxglove -o {d}/walk.mcap",
                                  USAGE, "is an input"),
    "export over a symlink to its input": Case(
        "export {d}/walk.mcap --to foxglove -o {d}/link.mcap", USAGE, "is an input"),
    "export -o a folder": Case("export {d}/walk.mcap --to foxglove -o {d}/folder", USAGE,
                               "is a folder"),
    "export tables into a file": Case("export {d}/walk.mcap --to csv -o {d}/junk.bin", USAGE,
                                      "junk.bin is a file, not a folder"),
    "export an unknown stream": Case("export {d}/walk.mcap --to csv --streams imu,nosuch "
                                     "-o {d}/tables", USAGE, "has no stream 'nosuch'; it has imu",
                                     touches=("tables",)),
    "import over its input": Case("import {d}/data.csv -o {d}/data.csv --map t_ns=t "
                                  "--map lux=lux --time-unit s", USAGE, "is an input"),
    "import a file that holds no recording": Case("import {d}/junk.bin -o {d}/new.mcap", RUN,
                                                  "junk.bin: empty"),
    "info of a missing file": Case("info {d}/nothing.mcap", RUN, "no such recording"),
    "replay of junk": Case("replay {d}/junk.bin -q", RUN, "junk.bin is not an MCAP file"),
    "record over its rig": Case("record {d}/rig.toml -q -o {d}/rig.toml --force", USAGE,
                                "rig.toml is an input"),
    "record -o a folder": Case("record {d}/rig.toml -q -o {d}/folder", USAGE,
                               "recording {d}/folder is a folder"),
    "record over an existing recording": Case("record {d}/rig.toml -q -o {d}/old.mcap", USAGE,
                                              "old.mcap exists"),
    "record a rig with a bad key": Case("record {d}/badkey.toml -q", USAGE,
                                        "badkey.toml:4: [devices.imu] rate_hz = 'fast'"),
    "record a rig with a bad option": Case("record {d}/badopt.toml -q -o {d}/x.mcap", USAGE,
                                           "badopt.toml:1: device 'imu' (mpu6050 at emu://)"),
    "record a rig that is not text": Case("record {d}/binary.toml -q", USAGE, "not UTF-8"),
    "demo of a recording with no samples": Case("demo --recording {d}/cut.mcap -o {d}/demo",
                                                RUN, "cut.mcap holds no samples",
                                                touches=("demo",)),
    "demo of junk": Case("demo --recording {d}/junk.bin -o {d}/demo", RUN,
                         "junk.bin is not an MCAP file", touches=("demo",)),
    "demo into a file": Case("demo --recording {d}/walk.mcap -o {d}/junk.bin", USAGE,
                             "is a file, not a folder"),
    "power run into a file": Case("power measure --meter estimate --out {d}/junk.bin -- true",
                                  USAGE, "junk.bin is a file, not a folder"),
    "power campaign with a bad value": Case("power measure --config {d}/campaign.toml", USAGE,
                                            "campaign.toml:3: [measure] rate_hz = 'x'"),
    "power report of a folder without a run": Case("power report {d}/folder", RUN,
                                                   "cannot read {d}/folder/run.json"),
    "weights that are not JSON": Case("evaluate {d}/garbage.json {d}/walk.mcap", RUN,
                                      "garbage.json:1:2: not a fusion weights metadata"),
    "weights that are a list": Case("evaluate {d}/list.json {d}/walk.mcap", RUN,
                                    "not fusion weights metadata: format 'a JSON list'"),
    "weights that are not text": Case("evaluate {d}/binary.json {d}/walk.mcap", RUN,
                                      "not UTF-8"),
    "weights without their fields": Case("evaluate {d}/weights.json {d}/walk.mcap", RUN,
                                         "malformed fusion weights metadata"),
    "model manifest that is not JSON": Case(
        "evaluate-policy {d}/walk.mcap --model {d}/garbage.json", RUN,
        "garbage.json:1:2: not a ONNX fusion manifest"),
    "model manifest without its fields": Case(
        "evaluate-policy {d}/walk.mcap --model {d}/bad.onnx.json", RUN,
        "malformed ONNX fusion manifest"),
    "profile that is a list of numbers": Case(
        "evaluate-policy {d}/walk.mcap --profile {d}/list.json", USAGE,
        "profile {d}/list.json has no static configurations"),
    "profile that is not text": Case("evaluate-policy {d}/walk.mcap --profile {d}/binary.json",
                                     USAGE, "not UTF-8"),
    "policy plot over its recording": Case("evaluate-policy {d}/walk.mcap --plot {d}/walk.mcap",
                                           USAGE, "is an input"),
    "training over existing weights": Case("train {d}/walk.mcap --out {d}/weights", USAGE,
                                           "weights.pt exists"),
}


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.mark.parametrize("name", list(CASES))
def test_failing_paths_are_one_line_and_leave_inputs_alone(
        name: str, inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SENSEKIT_DEBUG", raising=False)
    before = _snapshot(inputs)
    code = main(case.argv.format(d=inputs).split())
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("sensekit "), err
    assert len(lines) == 1, err  # one line, no traceback
    assert case.said.format(d=inputs) in lines[0]
    assert code == case.code, err
    after = _snapshot(inputs)
    for path, digest in before.items():
        assert after.get(path) == digest, f"{name} changed the input {path}"
    new = {p.split("/")[0] for p in after} - {p.split("/")[0] for p in before}
    assert new <= set(case.touches), f"{name} left {new}"
    for folder in case.touches:  # a folder it may create is left empty
        assert not list((inputs / folder).rglob("*.*")) if (inputs / folder).exists() else True


def test_debug_shows_the_traceback(inputs: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSEKIT_DEBUG", "1")
    assert main(["info", str(inputs / "junk.bin")]) == RUN
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "LogFormatError" in err
    assert err.strip().splitlines()[-1].startswith("sensekit info: error: ")


@pytest.mark.parametrize("argv", [["export", "{d}/walk.mcap", "--to", "xml"],
                                  ["record", "{d}/rig.toml", "--split-size", "big"],
                                  ["power", "measure", "--rate", "-3", "--", "true"],
                                  ["log", "repair"]])
def test_usage_errors_exit_2(argv: list[str], inputs: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([a.format(d=inputs) for a in argv])
    assert exit_info.value.code == USAGE
    assert "error:" in capsys.readouterr().err


def test_outputs_go_into_folders_that_do_not_exist_yet(inputs: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "new" / "deeper"
    assert main(["log", "repair", str(inputs / "walk.mcap"), "-o", str(out / "r.mcap")]) == 0
    assert main(["export", str(inputs / "walk.mcap"), "--to", "csv", "-o", str(out / "t")]) == 0
    assert (out / "r.mcap").is_file() and (out / "t" / "imu.csv").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["r.mcap", "t"]  # no temporary left
    assert main(["log", "repair", str(inputs / "walk.mcap"), "-o", str(out / "r.mcap"),
                 "--force"]) == 0
    capsys.readouterr()


def test_a_reader_that_leaves_early_ends_the_command_quietly(inputs: Path) -> None:
    """`sensekit info ... | head`: no error, the status a shell shows for SIGPIPE."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "sensekit", "info",
                             *[str(inputs / "walk.mcap")] * 600],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10) == b"file:     "
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == ""
