"""The board-install check itself (tools/check_boards.py), without the network it resolves on."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def boards() -> ModuleType:
    path = ROOT / "tools" / "check_boards.py"
    spec = importlib.util.spec_from_file_location("check_boards", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_boards"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_the_readme_documents_every_checked_command(boards: ModuleType) -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [b.command for b in boards.BOARDS if b.command and b.command not in readme]
    assert sum(b.command is not None for b in boards.BOARDS) >= 5
    assert not missing


def test_each_board_resolves_the_project_with_its_constraints(boards: ModuleType,
                                                              tmp_path: Path) -> None:
    for board in boards.BOARDS:
        args = boards.pip_args(board, tmp_path / "r.json", tmp_path / "t")
        assert str(ROOT) + "[" in " ".join(args), board.name  # this project, not PyPI's
        if board.constraints:
            assert (ROOT / board.constraints).is_file()
    pi = next(b for b in boards.BOARDS if b.name == "raspberry-pi-os-bookworm")
    assert pi.marker_env["platform_machine"] == "aarch64"
    assert pi.marker_env["python_version"] == "3.11"


def test_a_resolution_that_breaks_a_board_is_reported(boards: ModuleType) -> None:
    pi = next(b for b in boards.BOARDS if b.name == "raspberry-pi-os-bookworm")
    good = {"numpy": "1.24.2", "onnxruntime": "1.20.0", "pandas": "2.3.3"}
    assert boards.problems(pi, good) == []
    bad = {"numpy": "2.4.6", "torch": "2.13.0", "nvidia-cublas": "13.0", "pandas": "3.1.1"}
    found = boards.problems(pi, bad)
    assert any("numpy 2.4.6" in p for p in found)
    assert any(p.startswith("torch") for p in found)
    assert any(p.startswith("nvidia-cublas") for p in found)
    assert "onnxruntime missing" in found
