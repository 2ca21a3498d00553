"""``python -m benchmarks.http``: the HTTP and batch ways in, against bare
baselines measured in the same run (alternated; medians and ratios).

- ``POST /predict`` on a worker (everything on, role ``all``, the local
  stack) against a bare aiohttp server whose handler decodes the JSON,
  calls River's ``predict_proba_one`` and encodes the answer: single
  events at a fixed request rate, latency from each request's intended
  send time (so a stalled client does not hide slow periods).
- ``eddy score``'s code on a JSON Lines file against River alone on the
  same file (decode, ``predict_proba_one``, encode, write): events/s.

The benchmark's events (20 numbers, 2 strings); the catalog's
``logistic-regression`` in both, untrained (scoring costs the same)."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from app import catalog
from app.batch import score_file
from app.model import OnlineModel
from app.serving import ServedModel
from app.settings import Settings
from benchmarks.__main__ import forget, worker_settings
from benchmarks.data import events
from tests.harness import Worker, delete_topics, free_port, wait_assigned


def bare_app() -> web.Application:
    model = catalog.build("logistic-regression")

    async def predict(request: web.Request) -> web.Response:
        event = json.loads(await request.read())
        proba = model.predict_proba_one(event["features"])
        body = {
            "event_id": event["event_id"],
            "probabilities": {str(k): v for k, v in proba.items()},
        }
        return web.Response(body=json.dumps(body).encode(), content_type="application/json")

    app = web.Application()
    app.router.add_post("/predict", predict)
    return app


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(url: str, bodies: list[bytes], rate: float) -> list[float]:
    """POST each body at ``rate`` a second; seconds from each one's intended
    send time to its answer (every answer must be 200)."""
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:

        async def one(body: bytes, due: float) -> None:
            async with session.post(url, data=body) as response:
                await response.read()
                if response.status != 200:
                    raise AssertionError(f"{url}: {response.status}")
            latencies.append(time.monotonic() - due)

        start = time.monotonic() + 0.2
        tasks = []
        for i, body in enumerate(bodies):
            due = start + i / rate
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(body, due)))
        await asyncio.gather(*tasks)
    return latencies


def river_alone(path: Path, out: Path) -> int:
    model = catalog.build("logistic-regression")
    n = 0
    with path.open() as lines, out.open("w") as sink:
        for line in lines:
            event = json.loads(line)
            proba = model.predict_proba_one(event["features"])
            sink.write(json.dumps({"event_id": event["event_id"], "probabilities": proba}) + "\n")
            n += 1
    return n


def batch_rates(n: int, rounds: int) -> tuple[list[float], list[float]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-batch"))
    path = folder / "events.jsonl"
    path.write_bytes(b"".join(value + b"\n" for _, value, _ in events(n, "b")))
    settings = Settings()
    served = ServedModel(
        OnlineModel("logistic-regression", catalog.build("logistic-regression")), 0
    )
    ours, theirs = [], []
    for _ in range(rounds):
        began = time.perf_counter()
        assert river_alone(path, folder / "river.jsonl") == n
        theirs.append(n / (time.perf_counter() - began))
        began = time.perf_counter()
        with (folder / "ours.jsonl").open("w") as out:
            summary = score_file(path, out, served, settings, progress=False)
        assert summary.predicted == n and summary.bad == 0
        ours.append(n / (time.perf_counter() - began))
    return ours, theirs


ROOT = Path(__file__).resolve().parent.parent


def start_bare(port: int) -> subprocess.Popen[bytes]:
    """The bare aiohttp + River server, in a process of its own as the worker is."""
    command = [sys.executable, "-m", "benchmarks.http", "--bare-server", str(port)]
    return subprocess.Popen(command, cwd=ROOT)


async def http_rounds(rate: float, seconds: float, rounds: int) -> dict[str, list[list[float]]]:
    run = f"bench-http-{uuid.uuid4().hex[:6]}"
    bodies = [value for _, value, _ in events(int(rate * seconds), run)]
    defaults = Settings()
    base = {
        "kafka_bootstrap": defaults.kafka_bootstrap,
        "redis_url": defaults.redis_url,
        "topic_features": f"{run}-features",
        "topic_labels": f"{run}-labels",
    }
    settings = worker_settings(base, run, web_port=free_port())
    logs = Path(tempfile.mkdtemp(prefix=run))
    worker = Worker(settings, logs).start()
    bare_port = free_port()
    bare = start_bare(bare_port)
    out: dict[str, list[list[float]]] = {"bare": [], "worker": []}
    try:
        await wait_assigned([worker], {settings.topic_features: settings.topic_partitions})
        urls = {
            "bare": f"http://127.0.0.1:{bare_port}/predict",
            "worker": f"http://127.0.0.1:{settings.web_port}/predict",
        }
        for _ in range(rounds):
            for name, url in urls.items():
                out[name].append(await load(url, bodies, rate))
    finally:
        worker.stop()
        bare.terminate()
        bare.wait(10)
        await forget(settings.redis_url, run)
        await delete_topics(settings.kafka_bootstrap, [f"{run}-"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http", description=__doc__)
    parser.add_argument("--rate", type=float, default=200, help="requests a second")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=100_000, help="lines in the batch file")
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        web.run_app(bare_app(), host="127.0.0.1", port=args.bare_server, print=None)
        return
    ours, theirs = batch_rates(args.events, args.rounds)
    rounds = asyncio.run(http_rounds(args.rate, args.seconds, args.rounds))

    def ms(runs: list[list[float]], q: float) -> float:
        return statistics.median(percentile(r, q) for r in runs) * 1000

    rows: list[tuple[str, Any]] = [
        (
            f"POST /predict, one event a request at {args.rate:.0f}/s for {args.seconds:.0f} s, "
            f"p50 / p99 (ms, median of {args.rounds}): worker; bare aiohttp + River",
            f"{ms(rounds['worker'], 0.5):.1f} / {ms(rounds['worker'], 0.99):.1f}; "
            f"{ms(rounds['bare'], 0.5):.1f} / {ms(rounds['bare'], 0.99):.1f}",
        ),
        (
            "the same, worker / bare, p50 and p99",
            f"{ms(rounds['worker'], 0.5) / ms(rounds['bare'], 0.5):.2f}, "
            f"{ms(rounds['worker'], 0.99) / ms(rounds['bare'], 0.99):.2f}",
        ),
        (
            f"eddy score on {args.events:,} lines, events/s (median of {args.rounds}): "
            "eddy; River alone",
            f"{statistics.median(ours):,.0f}; {statistics.median(theirs):,.0f} "
            f"(ratio {statistics.median(ours) / statistics.median(theirs):.2f})",
        ),
    ]
    print("| figure | value |\n|---|---|")
    for figure, value in rows:
        print(f"| {figure} | {value} |")


if __name__ == "__main__":
    main()
