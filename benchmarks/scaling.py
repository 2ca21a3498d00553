"""``python -m benchmarks.scaling``: one, two and four worker processes on
the same pre-filled partitions, and what each event costs Redis.

Each round starts ``k`` processes of ``EDDY_ROLE=all`` (one of them learns:
the training partition's owner), lets them drain the same pre-filled topics
(``--events`` events, labels for half), and times them by the broker's
timestamps of their predictions, as ``python -m benchmarks`` does. Rounds
alternate ``--rounds`` times (the machine is shared and noisy: medians, and
ratios to one process within the run). Redis' own command counters
(``INFO commandstats``, before and after each round) give the commands per
event, the Lua scripts' inner commands included, and the script calls
(``EVALSHA``) per event: what a deployment asks of its Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from pathlib import Path
from typing import Any

from redis import asyncio as redis

from app.settings import Role
from benchmarks.__main__ import in_run, prefilled, run_workers, worker_settings

LAYOUTS: dict[int, tuple[Role, ...]] = {1: ("all",), 2: ("all",) * 2, 4: ("all",) * 4}


async def commands(url: str) -> dict[str, int]:
    """Redis' calls per command since it started."""
    client = redis.Redis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def round_of(
    base: dict[str, Any], name: str, k: int, n: int, logs: Path, url: str
) -> dict[str, float]:
    before = await commands(url)
    result = await run_workers(worker_settings(base, name), LAYOUTS[k], n, logs)
    after = await commands(url)
    calls = {c: after.get(c, 0) - before.get(c, 0) for c in after}
    if result["unique"] != n or result["learned"] != n // 2 or result["dead_letters"]:
        raise AssertionError(f"{k} processes: {result}")
    return {
        "events_per_s": result["events_per_s"],
        "duplicates": result["duplicates"],
        "commands": sum(calls.values()) / n,
        "scripts": calls.get("evalsha", 0) / n,
    }


async def measure(args: argparse.Namespace, run: str) -> None:
    n = args.events
    base, logs = await prefilled(run, n, args.partitions)
    url = base["redis_url"]
    print(f"{os.cpu_count()} cores", flush=True)
    results: dict[int, list[dict[str, float]]] = {k: [] for k in LAYOUTS}
    for r in range(args.rounds):
        for k in LAYOUTS:
            got = await round_of(base, f"{run}-{k}p{r}", k, n, logs, url)
            results[k].append(got)
            print(
                f"round {r + 1}, {k} process(es): {got['events_per_s']:,.0f} events/s, "
                f"{got['commands']:.2f} Redis commands and {got['scripts']:.2f} script calls "
                "per event",
                flush=True,
            )
    one = [g["events_per_s"] for g in results[1]]
    print(
        "\n| processes | events/s (median) | / one process, round by round | "
        "Redis commands per event | script calls per event | duplicate predictions |"
    )
    print("|---|---|---|---|---|---|")
    for k, rounds in results.items():
        rates = [g["events_per_s"] for g in rounds]
        ratios = ", ".join(f"{x / o:.2f}" for x, o in zip(rates, one, strict=True))
        print(
            f"| {k} | {statistics.median(rates):,.0f} | {ratios} | "
            f"{statistics.median(g['commands'] for g in rounds):.2f} | "
            f"{statistics.median(g['scripts'] for g in rounds):.2f} | "
            f"{sum(int(g['duplicates']) for g in rounds)} |"
        )


async def main(args: argparse.Namespace) -> None:
    await in_run("scale", measure, args)


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=4)
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
