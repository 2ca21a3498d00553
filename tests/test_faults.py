"""The fault suite's own code, exercised on the shared stack: two small
scenarios that need no stack of their own, through the runner that
``scripts/faults.sh`` uses (a scenario whose checks fail fails here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults import fuzz, model
from faults.runner import Context, Endpoints, Scenario, Sizes, run_one

pytestmark = pytest.mark.integration

SMALL = Sizes(fuzz_features=300, fuzz_labels=60, fuzz_good=50, snapshot_events=200)


@pytest.mark.parametrize(
    ("name", "scenario"), [("fuzz", fuzz.fuzz), ("bad-snapshot", model.bad_snapshot)]
)
async def test_a_small_scenario_runs_and_its_checks_hold(
    name: str, scenario: Scenario, kafka_up: None, redis_up: None, tmp_path: Path
) -> None:
    context = Context(SMALL, seed=7, logs=tmp_path, shared=Endpoints.of_shared_stack())
    report = await run_one(name, scenario, context, limit=60)
    assert report.error is None
    assert report.checks and [what for what, ok in report.checks if not ok] == []
    assert report.passed and report.came_out
