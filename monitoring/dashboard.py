"""The dashboard's panels, defined once: Grafana's dashboard JSON is generated
from them (``python -m monitoring.dashboard``), and so is the report of the
same plots without Docker (``monitoring.report``).

A panel plots series of one kind:

- ``rate``: per-second increase of a counter, summed by ``by`` labels;
- ``quantiles``: p50 and p99 of a histogram;
- ``gauge``: a gauge's value, by ``by`` labels.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

DASHBOARD_PATH = Path(__file__).resolve().parent / "grafana" / "dashboards" / "eddy.json"


@dataclass(frozen=True)
class Panel:
    title: str
    kind: Literal["rate", "quantiles", "gauge"]
    metric: str
    by: tuple[str, ...] = ()
    unit: str = "short"

    def queries(self) -> list[tuple[str, str]]:
        """``(PromQL, legend)`` pairs for Grafana."""
        by = f" by ({', '.join(self.by)})" if self.by else ""
        legend = " ".join(f"{{{{{label}}}}}" for label in self.by) or self.title
        if self.kind == "rate":
            return [(f"sum{by}(rate({self.metric}[1m]))", legend)]
        if self.kind == "quantiles":
            return [
                (
                    f"histogram_quantile({q}, sum by (le)(rate({self.metric}_bucket[1m])))",
                    f"p{round(q * 100)}",
                )
                for q in (0.5, 0.99)
            ]
        return [(f"max{by}({self.metric})", legend)]


PANELS = [
    Panel("Events scored per second", "rate", "eddy_events_scored_total", unit="ops"),
    Panel("Events consumed per second", "rate", "eddy_events_consumed_total", ("topic",), "ops"),
    Panel("Scoring latency", "quantiles", "eddy_scoring_latency_seconds", unit="s"),
    Panel("End-to-end latency", "quantiles", "eddy_end_to_end_latency_seconds", unit="s"),
    Panel("Dead letters per second", "rate", "eddy_events_rejected_total", ("reason",), "ops"),
    Panel("Redis errors per second", "rate", "eddy_redis_errors_total", ("operation",), "ops"),
    Panel(
        "Snapshot conflicts per second", "rate", "eddy_snapshot_conflicts_total", ("model",), "ops"
    ),
    Panel("Consumer lag", "gauge", "eddy_consumer_lag", ("topic",)),
    Panel("Live quality (whole stream)", "gauge", "eddy_model_quality", ("metric", "window")),
    Panel("Label outcomes per second", "rate", "eddy_label_outcomes_total", ("outcome",), "ops"),
    Panel("Label delay", "quantiles", "eddy_label_delay_seconds", unit="s"),
    Panel("Drift statistic per feature", "gauge", "eddy_drift_statistic", ("subject",)),
    Panel(
        "Drift detections per second",
        "rate",
        "eddy_drift_detected_total",
        ("kind", "subject"),
        "ops",
    ),
    Panel("Model version", "gauge", "eddy_model_version", ("model",)),
    Panel("Model memory", "gauge", "eddy_model_memory_bytes", ("model",), "bytes"),
    Panel("A live process learns (1) or none (0)", "gauge", "eddy_learning_owned"),
    Panel(
        "Processing errors per second", "rate", "eddy_processing_errors_total", ("topic",), "ops"
    ),
    Panel(
        "Snapshots refused per second", "rate", "eddy_snapshots_refused_total", ("model",), "ops"
    ),
    Panel("Features left out per second", "rate", "eddy_features_dropped_total", unit="ops"),
]


def grafana_dashboard() -> dict[str, Any]:
    panels = []
    for i, panel in enumerate(PANELS):
        panels.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": panel.title,
                "datasource": {"type": "prometheus", "uid": "prometheus"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + j), "expr": expr, "legendFormat": legend}
                    for j, (expr, legend) in enumerate(panel.queries())
                ],
            }
        )
    return {
        "uid": "eddy",
        "title": "eddy: the streaming inference worker",
        "schemaVersion": 39,
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(grafana_dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DASHBOARD_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    print(f"wrote {path}")
