"""Plots of `chat-sweep` results: latency and throughput against room size (PNG).

    .venv/bin/python -m bench.plot var/bench/results/chat-sweep-*.json --out docs/img

One line per JSON file (one per server, usually). Needs matplotlib
(requirements-bench.txt).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _series(path: Path) -> tuple[str, list[dict[str, Any]]]:
    data = json.loads(path.read_text())
    if data.get("scenario") != "chat-sweep":
        raise SystemExit(f"{path}: not a chat-sweep result")
    server = data.get("server", {})
    label = f"{server.get('kind', '?')} x{server.get('processes', 1)}"
    points = sorted(data["results"]["points"], key=lambda point: point["room_size"])
    return label, points


def _rate(path: Path) -> str:
    return f"{json.loads(path.read_text())['params'].get('rate', '?'):g}"


def plot(paths: list[Path], out: Path, title: str) -> list[Path]:
    """Write latency-vs-room-size.png and throughput-vs-room-size.png into `out`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    out.mkdir(parents=True, exist_ok=True)
    series = [_series(path) for path in paths]
    written = []

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, points in series:
        sizes = [p["room_size"] for p in points]
        for key, style in (("p50", "--"), ("p99", "-")):
            values = [p["fixed_rate"]["latency_ms"][key] for p in points]
            ax.plot(sizes, values, style, marker="o", label=f"{label} {key}")
    ax.set(xscale="log", yscale="log", xlabel="sockets in the room", ylabel="send → arrival (ms)")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set_title(f"Fan-out latency at {_rate(paths[0])} msg/s{title}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    target = out / "latency-vs-room-size.png"
    fig.savefig(target)
    written.append(target)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for label, points in series:
        pairs = [(p["room_size"], p["best_deliveries_per_second"]) for p in points]
        pairs = [(size, value) for size, value in pairs if value]
        ax.plot([s for s, _ in pairs], [v for _, v in pairs], marker="o", label=label)
    ax.set(xscale="log", xlabel="sockets in the room", ylabel="deliveries per second")
    ax.set_title(f"Most deliveries per second, one room{title}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    target = out / "throughput-vs-room-size.png"
    fig.savefig(target)
    written.append(target)
    plt.close(fig)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("results", nargs="+", type=Path, help="chat-sweep JSON files")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--title", default="", help="appended to the titles, e.g. ' (smoke)'")
    args = parser.parse_args()
    for path in plot(args.results, args.out, args.title):
        print(path)


if __name__ == "__main__":
    main()
