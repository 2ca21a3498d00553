"""Write the JSON Schema of every public contract: ``eddy-schemas [DIR]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from schemas.events import (
    DeadLetterEvent,
    DriftEvent,
    FeatureEvent,
    LabelEvent,
    ModelEvent,
    PredictionEvent,
)

CONTRACTS: dict[str, type[BaseModel]] = {
    "features": FeatureEvent,
    "labels": LabelEvent,
    "predictions": PredictionEvent,
    "dead-letter": DeadLetterEvent,
    "drift": DriftEvent,
    "model-events": ModelEvent,
}
DEFAULT_DIR = Path(__file__).parent / "json"


def render(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(mode="serialization"), indent=2) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else DEFAULT_DIR
    out.mkdir(parents=True, exist_ok=True)
    for topic, model in CONTRACTS.items():
        path = out / f"{topic}.schema.json"
        path.write_text(render(model))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
