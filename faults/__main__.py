"""``python -m faults [--only NAME[,NAME]] [--quick] [--seed N]``: run the
fault scenarios in turn, then print the summary table (see ``faults``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import faults
from faults import fuzz, handover, infra, lifecycle, model
from faults.runner import FULL, QUICK, Context, Endpoints, Scenario, run_all, summary

SCENARIOS: dict[str, Scenario] = {
    "new-broker": lifecycle.new_broker,
    "sigterm": lifecycle.sigterm,
    "sigkill": lifecycle.sigkill,
    "hand-over": handover.hand_over,
    "redis-frozen": infra.redis_frozen,
    "redis-restarted": infra.redis_restarted,
    "broker-killed": infra.broker_killed,
    "fuzz": fuzz.fuzz,
    "vocabulary": model.vocabulary,
    "bad-snapshot": model.bad_snapshot,
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m faults",
        description=faults.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only", metavar="NAME[,NAME]", help="run only these scenarios, in the suite's order"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a few minutes")
    parser.add_argument("--seed", type=int, default=20_260_101, help="seed of every random draw")
    args = parser.parse_args(argv)
    if args.only:
        unknown = set(args.only.split(",")) - SCENARIOS.keys()
        if unknown:
            parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args


async def main(argv: list[str]) -> int:
    args = parse(argv)
    # This process's own clients complain while a scenario keeps the broker
    # away on purpose; the scenarios say what matters.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    wanted = set(args.only.split(",")) if args.only else set(SCENARIOS)
    logs = Path(tempfile.mkdtemp(prefix="eddy-faults-"))
    context = Context(QUICK if args.quick else FULL, args.seed, logs, Endpoints.of_shared_stack())
    print(
        f"[faults] logs in {logs}; shared stack: kafka {context.shared.kafka}, "
        f"redis {context.shared.redis}",
        flush=True,
    )
    began = time.monotonic()
    reports = await run_all([(n, s) for n, s in SCENARIOS.items() if n in wanted], context)
    command = os.environ.get("FAULTS_COMMAND") or shlex.join(["python", "-m", "faults", *argv])
    print("\n" + summary(reports, command, time.monotonic() - began), flush=True)
    return 0 if all(r.passed for r in reports) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
