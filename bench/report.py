"""The result of a run: a table on stdout and the same numbers as JSON."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

from .server import WORKDIR


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ms(summary: dict[str, Any]) -> str:
    """A latency summary as `p50 / p95 / p99 / max ms`."""
    if not summary.get("count"):
        return "no samples"
    parts = [fmt(summary[key]) for key in ("p50", "p95", "p99", "max")]
    return " / ".join(parts) + " ms"


class Report:
    """Rows for the table, nested results for the JSON, and goal verdicts."""

    def __init__(self, scenario: str, params: dict[str, Any]) -> None:
        self.data: dict[str, Any] = {
            "scenario": scenario,
            "command": params.get("command") or " ".join(["python -m bench", *sys.argv[1:]]),
            "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "params": params,
            "results": {},
            "goals": [],
            "notes": [],
        }
        self.rows: list[tuple[str, str, str]] = []

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def result(self, key: str, value: Any) -> None:
        self.data["results"][key] = value

    def row(self, label: str, value: Any, meaning: str = "") -> None:
        self.rows.append((label, fmt(value), meaning))

    def heading(self, title: str) -> None:
        self.rows.append((f"-- {title}", "", ""))

    def note(self, text: str) -> None:
        self.data["notes"].append(text)

    def goal(self, number: int, target: str, measured: str, met: bool | None) -> None:
        """A verdict on one of the issue's goals (met None: not applicable to this set-up)."""
        self.data["goals"].append(
            {"goal": number, "target": target, "measured": measured, "met": met}
        )

    def render(self) -> str:
        data = self.data
        server = data.get("server", {})
        lines = [
            f"== {data['scenario']} on {server.get('kind', '?')} "
            f"({server.get('processes', 1)} process(es)) — {data['started']}",
            f"   {data['command']}",
        ]
        if "machine" in data:
            m = data["machine"]
            lines.append(
                f"   machine: {m['cpus']} x {m['cpu_model']}, {m['memory_gib']} GiB, "
                f"load {m['load_average_1m']} at start; {data.get('pinning', '')}"
            )
        plain = [row for row in self.rows if not row[0].startswith("-- ")]
        width = max([len(label) for label, _v, _m in plain] + [10])
        vwidth = max([len(value) for _l, value, _m in plain] + [8])
        for label, value, meaning in self.rows:
            if label.startswith("-- "):
                lines.append(label)
                continue
            lines.append(f"  {label:<{width}}  {value:>{vwidth}}  {meaning}".rstrip())
        for goal in data["goals"]:
            verdict = {True: "MET", False: "NOT MET", None: "n/a"}[goal["met"]]
            lines.append(
                f"  goal {goal['goal']}: {goal['target']} — measured {goal['measured']}: {verdict}"
            )
        lines.extend(f"  note: {text}" for text in data["notes"])
        return "\n".join(lines)

    def emit(self, path: str | None) -> Path:
        """Print the table; write the JSON (default: var/bench/results/<scenario>-<server>.json)."""
        print(self.render(), flush=True)
        server = self.data.get("server", {}).get("kind", "server")
        default = WORKDIR / "results" / f"{self.data['scenario']}-{server}.json"
        target = Path(path) if path else default
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.data, indent=1, default=str) + "\n")
        print(f"  json: {target}", flush=True)
        return target
