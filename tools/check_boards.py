"""Resolve each board's documented install against the package index, as pip would on the board.

For every board in BOARDS: the README must contain its install command word for word, and
``pip install --dry-run --only-binary=:all:`` for the board's Python version, platform tags and
constraints must resolve, with the versions and exclusions the board needs (numpy 1.24.2 on
Raspberry Pi OS, no torch or CUDA wheels on aarch64, no CPU onnxruntime next to a Jetson's
onnxruntime-gpu). Only wheels count, as on a board without a compiler; what has no wheel for a
board (VQF on aarch64) is reported as such.

pip evaluates environment markers (``platform_machine != "aarch64"``, torch's
``platform_system == "Linux"``) against the interpreter that runs it, not against ``--platform``;
so each resolution runs pip with the board's marker environment set, or an x86-64 machine would
resolve a Pi's install as its own.

Usage: python tools/check_boards.py [BOARD...]   (exit 1 when a board does not resolve as stated)
       python tools/check_boards.py --wheelhouse DIR BOARD   (download the board's wheels, with
       sensekit's own, into DIR for an offline install: deploy/README.md)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def manylinux(arch: str, newest_glibc: int) -> list[str]:
    """The manylinux tags a board with glibc 2.newest_glibc accepts."""
    return [f"manylinux_2_{minor}_{arch}" for minor in range(17, newest_glibc + 1)] + [
        f"manylinux2014_{arch}"]


def macos_arm64(newest: int) -> list[str]:
    return [f"macosx_{major}_0_arm64" for major in range(11, newest + 1)]


@dataclass(frozen=True)
class Board:
    """One documented install: where it runs and what it must (not) bring."""

    name: str
    python: str                      # full version, e.g. "3.11.2"
    machine: str                     # platform_machine on the board
    system: str                      # platform_system on the board
    platforms: list[str]
    command: str | None              # the README's pip command, word for word (None: a property)
    requirements: list[str]          # what the command asks for ("." is this project)
    constraints: str | None = None
    extra_index: str | None = None
    pinned: dict[str, str] = field(default_factory=dict)    # name -> exact version
    present: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)         # names or "prefix*"
    expect_failure: str | None = None                       # why it cannot resolve

    @property
    def marker_env(self) -> dict[str, str]:
        major_minor = ".".join(self.python.split(".")[:2])
        return {"implementation_name": "cpython", "implementation_version": self.python,
                "os_name": "posix", "platform_machine": self.machine,
                "platform_python_implementation": "CPython", "platform_release": "",
                "platform_system": self.system, "platform_version": "",
                "python_full_version": self.python, "python_version": major_minor,
                "sys_platform": "darwin" if self.system == "Darwin" else "linux"}


PI_EXTRAS = "gps,i2c,camera,audio,infer,report"
JETSON_EXTRAS = "gps,i2c,camera,audio,report"
BOARDS = [
    Board("raspberry-pi-os-bookworm", "3.11.2", "aarch64", "Linux", manylinux("aarch64", 36),
          f"pip install -c constraints/pi-bookworm.txt '.[{PI_EXTRAS}]'",
          [f".[{PI_EXTRAS}]"], constraints="constraints/pi-bookworm.txt",
          pinned={"numpy": "1.24.2"}, present=["onnxruntime"],
          absent=["torch", "nvidia-*", "cuda-*", "onnxruntime-gpu"]),
    Board("raspberry-pi-os-bookworm-all", "3.11.2", "aarch64", "Linux", manylinux("aarch64", 36),
          "pip install -c constraints/pi-bookworm.txt '.[all]'",
          [".[all]"], constraints="constraints/pi-bookworm.txt",
          pinned={"numpy": "1.24.2"}, present=["onnxruntime", "dask"],
          absent=["torch", "nvidia-*", "cuda-*", "vqf"]),
    Board("raspberry-pi-ahrs-vqf", "3.11.2", "aarch64", "Linux", manylinux("aarch64", 36),
          "pip install '.[ahrs]'", [".[ahrs]"],
          expect_failure="vqf publishes no aarch64 wheel: pip builds it from source there "
                         "(a C++ compiler and python3-dev), else the AHRS runs its pure-Python "
                         "filter"),
    Board("jetson-jetpack-6", "3.10.12", "aarch64", "Linux", manylinux("aarch64", 35),
          f"pip install '.[{JETSON_EXTRAS}]'", [f".[{JETSON_EXTRAS}]"],
          present=["numpy", "matplotlib"],
          absent=["torch", "nvidia-*", "cuda-*", "onnxruntime", "onnxruntime-gpu"]),
    Board("laptop-linux-x86-64", "3.11.7", "x86_64", "Linux", manylinux("x86_64", 39),
          f"pip install --retries 0 --extra-index-url {CPU_TORCH_INDEX} torch==2.13.0 '.[all]'",
          ["torch==2.13.0", ".[all]"], extra_index=CPU_TORCH_INDEX,
          present=["torch", "dask", "onnx", "onnxruntime"], absent=["nvidia-*", "cuda-*"]),
    # No extra forces numpy 2: every extra, torch and VQF included, resolves with apt's numpy.
    Board("every-extra-on-numpy-1.24", "3.11.7", "x86_64", "Linux", manylinux("x86_64", 39),
          None, ["torch==2.13.0", ".[all]"], constraints="constraints/pi-bookworm.txt",
          extra_index=CPU_TORCH_INDEX, pinned={"numpy": "1.24.2"},
          present=["torch", "vqf", "onnx", "onnxruntime", "dask", "pandas", "matplotlib",
                   "opencv-python-headless"], absent=["nvidia-*", "cuda-*"]),
    Board("macos-arm64", "3.11.9", "arm64", "Darwin", macos_arm64(14),
          "pip install '.[all]'", [".[all]"],
          present=["torch", "dask", "onnx", "onnxruntime", "vqf"], absent=["nvidia-*", "cuda-*"]),
]

# Runs pip with the board's marker environment: argv[1] is that environment as JSON.
PIP_AS_BOARD = """
import json, sys
from pip._vendor.packaging import markers
target = json.loads(sys.argv[1])
markers.default_environment = lambda: dict(target)
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def pip_args(board: Board, report: Path, target: Path) -> list[str]:
    args = ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
            "--only-binary=:all:", "--implementation", "cp", "--python-version",
            ".".join(board.python.split(".")[:2]), "--target", str(target)]
    for tag in board.platforms:
        args += ["--platform", tag]
    if board.constraints:
        args += ["-c", str(ROOT / board.constraints)]
    if board.extra_index:
        # as documented: an unreachable index is skipped at once, not retried per package
        args += ["--retries", "0", "--extra-index-url", board.extra_index]
    return args + [req.replace(".", str(ROOT), 1) if req.startswith(".[") else req
                   for req in board.requirements]


def resolve(board: Board) -> tuple[dict[str, str] | None, str]:
    """The names and versions pip would install on the board, or None and pip's error."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-c", PIP_AS_BOARD, json.dumps(board.marker_env),
               *pip_args(board, report, Path(tmp) / "target")]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
            return None, "\n".join(errors[-3:]) or done.stderr[-2000:]
        items = json.loads(report.read_text())["install"]
        return {canon(i["metadata"]["name"]): i["metadata"]["version"] for i in items}, ""


def canon(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def problems(board: Board, got: dict[str, str]) -> list[str]:
    """What in a resolution contradicts what the board needs."""
    found = []
    for name, version in board.pinned.items():
        if got.get(name) != version:
            found.append(f"{name} {got.get(name, 'missing')}, wanted {version}")
    found += [f"{name} missing" for name in board.present if canon(name) not in got]
    for pattern in board.absent:
        hits = [n for n in got if (n.startswith(pattern[:-1]) if pattern.endswith("*")
                                   else n == canon(pattern))]
        found += [f"{n} {got[n]} must not be installed" for n in hits]
    return found


def check(board: Board, readme: str) -> tuple[bool, str]:
    lines = [f"== {board.name} (Python {board.python}, {board.platforms[0]}...)"]
    if board.command is not None and board.command not in readme:
        return False, "\n".join([*lines, f"README.md lacks the command: {board.command}"])
    got, error = resolve(board)
    if board.expect_failure:
        if got is None and "vqf" not in error.lower():
            return False, "\n".join([*lines, f"failed, not as documented:\n{error}"])
        if got is None:
            return True, "\n".join([*lines, f"no wheel-only install, as documented: "
                                            f"{board.expect_failure}"])
        return True, "\n".join([*lines, "now resolves from wheels alone: update the docs "
                                        f"that say otherwise ({board.expect_failure})"])
    if got is None:
        return False, "\n".join([*lines, f"does not resolve:\n{error}"])
    bad = problems(board, got)
    key = ", ".join(f"{n} {got[n]}" for n in ("numpy", "torch", "onnxruntime") if n in got)
    lines.append(f"{len(got)} distributions ({key})")
    lines += [f"  {p}" for p in bad]
    return not bad, "\n".join(lines)


def wheelhouse(board: Board, folder: Path) -> int:
    """Download every wheel the board's install needs, and sensekit's, into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(folder), str(ROOT)])
    if built.returncode:
        return built.returncode
    args = pip_args(board, folder / "report.json", folder / "unused")
    args = ["download", "-d", str(folder)] + [a for a in args[1:] if a not in (
        "--dry-run", "--ignore-installed", "--target", str(folder / "unused"))]
    args = [a for a in args if a not in ("--report", str(folder / "report.json"))]
    done = subprocess.run([sys.executable, "-c", PIP_AS_BOARD, json.dumps(board.marker_env),
                           *args])
    print(f"{folder}: {len(list(folder.glob('*.whl')))} wheels for {board.name}")
    return done.returncode


def main(names: list[str]) -> int:
    if names[:1] == ["--wheelhouse"]:
        if len(names) != 3 or names[2] not in {b.name for b in BOARDS}:
            print("usage: check_boards.py --wheelhouse DIR BOARD", file=sys.stderr)
            return 2
        return wheelhouse(next(b for b in BOARDS if b.name == names[2]), Path(names[1]))
    readme = (ROOT / "README.md").read_text()
    unknown = set(names) - {b.name for b in BOARDS}
    if unknown:
        print(f"unknown board(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    chosen = [b for b in BOARDS if not names or b.name in names]
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:  # waiting on the index, mostly
        results = list(pool.map(lambda b: check(b, readme), chosen))
    for _, text in results:
        print(text)
    failed = sum(not ok for ok, _ in results)
    print(f"\n{len(results) - failed} of {len(results)} board installs resolve as documented")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
