"""Signed snapshots and the restricted unpickler, without Redis: what is
refused is refused before anything it carries runs."""

from __future__ import annotations

import os
import pickle
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
from river import preprocessing
from river._river_rust.drift import AdaptiveWindowing
from river.linear_model import LogisticRegression

from app import catalog, pending, pickles
from app.errors import BadSnapshot, ConfigError
from app.learner import Learner, LearnerState
from app.model import OnlineModel, Prediction
from app.settings import REGRESSORS, DetectorName, ModelName, Settings
from app.signing import Signer, key_id
from schemas import TrainingEvent

KEY, OLD, OTHER = b"k" * 32, b"o" * 32, b"x" * 32


class Exploit:
    """A pickle that, once loaded, runs a shell command: it creates ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.path}",))


def test_a_signed_blob_opens_only_as_what_it_was_signed_for() -> None:
    signer = Signer(KEY)
    blob = signer.sign("m:model:3", b"payload")
    assert blob != b"payload" and signer.open("m:model:3", blob) == b"payload"
    for context in ("m:model:4", "m:state:3", "n:model:3"):
        with pytest.raises(BadSnapshot) as refused:
            signer.open(context, blob)
        assert refused.value.reason == "bad_signature"
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(BadSnapshot, match="signature does not match"):
        signer.open("m:model:3", tampered)
    with pytest.raises(BadSnapshot) as refused:
        signer.open("m:model:3", blob[:20])
    assert refused.value.reason == "bad_signature"


def test_keys_rotate_and_unknown_or_missing_signatures_are_refused() -> None:
    old = Signer(OLD).sign("c", b"old")
    rotated = Signer(KEY, OLD)
    assert rotated.open("c", old) == b"old"  # the previous key still verifies
    assert rotated.sign("c", b"new")[10:18] == key_id(KEY)  # the current one signs
    with pytest.raises(BadSnapshot) as refused:
        Signer(KEY).open("c", Signer(OTHER).sign("c", b"p"))
    assert refused.value.reason == "unknown_key" and key_id(OTHER).decode() in str(refused.value)
    with pytest.raises(BadSnapshot) as refused:
        rotated.open("c", b"an unsigned pickle")
    assert refused.value.reason == "unsigned"
    # Told to: unsigned blobs are read; signed ones still checked.
    migrating = Signer(KEY, unsigned=True)
    assert migrating.open("c", b"plain") == b"plain"
    with pytest.raises(BadSnapshot):
        migrating.open("c", Signer(OTHER).sign("c", b"p"))
    # No key at all: written unsigned, and a signed blob cannot be checked.
    local = Signer(None, unsigned=True)
    assert local.sign("c", b"p") == b"p"
    with pytest.raises(BadSnapshot) as refused:
        local.open("c", Signer(KEY).sign("c", b"p"))
    assert refused.value.reason == "unknown_key"


def test_keys_come_from_settings_or_files_and_a_worker_needs_one(tmp_path: Path) -> None:
    none: dict[str, Any] = {"snapshot_key": None, "snapshot_key_file": None}
    with pytest.raises(ConfigError, match="EDDY_SNAPSHOT_KEY or EDDY_SNAPSHOT_KEY_FILE"):
        Signer.from_settings(Settings(**none))
    assert Signer.from_settings(Settings(**none, allow_unsigned_snapshots=True)).signs is False
    with pytest.raises(ConfigError, match="at least 32 bytes, not 5") as short:
        Signer.from_settings(Settings(snapshot_key="short", snapshot_key_file=None))
    assert "short" not in str(short.value).replace("at least", "")
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    from_file = Signer.from_settings(Settings(snapshot_key=None, snapshot_key_file=key_file))
    assert Signer(KEY).open("c", from_file.sign("c", b"p")) == b"p"  # whitespace ignored
    with pytest.raises(ValueError, match="both set: choose one") as both:
        Settings(snapshot_key=KEY.decode(), snapshot_key_file=key_file)
    assert KEY.decode() not in str(both.value)  # a refused setting's value is never shown
    with pytest.raises(ValueError, match="EDDY_SNAPSHOT_KEY_FILE: cannot read"):
        Settings(snapshot_key=None, snapshot_key_file=tmp_path / "none")
    with pytest.raises(ConfigError, match="previous snapshot key without a current one"):
        Signer.from_settings(Settings(**none, snapshot_previous_key=OLD.decode()))
    assert "k" * 32 not in repr(Settings(snapshot_key=KEY.decode(), snapshot_key_file=None))


class Fetch:
    """A pickle of ``getattr(obj, name)``: how pickle writes a bound method."""

    def __init__(self, obj: object, name: str) -> None:
        self.obj, self.name = obj, name

    def __reduce__(self) -> tuple[Any, ...]:
        return (getattr, (self.obj, self.name))


def text(value: str) -> bytes:
    return b"\x8c" + bytes([len(value)]) + value.encode()


def find(module: str, name: str) -> bytes:
    return text(module) + text(name) + b"\x93"  # STACK_GLOBAL


def call(function: bytes, argument: bytes) -> bytes:
    return b"\x80\x04" + function + argument + b"\x85R."  # TUPLE1, REDUCE, STOP


def exploit(path: Path) -> bytes:
    return pickle.dumps(Exploit(path))


class Reduce:
    """A pickle of ``function(*args)``, then ``state`` set on the result."""

    def __init__(self, function: Any, args: tuple[Any, ...], state: Any = None) -> None:
        self.reduced = (function, args, state)

    def __reduce__(self) -> tuple[Any, ...]:
        return self.reduced


def download(path: Path) -> bytes:
    """A River dataset filed under an allowed package (``river.bandit``) whose
    iteration downloads a URL into a file the pickle names."""
    from river.bandit.datasets.news import NewsArticles

    state = {"url": "data:;base64,MA==", "filename": str(path), "size": 1, "unpack": False}
    return pickle.dumps(Reduce(list, (Reduce(NewsArticles, (), state),)))


FORBIDDEN = {
    "os.system": exploit,
    # app.model imports pickle: a dotted name reaches pickle.loads through it.
    "through-an-allowed-module": lambda path: call(
        find("app.model", "pickle.loads"), b"C" + bytes([len(exploit(path))]) + exploit(path)
    ),
    "builtins.eval": lambda path: call(find("builtins", "eval"), text(f"open('{path}', 'w')")),
    "subprocess.Popen": lambda path: call(find("subprocess", "Popen"), text(f"touch {path}")),
    "a-dataset-that-downloads": download,
    "set(range(10**9))": lambda path: call(
        find("builtins", "set"), find("builtins", "range") + b"J\x00\xca\x9a;\x85R"
    ),
    "getattr-of-a-dunder": lambda path: pickle.dumps(
        Fetch(preprocessing.StandardScaler(), "__init__")
    ),
}


@pytest.mark.parametrize("make", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_a_validly_signed_pickle_of_a_forbidden_class_runs_nothing(
    make: Callable[[Path], bytes], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    signer = Signer(KEY)
    signed = signer.sign("m:model:1", make(marker))
    with pytest.raises(BadSnapshot) as refused:
        OnlineModel.loads(signer.open("m:model:1", signed))
    assert refused.value.reason == "forbidden"
    assert str(marker) not in str(refused.value)  # named, not shown
    assert not marker.exists()
    if make is exploit:  # the exploit is real: unpickled freely, it runs
        pickle.loads(make(marker))
        assert marker.exists()


def test_getattr_fetches_only_the_methods_river_pickles() -> None:
    scaler = preprocessing.StandardScaler()
    with pytest.raises(BadSnapshot, match=r"may not fetch StandardScaler\.learn_one"):
        pickles.loads(pickle.dumps(Fetch(scaler, "learn_one")))
    with pytest.raises(BadSnapshot, match=r"may not fetch dict\.clone"):
        pickles.loads(pickle.dumps(Fetch({}, "clone")))
    assert callable(pickles.loads(pickle.dumps(Fetch(scaler, "clone"))))


def features(rng: random.Random) -> dict[str, Any]:
    return {"a": rng.random(), "b": rng.choice(["r", "g"]), "c": rng.random() > 0.5}


MODELS, DETECTORS = get_args(ModelName), get_args(DetectorName)
PAIRS = [
    (MODELS[i % len(MODELS)], DETECTORS[i % len(DETECTORS)])
    for i in range(max(len(MODELS), len(DETECTORS)))
]
"""Every catalog model and every drift detector, each in at least one pair."""


@pytest.mark.parametrize(("name", "detector"), PAIRS)
def test_every_models_learner_state_loads_through_the_restricted_unpickler(
    name: ModelName, detector: DetectorName
) -> None:
    rng = random.Random(7)
    same_kind = [n for n in get_args(ModelName) if (n in REGRESSORS) == (name in REGRESSORS)]
    settings = Settings(
        model=name,
        drift_detector=detector,
        drift_action="challenge",
        challengers=",".join(n for n in same_kind if n != name),
        snapshot_key=None,
        snapshot_key_file=None,
    )
    model = OnlineModel(name, catalog.build(name))
    learner = Learner(LearnerState.fresh(model, detector), version=0)
    learner.configure(settings)
    served = Prediction(True, ((False, 0.4), (True, 0.6)))
    for i in range(300):
        x = features(rng)
        y: Any = x["a"] > 0.5 if model.kind == "classifier" else x["a"] * 3
        record = pending.encode(
            x, served if model.kind == "classifier" else Prediction(0.0), 0, 1.0
        )
        due = learner.due([(i, TrainingEvent(event_id=f"e{i}", label=y, label_at=2.0))])
        learner.learn(due, [record], max_delay=60, wait=5, now=3.0)
    assert learner.state.learned == 300
    copy = LearnerState.loads(*learner.state.dumps())
    assert copy.meta() == learner.state.meta()
    assert sorted(copy.challengers) == sorted(learner.state.challengers)
    x = features(rng)
    assert copy.model.predict(x) == learner.state.model.predict(x)


def test_a_pickle_that_rewrites_a_class_is_undone_and_refused() -> None:
    # BUILD on the class object itself: LogisticRegression.predict_proba_one = dict
    blob = (
        b"\x80\x02criver.linear_model\nLogisticRegression\n(N}S'predict_proba_one'\n"
        b"cbuiltins\ndict\nstb0S'x'\n."
    )
    before = LogisticRegression.predict_proba_one
    with pytest.raises(BadSnapshot, match=r"may not rewrite river\.linear_model") as refused:
        OnlineModel.loads(blob)
    assert refused.value.reason == "forbidden"
    assert LogisticRegression.predict_proba_one is before


def test_a_panic_in_rivers_rust_parts_is_an_unreadable_snapshot() -> None:
    blob = pickle.dumps(Reduce(AdaptiveWindowing, (0.002, 32, 5, 10, 5), b"abc"), protocol=4)
    with pytest.raises(BadSnapshot, match="unreadable model: PanicException") as refused:
        OnlineModel.loads(blob)
    assert refused.value.reason == "unreadable"
