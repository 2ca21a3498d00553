from typing import Any

def transform(
    x: dict[str, Any],
    means: dict[str, float],
    vars: dict[str, float],
    zero: dict[str, int],
    skip_none: bool,
    /,
) -> Any: ...
def learn(
    x: dict[str, Any],
    counts: dict[str, int],
    means: dict[str, float],
    vars: dict[str, float],
    values: dict[str, set[Any]],
    zero: dict[str, int],
    /,
) -> Any: ...
def logistic(z: float, /) -> float: ...
