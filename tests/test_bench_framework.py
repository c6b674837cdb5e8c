"""The bench framework: repeats, ratio medians and spreads, load watching, the JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensekit import bench
from sensekit.bench import Case, case, merge_runs, repeated
from sensekit.bench.report import CpuWatch, machine_info, run_benchmark
from sensekit.cli import main


def test_repeated_takes_the_median_of_pairwise_ratios_and_their_spread() -> None:
    c = repeated("throughput", [100.0, 300.0, 200.0], "items/s", [50.0, 100.0, 40.0])
    assert c.value == 200.0 and c.baseline == 50.0
    assert c.ratios == (2.0, 3.0, 5.0) and c.ratio == 3.0  # not 200 / 50
    assert c.spread == (2.0, 5.0) and c.repeats == 3
    lower = repeated("latency", [1.0, 2.0], "ms", [4.0, 4.0], higher_is_better=False)
    assert lower.ratios == (4.0, 2.0) and lower.ratio == 3.0
    alone = repeated("online", [3.0, 1.0, 2.0], "x")
    assert alone.ratio is None and alone.spread == (1.0, 3.0)
    with pytest.raises(ValueError, match="2 values but 1 baselines"):
        repeated("x", [1.0, 2.0], "s", [1.0])


def test_runs_of_a_benchmark_merge_by_name_in_order() -> None:
    runs = [[case("a", 10.0, "s", 20.0, higher_is_better=False), case("b", 1.0, "x")],
            [case("a", 5.0, "s", 20.0, higher_is_better=False), case("b", 3.0, "x")]]
    a, b = merge_runs(runs)
    assert (a.name, a.values, a.ratios, a.ratio, a.spread) == ("a", (10.0, 5.0), (2.0, 4.0),
                                                                3.0, (2.0, 4.0))
    assert (b.name, b.value, b.spread) == ("b", 2.0, (1.0, 3.0))


def test_table_shows_median_ratio_spread_and_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench.format_table("demo", [repeated("t", [2.0, 4.0], "ms", [8.0, 8.0],
                                         higher_is_better=False)], sys.stdout)
    out = capsys.readouterr().out
    assert "3.00x" in out and "2.00-4.00x" in out and "spread" in out and "runs" in out


@pytest.fixture
def fake_benchmarks(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Three registered benchmarks: one repeating itself, one not, one failing."""
    calls = {"plain": 0, "self": 0}

    def plain(quick: bool) -> list[Case]:
        calls["plain"] += 1
        return [case("x", float(calls["plain"]), "s", 10.0, higher_is_better=False)]

    def itself(quick: bool) -> list[Case]:
        calls["self"] += 1
        return [repeated("y", [1.0, 2.0, 3.0], "ops", [1.0, 1.0, 1.0])]

    def broken(quick: bool) -> list[Case]:
        raise RuntimeError("no peer library here")

    for name, fn in (("plain", plain), ("self", itself), ("broken", broken)):
        module = types.ModuleType(f"sensekit_test_bench_{name}")
        module.run = fn  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(bench, "BENCHMARKS", {
        n: (f"sensekit_test_bench_{n}", f"{n} benchmark") for n in ("plain", "self", "broken")})
    monkeypatch.setattr("sensekit.bench.report.BENCHMARKS", bench.BENCHMARKS)
    monkeypatch.setattr("sensekit.bench.cli.BENCHMARKS", bench.BENCHMARKS)
    # 'bench all' runs each benchmark in a new process, which would not see these modules.
    monkeypatch.setattr("sensekit.bench.cli.run_isolated", run_benchmark)
    yield calls


def test_a_benchmark_is_repeated_unless_it_repeats_itself(fake_benchmarks: dict[str, int]
                                                          ) -> None:
    plain = run_benchmark("plain", quick=True)
    assert fake_benchmarks["plain"] == 3 and plain.runs == 3
    [x] = plain.cases
    assert x.values == (1.0, 2.0, 3.0) and x.ratio == 5.0 and x.spread == (10 / 3, 10.0)
    itself = run_benchmark("self", quick=False)
    assert fake_benchmarks["self"] == 1 and itself.cases[0].repeats == 3
    failed = run_benchmark("broken", quick=True)
    assert failed.error == "RuntimeError: no peer library here" and failed.cases == []
    assert failed.watch is not None and len(failed.watch.load_after) == 3


def test_bench_all_writes_one_report_and_says_which_failed(
        fake_benchmarks: dict[str, int], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    assert main(["bench", "all", "--quick", "--json", "-o", str(out)]) == 1  # one failed
    printed = capsys.readouterr()
    doc = json.loads(out.read_text())
    assert json.loads(printed.out) == doc  # --json: the same report on stdout
    assert [b["name"] for b in doc["benchmarks"]] == ["plain", "self", "broken"]
    assert doc["benchmarks"][2]["error"] == "RuntimeError: no peer library here"
    assert doc["machine"]["cpus"] >= 1 and doc["python"]["version"] == \
        ".".join(map(str, sys.version_info[:3]))
    assert "numpy" in doc["libraries"] and "sensekit" in doc["libraries"]
    assert len(doc["load"]["before"]) == 3 and "busy" in doc["benchmarks"][0]
    assert doc["benchmarks"][0]["cases"][0]["ratios"] == [10.0, 5.0, 10 / 3]
    assert "load average before" in printed.err and "== plain" in printed.err


def test_output_file_is_replaced_only_with_force(fake_benchmarks: dict[str, int],
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    out.write_text("keep me")
    assert main(["bench", "plain", "-o", str(out)]) == 2
    assert "exists. Hint: add --force" in capsys.readouterr().err
    assert out.read_text() == "keep me"
    assert main(["bench", "plain", "--repeats", "2", "-o", str(out), "--force"]) == 0
    assert json.loads(out.read_text())["benchmarks"][0]["runs"] == 2
    assert main(["bench", "plain", "-o", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left


def _cpu_of(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 1.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc")
def test_cpu_used_by_another_process_counts_as_others() -> None:
    watch = CpuWatch()
    burner = subprocess.Popen([sys.executable, "-c",
                               "import time\nt = time.process_time()\n"
                               "while time.process_time() - t < 5: pass"])
    try:
        deadline = time.monotonic() + 60
        while _cpu_of(burner.pid) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.05)
        watch.stop()  # while the child runs and is not reaped: not this process's CPU
    finally:
        burner.kill()
        burner.wait()
    assert watch.others_cpus is not None and watch.others_cpus * watch.seconds >= 0.4


def test_machine_info_names_cpu_cores_and_memory() -> None:
    info = machine_info()
    assert info["cpus"] >= 1 and info["arch"] and info["cpu"]


@pytest.mark.slow
def test_a_benchmark_runs_in_a_process_of_its_own() -> None:
    from sensekit.bench.report import run_isolated

    result = run_isolated("align", quick=True, repeats=1)
    assert result.error is None and result.runs == 1 and result.watch is not None
    assert result.cases and all(c.repeats >= 1 for c in result.cases)
    assert result.cases[0].ratio is not None and result.watch.seconds > 0
    failed = run_isolated("nosuch", quick=True)
    assert failed.error is not None and "exited with 2" in failed.error
    assert "unknown benchmark 'nosuch'" in failed.error


def test_cases_survive_the_json_round_trip() -> None:
    for c in (repeated("t", [2.0, 4.0], "ms", [8.0, 8.0], higher_is_better=False, note="n"),
              case("alone", 3.0, "x"), case("one", 2.0, "s", 4.0)):
        assert Case.from_json(c.as_json()) == c
