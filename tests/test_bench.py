"""Benchmark helpers: what they measure must be the command's own numbers."""

from __future__ import annotations

import sys

import pytest

from mlstarter import bench

ALLOCATE = "x = bytearray(200 * 2**20)\nfor i in range(0, len(x), 4096): x[i] = 1"


@pytest.mark.skipif(sys.platform == "win32", reason="peak memory via resource is POSIX only")
def test_peak_memory_is_the_commands_own_not_the_parents():
    ballast = bytearray(400 * 2**20)  # this process is big; the command must not inherit its peak
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    small = bench.timed_subprocess([sys.executable, "-c", "pass"])
    large = bench.timed_subprocess([sys.executable, "-c", ALLOCATE])
    assert small["peak_rss_mib"] < 100
    assert 200 <= large["peak_rss_mib"] < 350
    assert large["seconds"] > 0


def test_a_failing_command_raises_with_its_output():
    with pytest.raises(RuntimeError, match="boom"):
        bench.timed_subprocess([sys.executable, "-c", "raise SystemExit('boom')"])


def test_summary_and_paired_differences():
    assert bench.summary([0.7, 0.8]) == {"mean": pytest.approx(0.75), "sd": pytest.approx(0.05), "folds": [0.7, 0.8]}
    diff = bench.paired([0.8, 0.9, 0.85], [0.7, 0.8, 0.76])
    assert diff["mean"] == pytest.approx(0.0967, abs=1e-4) and diff["se"] > 0


def test_result_tables_have_one_row_per_entry():
    speed = bench.speed_table({"train": {"seconds": 3.21, "peak_rss_mib": 300}})
    assert speed.splitlines()[-1] == "| train | 3.2 | 300 |"
    row = {"requests_per_s": 99.6, "p50_ms": 1.04, "p95_ms": 2.0, "p99_ms": 3.0, "errors": 0, "requests": 10}
    assert bench.serving_table({"one": row}).splitlines()[-1] == "| one | 100 | 1.0 | 2.0 | 3.0 | 0/10 |"


def test_results_say_how_busy_the_machine_was():
    from mlstarter import machine

    info = machine.describe()
    assert len(info["load_average"]) == 3 and "load average" in machine.line(info)
    assert "load average" not in machine.line({**info, "load_average": None})  # results from before it was recorded


def test_results_name_the_machine_and_the_lock_they_ran_with():
    from mlstarter import machine

    info = machine.describe()
    assert info["cores"] >= 1 and info["lock"] == machine.lock_id() and len(info["lock"]) == 12
    assert f"requirements.lock {info['lock']}" in machine.line(info)
