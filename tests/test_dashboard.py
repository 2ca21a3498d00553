"""The dashboard's panels, for Grafana and for the report without Docker."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from app import metrics
from monitoring.dashboard import DASHBOARD_PATH, PANELS, render
from monitoring.report import Recorder, quantile
from monitoring.report import render as render_report

ROOT = Path(__file__).resolve().parent.parent


def test_committed_grafana_dashboard_is_current() -> None:
    assert DASHBOARD_PATH.read_text() == render(), "run python -m monitoring.dashboard"
    dashboard = json.loads(render())
    assert [p["title"] for p in dashboard["panels"]] == [p.title for p in PANELS]


def test_every_panel_plots_a_metric_the_worker_exports() -> None:
    exported = {s.name for family in metrics.REGISTRY.collect() for s in family.samples}
    exported |= {f.name for f in metrics.REGISTRY.collect()}
    for panel in PANELS:
        name = panel.metric if panel.kind != "quantiles" else panel.metric + "_bucket"
        assert name in exported or name.removesuffix("_total") in exported, panel.metric


def test_prometheus_scrapes_the_worker_and_grafana_reads_prometheus() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    scrape = yaml.safe_load((ROOT / "monitoring" / "prometheus.yml").read_text())
    port = compose["worker"]["environment"]["EDDY_WEB_PORT"]
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == [f"worker:{port}"]
    source = yaml.safe_load(
        (ROOT / "monitoring/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    assert source["url"] == "http://prometheus:9090" and source["uid"] == "prometheus"
    mounts = compose["grafana"]["volumes"]
    assert "./monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts


def test_quantile_is_prometheus_histogram_quantile() -> None:
    buckets = [(0.1, 10.0), (0.5, 60.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert quantile(0.5, buckets) == 0.1 + 0.4 * (50 - 10) / 50
    assert quantile(0.99, buckets) == 0.5 + 0.5 * (99 - 60) / 40
    assert quantile(0.5, []) is None


def test_report_plots_rates_gauges_and_quantiles_from_scrapes() -> None:
    recorder = Recorder()
    text = (
        "eddy_events_scored_total {n}\n"
        'eddy_model_version{{model="m"}} {v}\n'
        'eddy_scoring_latency_seconds_bucket{{le="0.01"}} {n}\n'
        'eddy_scoring_latency_seconds_bucket{{le="+Inf"}} {n}\n'
    )
    recorder.add(100.0, text.format(n=0, v=1))
    recorder.add(102.0, text.format(n=50, v=2))
    by_title = {p.title: p for p in PANELS}
    assert recorder.series(by_title["Events scored per second"]) == {
        "eddy_events_scored_total": [(102.0, 25.0)]
    }
    assert recorder.series(by_title["Model version"]) == {"m": [(100.0, 1.0), (102.0, 2.0)]}
    lag = Recorder()
    line = 'eddy_consumer_lag{{topic="f",partition="{}"}} {}\n'
    lag.add(1.0, line.format(0, 3) + line.format(1, 7))
    assert lag.series(by_title["Consumer lag"]) == {"f": [(1.0, 7.0)]}
    latency = recorder.series(by_title["Scoring latency"])
    assert latency["p50"] == [(102.0, 0.005)]
    page = render_report(recorder)
    assert all(p.title in page for p in PANELS) and "<svg" in page
