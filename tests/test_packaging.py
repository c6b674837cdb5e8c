"""What an installed sensekit gives a type checker and a user beside the code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def editable_install() -> bool:
    # The project's own sensekit.egg-info (a build leftover) may come first: ask every copy.
    return any(json.loads(d.read_text("direct_url.json") or "{}").get("dir_info", {})
               .get("editable") for d in distributions(name="sensekit"))


@pytest.mark.skipif(not editable_install(), reason="sensekit is not installed in editable mode")
@pytest.mark.skipif(shutil.which("mypy") is None and not (Path(sys.executable).parent / "mypy")
                    .exists(), reason="mypy is not installed")
def test_an_editable_install_is_typed_for_code_outside_the_project(tmp_path: Path) -> None:
    # setuptools' import-hook finder for flat layouts hides the package (and its py.typed)
    # from type checkers; the project's package_dir makes the install a plain .pth entry.
    (tmp_path / "use.py").write_text("import sensekit\nreveal_type(sensekit.open)\n")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-executable", sys.executable,
         "--cache-dir", str(tmp_path / "cache"), "--no-incremental", "use.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout
    assert "sensekit.driver.Driver" in done.stdout, done.stdout


def test_the_license_is_the_one_the_metadata_names() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "license = Apache-2.0" in (ROOT / "setup.cfg").read_text()
