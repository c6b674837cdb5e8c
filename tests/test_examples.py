"""Every script in examples/ runs as a user would run it, and says what it did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# What each prints when it worked (a word from its last lines), and its arguments here.
EXPECT = {
    "read_imu.py": ([], "mean |a| = 9."),
    "record_and_replay.py": (["--seconds", "1"], "replayed the first packet"),
    "import_phone_recording.py": ([], "transport label: walking"),
    "workload_energy.py": (["--seconds", "0.3"], "matmul"),
    "custom_policy.py": (["--seconds", "30"], "motion-gated"),
}


def test_every_example_is_run_here() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECT)


@pytest.mark.parametrize("script", sorted(EXPECT))
def test_example_runs(script: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    args, expected = EXPECT[script]
    if script == "import_phone_recording.py":  # the shortest walk of the corpus, as by default
        corpus: Path = request.getfixturevalue("corpus")
        walks = sorted((corpus / "us_tmd").glob("*_Walking_*.csv.gz"),
                       key=lambda p: p.stat().st_size)
        args = [str(walks[0])]
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in done.stdout, done.stdout
