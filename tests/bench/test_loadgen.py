"""The load generator keeps working: short runs of `python -m bench` against a real server.

No timing is asserted: these runs only check that every message is counted,
once, and that the report carries its fields.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.chat import schedule
from bench.scenarios.goals import GOALS, commands
from bench.stats import latency
from bench.wire import marker, parse_marker

ROOT = Path(__file__).resolve().parent.parent.parent


def run_bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    """Run one scenario the way docs/benchmarks.md does; its JSON result."""
    out = tmp_path / "result.json"
    cmd = [sys.executable, "-m", "bench", *args, "--json", str(out), "--pin", "off"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "json:" in done.stdout
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def test_chat_fanout_counts_every_delivery_once(tmp_path: Path) -> None:
    data = run_bench(
        tmp_path, "chat-fanout", "--room-size", "20", "--rate", "5", "--duration", "2",
        "--drain", "30", "--settle", "0.5",
    )  # fmt: skip
    connect, send = data["results"]["connect"], data["results"]["send"]
    assert connect["connected"] == 20
    assert send["sent"] > 0
    assert send["acked"] == send["sent"]
    assert send["expected"] == send["acked"] * 20
    assert send["delivered"] == send["expected"]
    assert (send["lost"], send["duplicated"]) == (0, 0)
    assert set(send["latency_ms"]) >= {"p50", "p95", "p99", "max"}
    assert send["latency_ms"]["count"] == send["delivered"]
    assert {"cpu_percent", "rss_mib_end"} <= set(send["server"])
    assert data["results"]["rss_kib_per_socket"] is not None
    assert data["machine"]["cpus"] >= 1


def test_polling_and_websocket_both_see_every_update(tmp_path: Path) -> None:
    data = run_bench(
        tmp_path, "polling-vs-ws", "--clients", "10", "--duration", "4", "--update-every", "2",
        "--poll-interval", "0.5", "--settle", "0.5",
    )  # fmt: skip
    poll, ws = data["results"]["polling"], data["results"]["websocket"]
    assert poll["updates_posted"] == ws["updates_posted"] == 2
    assert set(poll["statuses"]) == {"200"}
    assert poll["requests"] == 80
    assert poll["delivered"] == poll["expected"] == 20
    assert ws["delivered"] == ws["expected"] == 20
    assert (poll["duplicated"], ws["lost"], ws["duplicated"]) == (0, 0, 0)
    assert poll["bytes"] > 0 and ws["setup_bytes"] > 0 and ws["window_bytes"] > 0


def test_marker_round_trip() -> None:
    text = marker(run="abc", phase=2, sender=7, n=41, payload=80)
    assert len(text) == 80
    run, phase, sender, n, sent = parse_marker(f'{{"message":"{text}"}}') or ("", 0, 0, 0, 0)
    assert (run, phase, sender, n) == ("abc", 2, 7, 41)
    assert sent > 0
    assert parse_marker('{"type":"presence"}') is None


def test_latency_percentiles_are_nearest_rank() -> None:
    summary = latency([1000 * value for value in range(1, 101)])
    assert (summary["p50"], summary["p95"], summary["p99"], summary["max"]) == (50, 95, 99, 100)
    assert latency([])["p99"] is None


def test_schedule_spreads_a_room_rate_over_its_senders() -> None:
    plan = schedule({"r": [1, 2]}, rate=10, duration=3)
    assert sum(sender["count"] for sender in plan) in (29, 30, 31)
    assert {sender["interval_ns"] for sender in plan} == {200_000_000}


def test_every_goal_has_a_command() -> None:
    for number in GOALS:
        lines = commands(number, "uvicorn", [])
        assert lines and all(line[-2:] == ["--server", "uvicorn"] for line in lines)
