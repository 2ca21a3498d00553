"""The benchmarks' own honesty: the learning micro-benchmark times what it
names (it raises if its learner did not join and learn every label); the
contenders' outputs are counted and compared to the last bit; the profile
gives each sample to one library; the bare loop, on the real broker,
publishes one prediction per event with the warmed model's probabilities."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from app.settings import Settings
from benchmarks import cores, machine
from benchmarks.__main__ import fill
from benchmarks.contenders import LOG_APPEND, Outputs, bare, create_topics, pipe, read_all
from benchmarks.data import events, warm_model
from benchmarks.learning import measure
from benchmarks.profile import OWN, shares
from tests.conftest import RUNS, unique


def test_learning_benchmark_times_every_piece_of_a_full_learn() -> None:
    rows = dict(measure(300, 1))
    whole = rows.pop("Learner.learn: all below, in order, per label")
    assert whole > 0 and math.isfinite(whole)
    assert len(rows) == 11 and all(v > 0 and math.isfinite(v) for v in rows.values())


def test_the_batch_benchmark_scores_every_line_both_ways() -> None:
    from benchmarks.http import batch_rates

    ours, theirs = batch_rates(2000, 1)
    assert len(ours) == len(theirs) == 1 and ours[0] > 0 and theirs[0] > 0


def record(key: str, at_ms: int, probabilities: dict[str, float]) -> SimpleNamespace:
    value = json.dumps({"event_id": key, "probabilities": probabilities}).encode()
    return SimpleNamespace(key=key.encode(), timestamp=at_ms, value=value)


def test_outputs_count_each_event_once_and_tell_probabilities_apart_to_the_last_bit() -> None:
    p = {"false": 0.25, "true": 0.75}
    ours = Outputs.of([record("a", 1_000, p), record("b", 1_500, p), record("a", 2_000, p)])
    assert (ours.unique, ours.duplicates) == (2, 1)
    assert ours.events_per_s == 2 / 1.0  # three appended over one second of broker time
    same = Outputs.of([record("a", 0, p), record("b", 10, p)])
    assert ours.differing(same) == 0
    off = {"false": 0.25, "true": math.nextafter(0.75, 1.0)}
    assert ours.differing(Outputs.of([record("a", 0, p), record("b", 10, off)])) == 1
    # An event one of them has not published counts, whichever it is.
    assert ours.differing(Outputs.of([record("a", 0, p)])) == 1
    assert Outputs.of([record("a", 0, p)]).differing(ours) == 1


def test_profile_shares_go_to_the_innermost_library_past_the_event_loop(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    loop = "thread (1): MainThread;main (agents/__main__.py:9);_run_once (asyncio/base_events.py:1)"
    raw.write_text(
        f"{loop};send (aiokafka/producer/producer.py:5);write (asyncio/selector_events.py:2) 3\n"
        f"{loop};score (agents/scoring.py:4);model_validate_json (pydantic/main.py:7) 5\n"
        f"{loop};score (agents/scoring.py:4) 1\n"
        f"{loop} 1\n"
        "thread (1): MainThread;<module> (benchmarks/bare.py:1);_find_and_load (<frozen x>:1) 9\n"
    )
    total, by_part = shares(raw)
    assert total == 10  # start-up left out
    assert by_part["aiokafka (consuming, producing)"] == 0.3  # the socket write is aiokafka's
    assert by_part["pydantic (validating, building and encoding records)"] == 0.5
    assert by_part[OWN] == 0.1 and by_part["the event loop and the rest"] == 0.1
    assert math.isclose(sum(by_part.values()), 1.0)


async def filled(name: str, n: int) -> tuple[str, str, str]:
    """A 2-partition topic of ``n`` benchmark events and an empty sink with
    the broker's append times: ``(bootstrap, source, sink)``."""
    bootstrap, source, sink = (
        Settings().kafka_bootstrap,
        unique(f"{name}-in"),
        unique(f"{name}-out"),
    )
    RUNS.extend([source, sink])
    await create_topics(bootstrap, [source], 2)
    await create_topics(bootstrap, [sink], 2, LOG_APPEND)
    await fill(bootstrap, source, None, n, source)
    return bootstrap, source, sink


def warmed_probabilities(n: int, source: str) -> dict[str, dict[str, float]]:
    """The warmed model's probabilities of each event ``fill`` put in ``source``."""
    model = warm_model()
    return {
        event_id: {
            json.dumps(k): p
            for k, p in (model.predict(json.loads(v)["features"]).proba_dict() or {}).items()
        }
        for event_id, v, _ in events(n, source)
    }


async def test_the_bare_loop_publishes_the_warmed_models_probabilities_once_per_event(
    kafka_up: None,
) -> None:
    bootstrap, source, sink = await filled("bare", 600)
    outputs = await bare(bootstrap, source, sink, 600, 0)
    expected = warmed_probabilities(600, source)
    assert (outputs.unique, outputs.duplicates) == (600, 0)
    assert outputs.probabilities == expected
    assert len({json.dumps(p) for p in expected.values()}) > 500  # a model with weights
    assert outputs.events_per_s > 0


async def test_the_pipe_copies_every_record_once_and_scoring_it_publishes_the_bare_loops(
    kafka_up: None,
) -> None:
    bootstrap, source, sink = await filled("pipe", 600)
    outputs = await pipe(bootstrap, source, sink, 600, False)
    assert (outputs.unique, outputs.duplicates) == (600, 0)
    copied = {r.key.decode(): r.value for r in await read_all(bootstrap, sink, 600, 30)}
    assert copied == {event_id: value for event_id, value, _ in events(600, source)}

    scored = unique("pipe-scored")
    RUNS.append(scored)
    await create_topics(bootstrap, [scored], 2, LOG_APPEND)
    outputs = await pipe(bootstrap, source, scored, 600, True)
    assert (outputs.unique, outputs.duplicates) == (600, 0)
    assert outputs.probabilities == warmed_probabilities(600, source)


def test_pinning_puts_every_thread_of_a_process_on_its_cores() -> None:
    mine, others = cores.split()
    assert mine and others and not mine & others
    assert mine | others == os.sched_getaffinity(0)
    code = "import threading, time; threading.Thread(target=time.sleep, args=(30,)).start()"
    child = subprocess.Popen([sys.executable, "-c", code + "; time.sleep(30)"])
    try:
        tasks = Path(f"/proc/{child.pid}/task")
        deadline = time.monotonic() + 10
        while len(list(tasks.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # until its second thread exists
        cores.pin(child.pid, mine)
        assert {os.sched_getaffinity(int(t.name)) == mine for t in tasks.iterdir()} == {True}
        cores.unpin_all([child.pid])
        assert os.sched_getaffinity(child.pid) == cores.EVERY
    finally:
        child.kill()
        child.wait()


def test_steal_share_is_the_steal_column_of_the_time_spent_between_readings() -> None:
    # user nice system idle iowait irq softirq steal (guest columns after)
    before = [100, 0, 50, 800, 10, 0, 5, 35, 0, 0]
    after = [160, 0, 70, 880, 10, 0, 5, 55, 0, 0]
    assert machine.steal_share(before, after) == 20 / (60 + 20 + 80 + 20)
    assert machine.steal_share(before, before) is None  # no time spent
    assert machine.steal_share(None, after) is None  # no /proc/stat
    now = machine.cpu_times()
    assert now is None or (len(now) >= 8 and all(t >= 0 for t in now))


def test_stalls_are_the_wake_ups_at_least_ten_ms_late() -> None:
    stalled = machine.summarize([0.002, 0.015, 0.030, 0.0011], 5.0, True)
    assert stalled.stalls == 2 and stalled.longest == 0.030
    assert math.isclose(stalled.lost, 0.045)
    assert machine.summarize([], 5.0, False).stalls == 0


def test_the_watch_sees_its_sleeper_stopped_as_one_stall() -> None:
    with machine.Watch() as watch:
        pid = watch.sleeper_pid
        assert pid is not None  # and napping: the watch waits for it
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.2)  # the stall
        os.kill(pid, signal.SIGCONT)
    stalled = watch.stalled
    assert stalled is not None and stalled.seconds >= 0.2
    assert stalled.stalls >= 1 and stalled.longest >= 0.15
    assert stalled.lost >= stalled.longest
    assert watch.steal is None or 0 <= watch.steal <= 1
