"""The dashboard without Docker: sample a worker's ``/metrics`` and draw the
same panels as the Grafana dashboard into one self-contained HTML page.

``python -m monitoring.report --seconds 60`` samples the local worker every second
for a minute; the demo does it for its whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from monitoring.dashboard import PANELS, Panel

Key = tuple[str, tuple[tuple[str, str], ...]]
Series = dict[str, list[tuple[float, float]]]
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


class Recorder:
    """Scrapes of one process's metrics, in time order."""

    def __init__(self) -> None:
        self.scrapes: list[tuple[float, dict[Key, float]]] = []

    def add(self, at: float, text: str) -> None:
        values = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        self.scrapes.append((at, values))

    def series(self, panel: Panel) -> Series:
        if panel.kind == "rate":
            return self._rate(panel)
        if panel.kind == "quantiles":
            return self._quantiles(panel)
        return self._gauge(panel)

    def _grouped(
        self, values: dict[Key, float], name: str, by: tuple[str, ...]
    ) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for (sample, labels), value in values.items():
            if sample == name:
                d = dict(labels)
                out[" ".join(d.get(b, "") for b in by) or name] += value
        return out

    def _rate(self, panel: Panel) -> Series:
        out: Series = defaultdict(list)
        for (t0, v0), (t1, v1) in zip(self.scrapes, self.scrapes[1:], strict=False):
            before = self._grouped(v0, panel.metric, panel.by)
            for legend, value in self._grouped(v1, panel.metric, panel.by).items():
                out[legend].append((t1, max(value - before.get(legend, 0.0), 0.0) / (t1 - t0)))
        return out

    def _gauge(self, panel: Panel) -> Series:
        """The largest value per legend at each scrape (Grafana's ``max by``)."""
        out: Series = defaultdict(list)
        for t, values in self.scrapes:
            largest: dict[str, float] = {}
            for (sample, labels), value in values.items():
                if sample == panel.metric:
                    d = dict(labels)
                    legend = " ".join(d.get(b, "") for b in panel.by) or panel.metric
                    largest[legend] = max(value, largest.get(legend, value))
            for legend, value in largest.items():
                out[legend].append((t, value))
        return out

    def _quantiles(self, panel: Panel) -> Series:
        out: Series = defaultdict(list)
        name = panel.metric + "_bucket"
        for (_, v0), (t1, v1) in zip(self.scrapes, self.scrapes[1:], strict=False):
            buckets = sorted(
                (float(dict(labels)["le"]), value - v0.get((sample, labels), 0.0))
                for (sample, labels), value in v1.items()
                if sample == name
            )
            for q in (0.5, 0.99):
                value = quantile(q, buckets)
                if value is not None:
                    out[f"p{round(q * 100)}"].append((t1, value))
        return out


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over cumulative ``(le, count)`` buckets."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 0
            return lower_bound + (le - lower_bound) * share
        lower_bound, lower_count = le, count
    return lower_bound


def svg(series: Series, width: int = 560, height: int = 200) -> str:
    points = [p for s in series.values() for p in s]
    if not points:
        return '<p class="empty">no data</p>'
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    v0, v1 = min(0.0, min(p[1] for p in points)), max(p[1] for p in points)
    span_t, span_v = (t1 - t0) or 1.0, (v1 - v0) or 1.0
    lines, legend = [], []
    for i, (name, data) in enumerate(sorted(series.items())):
        colour = COLOURS[i % len(COLOURS)]
        xs = (40 + (t - t0) / span_t * (width - 50) for t, _ in data)
        ys = (height - 20 - (v - v0) / span_v * (height - 30) for _, v in data)
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        lines.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>'
        )
        legend.append(
            f'<span style="color:{colour}">&#9632; {html.escape(name)} ({data[-1][1]:.4g})</span>'
        )
    axis = (
        f'<text x="2" y="14" font-size="10">{v1:.3g}</text>'
        f'<text x="2" y="{height - 20}" font-size="10">{v0:.3g}</text>'
        f'<text x="40" y="{height - 4}" font-size="10">{span_t:.0f} s</text>'
    )
    return (
        f'<svg width="{width}" height="{height}">{axis}{"".join(lines)}</svg>'
        f'<div class="legend">{" ".join(legend)}</div>'
    )


def render(recorder: Recorder) -> str:
    panels = "".join(
        f'<div class="panel"><h2>{html.escape(p.title)}</h2>{svg(recorder.series(p))}</div>'
        for p in PANELS
    )
    return (
        "<!doctype html><meta charset=utf-8><title>eddy dashboard</title>"
        "<style>body{font-family:sans-serif;margin:1em}h2{font-size:14px;margin:4px 0}"
        ".panel{display:inline-block;vertical-align:top;border:1px solid #ddd;margin:4px;"
        "padding:6px;width:580px}.legend{font-size:11px}.empty{color:#999}</style>"
        f"<h1>eddy: the streaming inference worker</h1><p>{len(recorder.scrapes)} scrapes, "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}</p>{panels}"
    )


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:
        text: str = response.read().decode()
        return text


async def record(recorder: Recorder, url: str, every: float) -> None:
    """Scrape ``url`` every ``every`` seconds until cancelled."""
    while True:
        # The worker may not be up yet, or be restarting: skip that scrape.
        with contextlib.suppress(OSError):
            recorder.add(time.time(), await asyncio.to_thread(scrape, url))
        await asyncio.sleep(every)


def write(recorder: Recorder, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(recorder))
    return path


async def _main(url: str, seconds: float, every: float, out: Path) -> None:
    recorder = Recorder()
    task = asyncio.create_task(record(recorder, url, every))
    await asyncio.sleep(seconds)
    task.cancel()
    print(f"wrote {write(recorder, out)}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m monitoring.report", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:6066/metrics")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--every", type=float, default=1)
    parser.add_argument("--out", type=Path, default=Path("reports/dashboard.html"))
    args = parser.parse_args()
    asyncio.run(_main(args.url, args.seconds, args.every, args.out))


if __name__ == "__main__":
    main()
