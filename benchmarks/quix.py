"""The Quix Streams contender: the bare loop's job written as a Quix
Streams application, idiomatically from its documentation, with its
defaults (at-least-once, its idempotent producer, JSON in and out):
validate each event with the worker's pydantic contract, score it with the
same warmed catalog model, publish its prediction, and with
``--learn-first`` also learn the first events as it scores them.

It runs in an environment of its own (``scripts/bench.sh`` makes it from
``benchmarks/quix-requirements.txt``: Quix Streams pins an older pydantic
than the worker), as ``python -m benchmarks.quix``, and stops once it has
published an output per event. It is timed as every contender is, by the
broker's append times of its outputs.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

from quixstreams import Application  # type: ignore[import-not-found, unused-ignore]

from benchmarks.data import contender_args, label, warm_model
from schemas import FeatureEvent


def main() -> None:
    args = contender_args("python -m benchmarks.quix", __doc__)
    model = warm_model()

    def score(value: dict[str, Any]) -> dict[str, Any]:
        event = FeatureEvent.model_validate(value)
        prediction = model.predict(event.features)
        if args.learn_first and int(event.event_id.rsplit("-", 1)[1]) < args.learn_first:
            model.learn(event.features, label({"features": event.features}))
        probabilities = prediction.proba_dict() or {}
        return {
            "event_id": event.event_id,
            "prediction": prediction.label,
            "probabilities": {json.dumps(k): p for k, p in probabilities.items()},
        }

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.sink,
        auto_offset_reset="earliest",
        state_dir=tempfile.mkdtemp(prefix="quix-state-"),
        loglevel="WARNING",
    )
    source = app.topic(args.source, value_deserializer="json")
    sink = app.topic(args.sink, value_serializer="json")
    sdf = app.dataframe(source)
    sdf = sdf.apply(score)
    sdf.to_topic(sink)
    app.run(count=args.events, collect=False)


if __name__ == "__main__":
    main()
