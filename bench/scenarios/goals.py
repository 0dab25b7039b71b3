"""`python -m bench goal N --server S`: the issue's goal N as the scenario command it stands for.

Each goal prints the full command it runs, so the figures can be reproduced
without this shortcut; any other option is passed on to that command.
"""

from __future__ import annotations

import argparse
import os
import shlex
from typing import Any

from ..server import WORKDIR

# Goal 7 compares two saturation points: finer steps than the default x1.5.
FINE = ["--start-rate", "10", "--factor", "1.2"]

GOALS: dict[int, tuple[str, list[list[str]]]] = {
    1: (
        "most deliveries/s from one process into a 1,000-socket room",
        [["max-deliveries", "--room-size", "1000"]],
    ),
    2: (
        "1,000 sockets, 10 msg/s through `send`, 0 lost: p99 send→every socket",
        [["chat-fanout", "--room-size", "1000", "--rate", "10", "--duration", "20"]],
    ),
    3: (
        "1,000 users in rooms of 10, one message a minute each: p99",
        [["chat-rooms", "--users", "1000", "--room-size", "10", "--period", "60"]],
    ),
    4: (
        "100 sockets x 100 msg/s: p99",
        [["chat-fanout", "--room-size", "100", "--rate", "100", "--duration", "20"]],
    ),
    5: ("10,000 idle authenticated sockets on one process: KiB each", [["idle"]]),
    6: (
        "authenticated connects per second",
        [["connect-rate", "--sockets", "2000", "--connect-concurrency", "200"]],
    ),
    7: (
        "two processes on one Redis: deliveries/s against one process",
        [
            ["max-deliveries", "--room-size", "1000", "--processes", "1", *FINE, "--json", "{one}"],
            [
                "max-deliveries",
                "--room-size",
                "1000",
                "--processes",
                "2",
                *FINE,
                "--compare",
                "{one}",
            ],
        ],
    ),
    8: (
        "a socket that stops reading: room, memory, dropped, resume",
        [
            [
                "slow-consumer",
                "--room-size",
                "100",
                "--rate",
                "100",
                "--payload",
                "4000",
                "--stall",
                "60",
            ]
        ],
    ),
}


# Goal 7 wants a core per server process and the rest for the generator. On a
# smaller host each server process is held to this share of a core instead
# (bench/cpulimit.py), so that two processes still get twice the CPU of one.
SMALL_HOST_SHARE = "0.4"


def commands(
    number: int, server: str, extra: list[str], cores: int | None = None
) -> list[list[str]]:
    """The scenario command lines of goal `number` on a host with `cores` usable cores."""
    one = str(WORKDIR / "results" / f"goal7-one-{server}.json")
    cores = len(os.sched_getaffinity(0)) if cores is None else cores
    capped = ["--server-cpus", SMALL_HOST_SHARE] if number == 7 and cores < 4 else []
    return [
        [part.replace("{one}", one) for part in line] + capped + ["--server", server, *extra]
        for line in GOALS[number][1]
    ]


def run_goal(args: argparse.Namespace, main: Any) -> None:
    title = GOALS[args.number][0]
    for line in commands(args.number, args.server, args.extra):
        print(f"goal {args.number} ({title}):\n  python -m bench {shlex.join(line)}", flush=True)
        main(line)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "goal",
        help="run the set-up of one of the issue's goals 1-8",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("number", type=int, choices=sorted(GOALS))
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="daphne")
    parser.set_defaults(func=None, extra=[])
