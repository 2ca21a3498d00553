from collections import Counter
from collections.abc import Callable
from typing import Any

def histogram(
    rows: list[Any],
    counter: type[Counter[str]],
    bucket: Callable[[Any], str],
    category: str,
    tiny: float,
    log_gamma: float,
    /,
) -> Any: ...
