"""Phishing through Kafka and one running worker at 500 events/s: what it
served agrees with River's progressive validation at the same label delay,
because the learner's process scores with what it has just learned; and a
learned label is served soon, in the learner's process and in another that
loads versions."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pytest

from app.settings import Settings
from app.store import Store
from tests.freshness import EVENTS, measure
from tests.harness import Worker

pytestmark = pytest.mark.integration

RATE = 500
"""Events a second (each with its label: twice as many records)."""
TOLERANCE = {0: 0.03, 100: 0.04}
"""Largest gap allowed in accuracy and ROC AUC, by label delay: looser than
the target of 0.01 (on 1,250 events one event is 0.08 points, and a run of
the whole suite on a busy machine once missed by 0.0200 at delay 0 and by
0.0304 at delay 100, when a label came some 45 events later than in River's
loop; learned ahead of the training topic, some 12). Versions polled every
0.5 s, as before, missed by 3.4 and 4.5 points; the staleness bound below is
what tells the designs apart most sharply."""
STALENESS = 150
"""Most labels, median, that River's model had learned and the served one
not: 0.3 s of the stream. On a quiet machine, learned ahead: 7 to 28; labels
read back from the training topic before the learner's process learned them,
41 to 47; 76 and 37 in a CI run on a machine 1.5 times slower than usual
(the whole suite took 959 s, not 638). Versions polled every 0.5 s after a
snapshot every 0.5 s ran several hundred behind: this bound still tells the
designs apart."""
LIVE_P99 = LOADED_P99 = 2.5
"""Seconds (a bucket bound of the histogram): far looser than the targets
(100 and 300 ms p99), which the benchmark measures. Here, on a quiet
machine, 100 to 300 ms and 300 to 500 ms; on that CI run up to the 1 s
bucket for both, so about twice that slowness fits, as for the staleness.
What it still catches is a label served only after seconds (a stalled
learner, a push that never comes); the designs are told apart by the
staleness bound and the labels learned ahead."""


@pytest.mark.parametrize("delay", [0, 100])
async def test_served_quality_and_freshness_match_progressive_val_score(
    delay: int,
    make_settings: Callable[..., Settings],
    store: Store,
    spawn: Callable[[Settings], Worker],
) -> None:
    # store before spawn: its keys are deleted after the workers stop, not
    # under them (a learner would write its version back).
    fresh = await measure(make_settings(), delay, RATE, spawn, store)
    print(fresh.describe())
    assert fresh.live.count == EVENTS
    # Each label taken from a fetch once; that part of its way comes first.
    assert fresh.received.count == EVENTS
    assert fresh.received.quantile(0.99) <= fresh.live.quantile(0.99)
    # Most labels were taken as they were published, ahead of the training
    # topic (the learner's process serves them a fetch sooner); each once.
    assert fresh.ahead > EVENTS // 2
    assert statistics.median(fresh.staleness) <= STALENESS
    for metric in ("accuracy", "roc_auc"):
        assert abs(fresh.served[metric] - fresh.river[metric]) <= TOLERANCE[delay]
    assert fresh.live.quantile(0.99) <= LIVE_P99
    assert fresh.loaded.quantile(0.99) <= LOADED_P99
