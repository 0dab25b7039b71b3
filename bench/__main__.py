"""`python -m bench <scenario> [options]`: one command per scenario, server included.

Each scenario starts its own server (daphne or uvicorn) on a fresh bench
database, connects the sockets, measures, prints a table and writes JSON
(var/bench/results/<scenario>-<server>.json unless `--json` says where).
`python -m bench goal N --server uvicorn` runs the set-up of the issue's goal N.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from .run import add_run_arguments
from .scenarios import capacity, chat, feeds, goals, polling, stale_flood, sweep
from .server import add_server_arguments

Scenario = Callable[[argparse.Namespace], Awaitable[None]]


def _common(sub: Any, name: str, func: Scenario, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=(func.__doc__ or help_text).strip(),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_server_arguments(parser)
    add_run_arguments(parser)
    parser.set_defaults(func=func)
    return parser


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0] if __doc__ else ""
    )
    sub = root.add_subparsers(dest="scenario", required=True, metavar="SCENARIO")
    chat.register(sub, _common)
    sweep.register(sub, _common)
    capacity.register(sub, _common)
    feeds.register(sub, _common)
    polling.register(sub, _common)
    stale_flood.register(sub, _common)
    goals.register(sub)
    return root


def main(argv: list[str] | None = None) -> None:
    root = parser()
    args, extra = root.parse_known_args(argv)
    if args.scenario == "goal":
        args.extra = extra
        goals.run_goal(args, main)
        return
    if extra:
        root.error(f"unrecognized arguments: {' '.join(extra)}")
    args.command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
        asyncio.run(args.func(args))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
