"""`make bench` keeps working: its command, lag and metrics benchmarks run end to end in
quick mode.

Nothing here asserts a speed (these machines are shared and noisy); only that every figure
the README's table is made of is measured and written."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import postgres_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_quick_bench_reports_ratios_latencies_and_follower_lag(tmp_path: Path) -> None:
    """Every point has the library's and the API's rate, their ratio and p50/p99 latency;
    the lag benchmark says how far the followers fell behind and that they drained."""
    env = {**os.environ, "DATABASE_URL": postgres_url()}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--results", str(tmp_path),
         "http_commands", "follower_lag", "metrics_rebuild"],
        env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    print(done.stdout)  # the bench's own table, shown if an assertion below fails
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    commands = json.loads((tmp_path / "http_commands.json").read_text())
    assert commands["machine"]["cpus"] >= 1
    for command in ("submit", "approve"):
        for clients in ("1", "4", "16"):
            point = commands[command][clients]
            assert point["api"]["ops_per_s"] > 0
            assert point["library"]["ops_per_s"] > 0
            # The ratio is the rounds' own: a stall of the shared machine may make it tiny
            # (it once rounded to 0.0 in CI), so its size is not what this checks.
            rounds = zip(
                point["api"]["rounds_ops_per_s"], point["library"]["rounds_ops_per_s"], strict=True
            )
            ratio = statistics.median(api / library for api, library in rounds)
            assert point["ratio"] == pytest.approx(ratio, rel=0.01, abs=0.002)
            assert point["api"]["p99_ms"] >= point["api"]["p50_ms"] > 0
    lag = json.loads((tmp_path / "follower_lag.json").read_text())
    assert lag["commands"] > 0
    assert lag["bounded"] is True
    assert lag["lag"]["samples"] > 0
    assert "identity.users.v1" in lag["lag"]["followers"]
    metrics = json.loads((tmp_path / "metrics_rebuild.json").read_text())
    for size in metrics["sizes"].values():  # a history that ends before today, as asked
        each = size["rebuild_to_raw_ratio_rounds"]
        assert size["rebuild_to_raw_ratio"] == pytest.approx(statistics.median(each), abs=0.002)
        # Against the raw read in the rebuild's own wire format too (like for like).
        assert size["raw_read_binary_events_per_s"] > 0
        assert size["rebuild_to_raw_binary_ratio"] > 0
        assert size["rebuild_memory_growth_mb"] >= 0
        assert all(ms > 0 for ms in size["endpoint_ms"].values())
        assert size["last_event_at"][:10] < date.today().isoformat()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == {"http_commands", "follower_lag", "metrics_rebuild"}
