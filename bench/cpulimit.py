"""A server process held to a fixed share of one core, through a cgroup CPU quota.

Goal 7 compares two server processes with one. On a host with a core for each
server and one or more for the generator, each process simply gets its own
core. On a smaller host (2 cores), `--server-cpus 0.4` gives every server
process at most 40 % of a core instead: the processes share the server core,
the generator keeps the other, and two processes get twice the CPU of one, as
they would on a larger host. Sharing a core costs the two processes context
switches that separate cores would not, so the ratio measured this way errs
low.

The quota is enforced by the kernel's CFS bandwidth control, over 10 ms
periods (a process that used its share waits at most the rest of a period).
Needs root and the cgroup v1 `cpu` controller or cgroup v2 with `cpu` enabled.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

PERIOD_US = 10_000
V1 = Path("/sys/fs/cgroup/cpu")
V2 = Path("/sys/fs/cgroup")


class CpuLimit:
    """One cgroup per server process, each capped at `share` of a core."""

    def __init__(self, share: float, name: str) -> None:
        if not 0 < share <= 1:
            raise ValueError("--server-cpus is a share of one core: more than 0, at most 1")
        self.share = share
        self.name = name
        self.groups: list[Path] = []
        self.v2 = _v2_has_cpu()
        if not self.v2 and not (V1 / "cpu.cfs_quota_us").exists():
            raise RuntimeError("--server-cpus needs the cgroup cpu controller (v1 or v2)")

    def apply(self, pid: int, index: int) -> None:
        """Move process `pid` into its own capped group."""
        group = (V2 if self.v2 else V1) / f"{self.name}-{index}"
        try:
            group.mkdir(exist_ok=True)
            quota = round(self.share * PERIOD_US)
            if self.v2:
                (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            else:
                (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (group / "cpu.cfs_quota_us").write_text(str(quota))
            (group / "cgroup.procs").write_text(str(pid))
        except PermissionError:
            raise RuntimeError("--server-cpus needs root (it writes cgroup files)") from None
        self.groups.append(group)

    def remove(self) -> None:
        """Remove the groups (their processes have exited)."""
        for group in self.groups:
            with contextlib.suppress(OSError):  # still busy: left for the next run's name
                group.rmdir()
        self.groups.clear()


def _v2_has_cpu() -> bool:
    controllers = V2 / "cgroup.subtree_control"
    return controllers.exists() and "cpu" in controllers.read_text().split()
