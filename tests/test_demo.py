"""The demo fails when what it exists to show did not happen."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from app.settings import Settings
from app.store import Store
from tests.harness import ROOT, Worker, env_of, wait_assigned

ARGS = ["--sea-events", "300", "--rate", "2000", "--delay", "20", "--drain-seconds", "15"]


def run_demo(settings: Settings, tmp: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo", *ARGS, "--dashboard", f"{tmp}/dashboard.html"],
        cwd=ROOT,
        env=env_of(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.integration
async def test_the_demo_succeeds_only_when_every_label_is_learned(
    make_settings: Callable[..., Settings],
    spawn: Callable[[Settings], Worker],
    store: Store,
    tmp_path: object,
) -> None:
    settings = make_settings()
    scorer = spawn(settings.model_copy(update={"role": "scorer"}))
    await wait_assigned([scorer], {settings.topic_features: 4}, ready=False)
    # A worker that scores but never learns: the demo must say so, and fail.
    failed = run_demo(settings, str(tmp_path))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    last = failed.stdout.strip().splitlines()[-1]
    assert last == "--- FAILED: the model learned 0 of 1550 labels", failed.stdout

    learner = spawn(
        settings.model_copy(update={"role": "learner", "web_port": make_settings().web_port})
    )
    await wait_assigned([scorer, learner], {settings.topic_training: 1})
    passed = run_demo(settings, str(tmp_path))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    last = passed.stdout.strip().splitlines()[-1]
    assert last.startswith("--- every event predicted, labels learned 1550 of 1550"), last
    assert "River's progressive_val_score on the same stream (delay 20)" in last
