"""The load generator keeps working: short runs of `python -m bench` against a real server.

No timing is asserted: these runs only check that every message is counted,
once, and that the report carries its fields.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.chat import schedule
from bench.cpulimit import CpuLimit
from bench.run import plan_cores
from bench.scenarios.goals import GOALS, commands
from bench.server import BenchServer, ServerOptions
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


def test_goal_7_holds_each_server_to_a_share_of_a_core_on_a_small_host() -> None:
    small, large = commands(7, "daphne", [], cores=2), commands(7, "daphne", [], cores=4)
    assert [line[line.index("--processes") + 1] for line in small] == ["1", "2"]
    assert all(line[line.index("--server-cpus") + 1] == "0.4" for line in small)
    assert not any("--server-cpus" in line for line in large)


def test_server_processes_with_a_cpu_share_share_a_core() -> None:
    usable = sorted(os.sched_getaffinity(0))
    if len(usable) < 2:
        pytest.skip("needs 2 usable cores")
    server, load, how = plan_cores("auto", 2, 0.4)
    assert (server, load) == (usable[:1], usable[1:])
    assert "40% of a core" in how
    assert plan_cores("auto", 2)[0] == (usable[:2] if len(usable) >= 3 else None)


def test_cpu_limit_puts_each_server_process_in_its_own_capped_group() -> None:
    try:
        limit = CpuLimit(0.4, f"bench-test-{os.getpid()}")
    except RuntimeError as exc:
        pytest.skip(str(exc))
    if os.geteuid() != 0:
        pytest.skip("cgroup files need root")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        limit.apply(sleeper.pid, 0)
        (group,) = limit.groups
        assert str(sleeper.pid) in (group / "cgroup.procs").read_text().split()
        if limit.v2:
            assert (group / "cpu.max").read_text().split() == ["4000", "10000"]
        else:
            assert (group / "cpu.cfs_quota_us").read_text().strip() == "4000"
            assert (group / "cpu.cfs_period_us").read_text().strip() == "10000"
    finally:
        sleeper.kill()
        sleeper.wait()
        limit.remove()
    assert not group.exists()


def test_a_server_that_cannot_be_capped_is_not_left_running(monkeypatch: Any) -> None:
    started: list[int] = []

    class Refusing:
        def __init__(self, share: float, name: str) -> None:
            pass

        def apply(self, pid: int, index: int) -> None:
            started.append(pid)
            raise RuntimeError("--server-cpus needs root (it writes cgroup files)")

        def remove(self) -> None:
            pass

    monkeypatch.setattr("bench.server.CpuLimit", Refusing)
    server = BenchServer(ServerOptions(cpu_share=0.4), run=f"test-{os.getpid()}")
    monkeypatch.setattr(server, "command", lambda index, port: ["sleep", "60"])
    try:
        with pytest.raises(RuntimeError, match="needs root"):
            server.start()
    finally:
        server.cleanup()
    (pid,) = started
    assert server.processes == []
    assert not Path(f"/proc/{pid}").exists()


def test_stale_flood_is_refused_and_others_are_timed(tmp_path: Path) -> None:
    data = run_bench(
        tmp_path, "stale-flood", "--big-ops", "5", "--duration", "2",
        "--typing-behind", "10", "30", "--repeat", "1", "--connect-rate", "5",
        "--message-rate", "5", "--chatters", "2", "--flood-sockets", "2",
    )  # fmt: skip
    results = data["results"]
    assert results["setup"]["version"] == 5
    shapes = [probe["shape"] for probe in results["probes"]]
    assert len(shapes) == 4 and shapes[2].startswith("10 typing ops behind")
    assert results["probes"][0]["replies"] == {"stale_version": 1}
    assert results["worst_op_ms"] > 0
    for phase in ("quiet", "flood"):
        timed = results[phase]
        assert timed["connects"] == 10 and timed["connect_failed"] == {}
        assert timed["connect_ms"]["count"] == 10
        assert timed["ack_ms"]["count"] == timed["delivery_ms"]["count"] == timed["messages"] == 10
    flooder = results["flooder"]
    assert flooder["replies"]["stale_version"] > 0 and flooder["closed"] == []
    assert set(flooder["replies"]) <= {"stale_version", "rate_limited"}
    # The flood meets the collab rate limit the scenario keeps (the bench lifts the others).
    assert "COLLAB_RATE_PER_SECOND=100" in data["params"]["server_env"]
