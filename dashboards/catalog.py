"""The metrics a dashboard can show: names, labels and units (no reads here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One number a dashboard tile shows."""

    name: str
    label: str
    unit: str = ""
    # Measured on the publisher's event loop and handed in as a probe, not read in the ORM thread.
    probed: bool = False


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in [
        Metric("active_users", "Active users"),
        Metric("connections", "Open sockets"),
        Metric("processes", "Server processes"),
        Metric("messages_last_minute", "Chat messages, last minute"),
        Metric("orders_today", "Orders today"),
        Metric("revenue_today", "Revenue today", unit="$"),
        Metric("likes_today", "Likes today"),
        Metric("shares_today", "Shares today"),
        Metric("cpu_percent", "CPU", unit="%"),
        Metric("memory_percent", "Memory", unit="%"),
        Metric("db_latency_ms", "Database round trip", unit="ms"),
        Metric("channel_layer_latency_ms", "Channel layer round trip", unit="ms", probed=True),
    ]
}

METRIC_CHOICES = [(metric.name, metric.label) for metric in METRICS.values()]


def metric_names_check(names: object) -> list[str]:
    """The names that are not metrics (all of them if `names` is not a list of strings)."""
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return ["<not a list of names>"]
    return [name for name in names if name not in METRICS]
