"""The worker's one settings object: every knob, read once from ``EDDY_*``.

Only this module reads the environment. Build ``Settings()`` once at start-up
and pass it on; a setting that makes no sense stops the worker before it
consumes anything.

>>> Settings(pending_ttl_seconds=60, label_max_delay_seconds=120)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings
...
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Self, cast, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ModelName = Literal[
    "logistic-regression",
    "hoeffding-tree",
    "linear-regression",
    "hoeffding-adaptive-tree",
    "adaptive-random-forest",
    "bandit-logistic-regression",
    "successive-halving-logistic-regression",
]
REGRESSORS = {"linear-regression"}
KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
DetectorName = Literal["adwin", "page-hinkley", "kswin", "ddm", "eddm", "hddm-a", "hddm-w", "fhddm"]
BINARY_DETECTORS = {"ddm", "eddm", "hddm-a", "hddm-w", "fhddm"}
Role = Literal["all", "scorer", "learner"]
DriftAction = Literal["alert", "reset", "challenge"]


def masked(url: str) -> str:
    """A URL with the password of its user part, if any, masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}"))


SECRET_FILES = {
    "kafka_sasl_password": "kafka_sasl_password_file",
    "admin_token": "admin_token_file",
    "client_token": "client_token_file",
    "snapshot_key": "snapshot_key_file",
    "snapshot_previous_key": "snapshot_previous_key_file",
}
"""Secrets that may come from a file instead (``EDDY_<NAME>_FILE``)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EDDY_",
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        # A refused setting is named, its value never shown: it may be a secret.
        hide_input_in_errors=True,
    )

    app_id: str = Field("eddy", min_length=1)
    """Kafka consumer group and prefix of internal topics; processes with the
    same id share the work."""

    role: Role = "all"
    """What this process does. ``all``: score, forward labels, and learn when
    it owns the training partition. ``scorer``: score and forward labels,
    never learn. ``learner``: learn only, in consumer group
    ``<app_id>-learner``, on a core of its own. Run ``all`` everywhere, or
    scorers with learners: never ``all`` next to ``learner``."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    """Kafka bootstrap servers, ``host:port[,host:port]``."""

    kafka_security_protocol: KafkaProtocol = "PLAINTEXT"
    """How every Kafka client of the process (consumer, producer, admin)
    connects: ``PLAINTEXT``, ``SSL`` (TLS), ``SASL_PLAINTEXT`` or
    ``SASL_SSL`` (a user and password over TLS: what production clusters
    ask for)."""

    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    """With ``SASL_*``: ``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512``."""

    kafka_sasl_username: str | None = None
    """With ``SASL_*``: the Kafka user."""

    kafka_sasl_password: SecretStr | None = None
    """With ``SASL_*``: the user's password."""

    kafka_sasl_password_file: Path | None = None
    """A file holding the password instead."""

    kafka_ssl_cafile: Path | None = None
    """With ``SSL`` or ``SASL_SSL``: the CA certificates (PEM) that the
    broker's certificate must chain to; unset, the system's. The broker's
    host name is always checked against its certificate."""

    kafka_ssl_certfile: Path | None = None
    """The client's certificate (PEM), for brokers that require mutual TLS."""

    kafka_ssl_keyfile: Path | None = None
    """The client certificate's private key (PEM), if not in the certificate file."""

    kafka_ssl_key_password: SecretStr | None = None
    """The private key's password, if it is encrypted."""

    kafka_session_timeout_seconds: float = Field(10.0, ge=3, le=300)
    """A worker silent this long leaves the consumer group and its partitions
    move to the others (so also: how long a killed worker's partitions wait)."""

    kafka_commit_interval_seconds: float = Field(1.0, gt=0, le=300)
    """How often handled offsets are committed. A worker that dies, or a
    rebalance that waits too long, redelivers at most about this much."""

    kafka_metadata_max_age_seconds: float = Field(5.0, gt=0, le=300)
    """How often the consumer refreshes its view of the cluster's topics: a
    topic created after the worker joined is assigned within about this long."""

    kafka_fetch_max_wait_seconds: float = Field(0.02, gt=0, le=10)
    """How long the broker may hold a fetch open when none of its partitions
    has new records. While it does, no other fetch goes to that broker, so
    this bounds how long idle topics (labels, training) can hold back busy
    ones. Each idle partition costs a fetch this often."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis holding pending features, label claims and model snapshots:
    ``redis://[user:password@]host:port/db``, or ``rediss://`` for TLS
    (``?ssl_ca_certs=...`` and the other options redis-py takes). Shown
    with its password masked. With ``EDDY_REDIS_CLUSTER``, any node of the
    cluster (the client finds the others)."""

    redis_cluster: bool = False
    """Whether ``EDDY_REDIS_URL`` is a Redis Cluster. Its keys then carry
    hash tags, so the keys each script touches share a slot, and batches
    are split by slot; its key names differ from a single server's, so
    switching either way starts from an empty Redis."""

    redis_prefix: str = Field("eddy", min_length=1)
    """Prefix of every Redis key, so several deployments can share one Redis."""

    redis_timeout_seconds: float = Field(2.0, gt=0)
    """Socket and connect timeout of every Redis call."""

    topic_features: str = "features"
    """Feature events in (``FeatureEvent``)."""

    topic_labels: str = "labels"
    """Labels in (``LabelEvent``)."""

    topic_predictions: str = "predictions"
    """Predictions out (``PredictionEvent``)."""

    topic_dead_letter: str = "dead-letter"
    """Messages that could not be handled (``DeadLetterEvent``)."""

    topic_drift: str = "drift"
    """Drift detections out (``DriftEvent``)."""

    topic_model_events: str = "model-events"
    """Rollbacks, pins and freezes out (``ModelEvent``)."""

    topic_partitions: int = Field(4, ge=1)
    """Partitions of the features, labels and predictions topics when the
    worker creates them; more partitions let more processes share the load."""

    topic_replication_factor: int = Field(1, ge=1)
    """Replicas of each topic the worker creates (at most the number of
    brokers). Existing topics are left as they are."""

    model: ModelName = "logistic-regression"
    """The River pipeline served and trained (see the README's model table).
    It also names the model's line of versions in Redis, whichever pipeline
    a promotion makes the champion."""

    challengers: str = ""
    """Pipelines (comma-separated names from the model table, of the same
    kind as ``EDDY_MODEL``) that score events in shadow wherever the
    champion scores them, learn from the same labels in the learner, and
    are compared with the champion label by label."""

    challenger_sample: float = Field(1.0, gt=0, le=1)
    """Share of events the challengers score in shadow (their predictions
    kept with the event's features until its label comes, and compared
    with the champion's then); chosen by event id, so every process and
    run picks the same. Challengers learn from every label whatever the
    share: a smaller one saves their predictions and the memory they take
    in Redis, and the test needs as many compared labels, so it decides
    later."""

    promotion: Literal["auto", "manual"] = "auto"
    """``auto``: a challenger that beats the champion by the sequential test
    takes its place; ``manual``: only ``eddy model promote``."""

    promotion_loss: Literal["zero-one", "log"] = "zero-one"
    """Per-label loss compared (classifiers; regressors: absolute error)."""

    promotion_min_labels: int = Field(1000, ge=1)
    """Labels both must have been compared on before a promotion."""

    promotion_alpha: float = Field(0.01, gt=0, lt=0.5)
    """Bound on the chance of promoting a challenger that is no better."""

    promotion_effect: float = Field(0.1, gt=0, lt=0.5)
    """The edge the test is built to detect: among the labels where the two
    differ, the challenger better on 0.5 + this share of them."""

    batch_max_events: int = Field(500, ge=1, le=100_000)
    """Most records in one fetch from Kafka, which is handled as one batch
    (one Redis round trip, one produce). A batch never waits to fill."""

    pending_ttl_seconds: int = Field(86_400, ge=1)
    """How long predict-time features are kept in Redis, waiting for a label."""

    pending_compression: Literal["off", "zlib"] = "off"
    """``zlib``: each predict-time record is kept zlib-compressed (level 1):
    about 30% less Redis memory per event for records of a few hundred
    bytes, for some 20 µs more per event (see the README's sizing). Records are
    read either way, so it can be switched at any time."""

    pending_sample: float = Field(1.0, gt=0, le=1)
    """Share of scored events whose predict-time features are kept for
    their labels, chosen by a hash of the event id (the same events in
    every process and run; ``sampled`` in the README). For labels that
    come for a known share of events only, labelled by the same rule: the
    memory for the others is saved, and their labels count ``unsampled``."""

    label_max_delay_seconds: int | None = Field(None, ge=1)
    """Labels later than this after their event, in event time (the
    label's ``occurred_at`` or Kafka timestamp against the event's), are
    counted as expired and not learned. Defaults to ``pending_ttl_seconds``."""

    label_wait_seconds: float = Field(30.0, ge=0)
    """A label whose features are not stored yet (still in the scorer's
    backlog, say) waits at least this long for them, and until the scored
    stream has passed the label's time by the allowed lateness (in event
    time: a replay's labels wait for its scoring), before it counts as
    unknown."""

    label_wait_max: int = Field(100_000, ge=1)
    """Labels waiting for their features at most; past it the one that has
    waited longest is given up (outcome ``overflow``)."""

    snapshot_interval_seconds: float = Field(0.1, gt=0, le=60)
    """The learner writes a new model version at most this often (when it
    learned something): how soon the other processes serve what it learned
    (its own process serves it at once)."""

    model_refresh_interval_seconds: float = Field(5.0, gt=0, le=60)
    """Every process loads each new model version as soon as the learner
    announces it (Redis pub/sub); it also checks the newest version this
    often, for announcements a lost connection missed."""

    model_keep_every: int = Field(600, ge=1)
    """Besides the newest snapshots, the model of every version divisible by
    this (at the default snapshot interval, one a minute under load) and of
    every operator's version is kept, for rollbacks and pins."""

    models_kept: int = Field(100, ge=1)
    """At most this many of those models; the oldest go first."""

    admin_token: SecretStr | None = None
    """Bearer token of the mutating HTTP calls: ``POST /model/...`` (refused
    while unset), ``POST /predict?learnable=true`` and ``POST /learn`` (open
    while neither this nor ``EDDY_CLIENT_TOKEN`` is set). (``eddy model``
    talks to Redis directly.)"""

    client_token: SecretStr | None = None
    """Bearer token a client may give instead of the admin token for the
    calls that learn (``POST /predict?learnable=true``, ``POST /learn``),
    never for ``POST /model/...``. With either token set, those calls need
    one of them."""

    admin_token_file: Path | None = None
    """A file holding the admin token instead (a Docker or Kubernetes secret)."""

    client_token_file: Path | None = None
    """A file holding the client token instead."""

    snapshot_key: SecretStr | None = None
    """Key that signs every snapshot written to Redis (HMAC-SHA256; at least
    32 bytes, e.g. ``openssl rand -hex 32``); a snapshot not signed by it
    or by ``EDDY_SNAPSHOT_PREVIOUS_KEY`` is refused before it is read. Every
    process of a deployment needs it. Without one, processes refuse to
    start unless ``EDDY_ALLOW_UNSIGNED_SNAPSHOTS`` is set."""

    snapshot_key_file: Path | None = None
    """A file holding the snapshot key instead (surrounding whitespace
    ignored): a Docker or Kubernetes secret."""

    snapshot_previous_key: SecretStr | None = None
    """The key before the current one, while rotating: snapshots it signed
    are still read; new ones are signed with ``EDDY_SNAPSHOT_KEY``."""

    snapshot_previous_key_file: Path | None = None
    """A file holding the previous key instead."""

    allow_unsigned_snapshots: bool = False
    """Read snapshots that carry no signature (and, without a key, write
    them unsigned): for local use, or while signing the first versions of
    a deployment that had no key. Logged as a warning at start."""

    snapshot_history: int = Field(10, ge=1)
    """Model snapshots kept in Redis (the newest ones); the version log keeps
    the metadata of many more."""

    max_payload_bytes: int = Field(65_536, ge=256)
    """Larger messages are dead-lettered unread."""

    max_event_features: int = Field(512, ge=1)
    """Events with more features are dead-lettered (``too_many_features``)."""

    explain: Literal["off", "top", "all"] = "off"
    """Each prediction's explanation: ``off``; ``top``, the
    ``EDDY_EXPLAIN_TOP`` largest feature contributions (linear models) or the
    decision path (trees); ``all``, every contribution (their sum plus the
    intercept is the model's raw score)."""

    explain_top: int = Field(5, ge=1)
    """How many contributions ``EDDY_EXPLAIN=top`` keeps."""

    max_features: int = Field(10_000, ge=1)
    """Feature names and (name, category) pairs the model learns, in all:
    each one grows the model, its snapshots and every process's memory for
    good. Past it, new ones are left out of what is learned, and counted."""

    processing_retries: int = Field(3, ge=0, le=20)
    """A batch whose handling raises an unexpected error (a bug, not bad
    input nor an unreachable Kafka or Redis, which are waited out) is tried
    again this many times, with backoff; then each of its records is
    dead-lettered (``processing_error``) and the partition goes on."""

    stop_timeout_seconds: float = Field(5.0, gt=0, le=60)
    """At a stop (SIGTERM, SIGINT) or a revocation: how long the worker waits
    for batches in flight and the learner's last snapshot before it commits
    what is safe and goes on. What is not done by then is read again."""

    quality_window: int = Field(1000, ge=10)
    """Labels in the rolling window of the live quality metrics."""

    drift_detector: DetectorName = "adwin"
    """River detector on the error stream (0/1 errors for classifiers,
    absolute errors for regressors; the DDM family takes classifiers only)."""

    drift_action: DriftAction = "alert"
    """What an error-stream drift does besides its drift event: ``alert``,
    nothing more; ``reset``, a fresh model of the same pipeline takes over,
    warmed on the labels since the change (ADWIN's window; the newest 100
    for other detectors), as a new version with its reason; ``challenge``,
    such a fresh model starts as the challenger ``<model>@drift`` and takes
    over only when it earns promotion as any challenger does (a later drift
    replaces it with a fresher copy while it is on trial)."""

    drift_warm_labels: int = Field(1000, ge=1)
    """Most labels a reset model is warmed on (kept in the learner's memory)."""

    allowed_lateness_seconds: float = Field(10.0, ge=0)
    """How far behind the newest event scored (in event time: each event's
    ``occurred_at``, or its Kafka timestamp) an event may come and still
    count in its drift window: a window is judged once events this much
    past its end have been scored (or, while none come, this much wall
    time after its end)."""

    drift_window_seconds: float = Field(60.0, gt=0)
    """Length of the feature and prediction drift windows, in event time
    (windows from the epoch on: each event counts in the window of its
    ``occurred_at``, or its Kafka timestamp)."""

    drift_min_events: int = Field(500, ge=1)
    """Windows with fewer values of a feature are not judged."""

    drift_numeric_statistic: Literal["psi", "ks"] = "psi"
    """Numeric features and predictions: population stability index, or a
    two-sample Kolmogorov-Smirnov test."""

    drift_categorical_statistic: Literal["js", "chi2"] = "js"
    """Categorical features and classes: Jensen-Shannon distance, or a
    chi-squared test."""

    drift_psi_threshold: float = Field(0.2, gt=0)
    """PSI above this is a drift (0.1: moderate, 0.25: significant)."""

    drift_ks_pvalue: float = Field(0.001, gt=0, lt=1)
    """A Kolmogorov-Smirnov p-value below this is a drift."""

    drift_chi2_pvalue: float = Field(0.001, gt=0, lt=1)
    """A chi-squared p-value below this is a drift."""

    drift_js_threshold: float = Field(0.1, gt=0, le=1)
    """A Jensen-Shannon distance above this is a drift."""

    drift_max_features: int = Field(100, ge=1)
    """Features watched for drift (the first ones seen); Redis memory is
    bounded by this times ``drift_max_buckets`` per window."""

    drift_max_buckets: int = Field(400, ge=10)
    """Buckets per feature and window (numbers fall in 5%-wide logarithmic
    buckets, categories in one each); more are counted as ``other``."""

    web_host: str = "127.0.0.1"
    """Address of the HTTP server (status page)."""

    web_port: int = Field(6066, ge=1, le=65_535)
    """Port of the HTTP server."""

    data_dir: str = ".eddy"
    """Directory for the Faust worker's local files."""

    @field_validator(
        "admin_token",
        "client_token",
        "snapshot_key",
        "snapshot_previous_key",
        "kafka_sasl_password",
        "kafka_sasl_username",
        "kafka_ssl_key_password",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        *SECRET_FILES.values(),
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """``EDDY_ADMIN_TOKEN=`` unsets it (an empty bearer token cannot be sent)."""
        return None if value == "" else value

    @model_validator(mode="after")
    def _secret_files_read(self) -> Self:
        """Each ``*_FILE`` secret read into its setting (surrounding
        whitespace ignored); a secret given both ways is refused."""
        for name, file_name in SECRET_FILES.items():
            path = getattr(self, file_name)
            if path is None:
                continue
            env = f"EDDY_{name.upper()}"
            if getattr(self, name) is not None:
                raise ValueError(f"{env} and {env}_FILE are both set: choose one")
            try:
                value = path.read_text().strip()
            except OSError as exc:
                raise ValueError(f"{env}_FILE: cannot read {path}: {exc.strerror}") from None
            object.__setattr__(self, name, SecretStr(value) if value else None)
        return self

    @model_validator(mode="after")
    def _kafka_security_fits(self) -> Self:
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL_") and (
            self.kafka_sasl_username is None or self.kafka_sasl_password is None
        ):
            raise ValueError(
                f"EDDY_KAFKA_SECURITY_PROTOCOL={protocol} needs EDDY_KAFKA_SASL_USERNAME "
                "and EDDY_KAFKA_SASL_PASSWORD (or _FILE)"
            )
        tls = [f for f in ("cafile", "certfile", "keyfile") if getattr(self, f"kafka_ssl_{f}")]
        if tls and not protocol.endswith("SSL"):
            names = ", ".join(f"EDDY_KAFKA_SSL_{f.upper()}" for f in tls)
            raise ValueError(f"{names} set, but EDDY_KAFKA_SECURITY_PROTOCOL={protocol} has no TLS")
        return self

    @model_validator(mode="after")
    def _delays_fit(self) -> Self:
        if (
            self.label_max_delay_seconds is not None
            and self.label_max_delay_seconds > self.pending_ttl_seconds
        ):
            raise ValueError(
                "label_max_delay_seconds must not exceed pending_ttl_seconds: "
                "features would be gone before the label is due"
            )
        return self

    @property
    def redis_url_shown(self) -> str:
        """``redis_url`` with its password masked, for logs and messages.

        >>> Settings(redis_url="rediss://eddy:s3cret@redis:6380/0").redis_url_shown
        'rediss://eddy:***@redis:6380/0'
        """
        return masked(self.redis_url)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Secrets print as SecretStr does; the URL's password masked.
        for name, value in super().__repr_args__():
            yield name, (self.redis_url_shown if name == "redis_url" else value)

    @property
    def challenger_names(self) -> list[ModelName]:
        return [cast(ModelName, n.strip()) for n in self.challengers.split(",") if n.strip()]

    @model_validator(mode="after")
    def _challengers_fit(self) -> Self:
        names = [n.strip() for n in self.challengers.split(",") if n.strip()]
        known = get_args(ModelName)
        for name in names:
            if name not in known:
                raise ValueError(f"challenger {name!r} is not a model: {', '.join(known)}")
            if (name in REGRESSORS) != (self.model in REGRESSORS):
                raise ValueError(f"challenger {name} is not of the same kind as {self.model}")
        if self.model in names or len(set(names)) != len(names):
            raise ValueError("each challenger must be named once, and not be EDDY_MODEL")
        return self

    @model_validator(mode="after")
    def _detector_fits(self) -> Self:
        if self.model in REGRESSORS and self.drift_detector in BINARY_DETECTORS:
            raise ValueError(
                f"drift_detector {self.drift_detector} takes 0/1 errors: "
                f"it cannot watch the regressor {self.model}"
            )
        return self

    @property
    def drift_thresholds(self) -> dict[str, float]:
        return {
            "psi": self.drift_psi_threshold,
            "ks": self.drift_ks_pvalue,
            "chi2": self.drift_chi2_pvalue,
            "js": self.drift_js_threshold,
        }

    @property
    def label_max_delay(self) -> int:
        return self.label_max_delay_seconds or self.pending_ttl_seconds

    @property
    def group_id(self) -> str:
        """The Kafka consumer group (and Faust app id) of this process's role."""
        return f"{self.app_id}-learner" if self.role == "learner" else self.app_id

    @property
    def scores(self) -> bool:
        return self.role != "learner"

    @property
    def learns(self) -> bool:
        return self.role != "scorer"

    @property
    def topic_training(self) -> str:
        """Internal one-partition topic: its owner is the model's only learner."""
        return f"{self.app_id}-training"


def markdown_table() -> str:
    """The README's settings table: ``python -m app.settings``."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = "" if field.default in (None, "") else f"`{field.default}`"
        meaning = " ".join((field.description or "").split()).replace("``", "`")
        rows.append(f"| `EDDY_{name.upper()}` | {default} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
