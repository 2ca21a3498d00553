"""Wire contracts: every message the worker reads or writes, as pydantic v2 models.

This package imports nothing else of the project; everything else may import it.
"""

from schemas.events import (
    DeadLetterEvent,
    DeadLetterReason,
    DriftEvent,
    Explanation,
    FeatureEvent,
    FeatureValue,
    Label,
    LabelEvent,
    ModelAction,
    ModelEvent,
    PredictionEvent,
    Source,
    TrainingEvent,
)

__all__ = [
    "DeadLetterEvent",
    "DeadLetterReason",
    "DriftEvent",
    "Explanation",
    "FeatureEvent",
    "FeatureValue",
    "Label",
    "LabelEvent",
    "ModelAction",
    "ModelEvent",
    "PredictionEvent",
    "Source",
    "TrainingEvent",
]
