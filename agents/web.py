"""The HTTP API of every process: /ready, /status, /model, /model/versions,
POST /model/<action>, POST /predict, /explain, /learn, /openapi.json,
/metrics, /drift."""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp.web import HTTPRequestEntityTooLarge
from faust.web import View

from agents.model import watch
from app import admin, api, metrics, openapi
from app.control import Command
from app.errors import CommandRefused
from app.explain import describe
from app.runtime.internals import assignment, joined, lag
from app.runtime.publish import publish
from app.runtime.readiness import Facts, reasons
from app.streams import app, persist, runtime, settings, topics
from schemas import DeadLetterReason, ModelAction

MAX_BODY = 1024**2
"""aiohttp's limit on a request body (its default, which Faust keeps)."""
T = TypeVar("T")
D = TypeVar("D")
LEARN_WAIT_SECONDS = 5.0
LEARN_POLL_SECONDS = 0.02


@app.page("/ready")
async def ready(web: Any, request: Any) -> Any:
    """200 when this process is ready, else 503 with the reasons."""
    why = reasons(
        Facts(
            model_loaded=runtime.loaded,
            joined=joined(app),
            stopping=bool(app.should_stop),
            learner=watch.learner,
            unreachable=watch.unreachable,
        )
    )
    body = {"ready": not why, "reasons": why, "learner": watch.learner}
    return web.json(body, status=503 if why else 200)


@app.page("/status")
async def status(web: Any, request: Any) -> Any:
    """What this process serves, which partitions it owns, and what its
    learner knows (when it is the learner)."""
    served = await runtime.served()
    learner = (await runtime.training()).learner if runtime.learning else None
    partitions: defaultdict[str, list[int]] = defaultdict(list)
    for tp in assignment(app):
        partitions[tp.topic].append(tp.partition)
    return web.json(
        {
            "role": settings.role,
            "model": served.model.name,
            "serving_version": served.version,
            "partitions": {t: sorted(p) for t, p in sorted(partitions.items())},
            "learner": None
            if learner is None
            else {
                "version": learner.version,
                **learner.state.meta(),
                "quality_rolling": learner.state.quality.report("rolling"),
            },
        }
    )


@app.page("/model")
async def model(web: Any, request: Any) -> Any:
    """A plain description of the model this process serves."""
    served = await runtime.served()
    return web.json(
        {
            "version": served.version,
            "learned": served.learned,
            "live": served.live,
            **describe(served.model),
        }
    )


@app.page("/model/versions")
async def model_versions(web: Any, request: Any) -> Any:
    """The newest versions and every kept one (``?last=N``, 20 by default)."""
    last = int(request.query.get("last", 20))
    return web.json({"versions": await admin.versions(runtime.store, settings, last)})


@app.page("/model/{action}")
class ModelControl(View):  # type: ignore[misc]  # Faust's View is untyped
    """``POST /model/rollback|pin|unpin|freeze|unfreeze|promote``
    (``{"version": N}`` for rollback and pin, ``{"challenger": NAME}`` for
    promote), behind ``Authorization: Bearer EDDY_ADMIN_TOKEN``:
    200 with the model event once the learner carried it out, 409 if it
    refused it, 202 if no learner took it within 5 s (it is queued)."""

    async def post(self, request: Any, action: str) -> Any:
        if settings.admin_token is None:
            return self.json({"error": "EDDY_ADMIN_TOKEN is not set: no changes"}, status=403)
        if not authorized(request):
            return self.json({"error": "a valid admin token is required"}, status=401)
        try:
            body = await request.json() if request.can_read_body else {}
            body = body or {}
            command = Command.new(ModelAction(action), body.get("version"), body.get("challenger"))
        except (ValueError, CommandRefused) as exc:
            return self.json({"error": str(exc)}, status=400)
        result = await admin.request(runtime.store, settings, command)
        status = {True: 200, False: 409, None: 202}[result["done"]]
        return self.json(result, status=status)


def authorized(request: Any, *, client: bool = False) -> bool:
    """Whether the request carries the admin token (``EDDY_ADMIN_TOKEN``),
    or, with ``client``, the client token (``EDDY_CLIENT_TOKEN``)."""
    given = request.headers.get("Authorization", "").encode()
    tokens = [settings.admin_token, settings.client_token if client else None]
    return any(
        hmac.compare_digest(given, f"Bearer {t.get_secret_value()}".encode())
        for t in tokens
        if t is not None
    )


def learning_refused(request: Any) -> bool:
    """Whether a call that learns is refused: a token is set and none given."""
    guarded = settings.admin_token is not None or settings.client_token is not None
    return guarded and not authorized(request, client=True)


TOO_LARGE = api.refusal(
    413, DeadLetterReason.OVERSIZE_PAYLOAD, f"a request body is at most {MAX_BODY:,} bytes"
)


def query_number(
    request: Any, name: str, convert: Callable[[str], T], fits: Callable[[T], bool], default: D
) -> T | D:
    """The query's ``name``, converted; ``default`` when it is absent;
    ``ValueError`` when it does not convert or does not fit."""
    raw = request.query.get(name)
    if raw is None:
        return default
    value = convert(raw)
    if not fits(value):
        raise ValueError(raw)
    return value


async def body(request: Any) -> bytes | None:
    """The request's body, or None past the web server's limit (aiohttp's,
    which would otherwise answer in plain text)."""
    try:
        raw: bytes = await request.read()
    except HTTPRequestEntityTooLarge:
        return None
    return raw


@app.page("/predict")
class Predict(View):  # type: ignore[misc]  # Faust's View is untyped
    """``POST /predict``: one feature event, or a JSON array of them, scored
    as the stream scores them (see ``app.api``). ``?learnable=true`` keeps
    their predict-time features for their labels (with the admin token,
    when one is set)."""

    async def post(self, request: Any) -> Any:
        learnable = request.query.get("learnable", "false").lower() in ("1", "true", "yes")
        if learnable and learning_refused(request):
            return self.json({"error": "a valid admin or client token is required"}, status=401)
        raw = await body(request)
        if raw is None:
            return self.json(TOO_LARGE.body, status=TOO_LARGE.status)
        served = await runtime.served()
        answer = api.predict(raw, served, settings, datetime.now(UTC), learnable=learnable)
        if answer.pending:
            await persist(runtime.store.put_pending, answer.pending, settings.pending_ttl_seconds)
        return self.json(answer.body, status=answer.status)


@app.page("/learn")
class Learn(View):  # type: ignore[misc]  # Faust's View is untyped
    """``POST /learn``: one label, or a JSON array of them, sent to the
    learner as the labels topic's are; the answer waits (up to
    ``?wait=SECONDS``, 5 by default) for each one's outcome. With the
    admin token, when one is set."""

    async def post(self, request: Any) -> Any:
        if learning_refused(request):
            return self.json({"error": "a valid admin or client token is required"}, status=401)
        try:
            wait = query_number(request, "wait", float, lambda w: 0 <= w <= 60, LEARN_WAIT_SECONDS)
        except ValueError:
            bad = api.refusal(400, DeadLetterReason.SCHEMA_VIOLATION, "wait: seconds from 0 to 60")
            return self.json(bad.body, status=bad.status)
        raw = await body(request)
        if raw is None:
            return self.json(TOO_LARGE.body, status=TOO_LARGE.status)
        served = await runtime.served()
        ask = uuid.uuid4().hex
        refused, training = api.learn(raw, served.model, settings, datetime.now(UTC), ask)
        if not training:
            return self.json(refused.body, status=refused.status)
        await publish(topics.training, [(t.event_id, t) for t in training])
        deadline = time.monotonic() + wait
        while True:
            answer = api.outcomes(training, await persist(runtime.store.replies, ask))
            if answer.status == 200 or time.monotonic() >= deadline:
                return self.json(answer.body, status=answer.status)
            await asyncio.sleep(LEARN_POLL_SECONDS)


@app.page("/explain")
class Explain(View):  # type: ignore[misc]  # Faust's View is untyped
    """``POST /explain``: as ``/predict``, each prediction with its
    explanation (``?top=K`` contributions, all by default)."""

    async def post(self, request: Any) -> Any:
        try:
            top = query_number(request, "top", int, lambda k: k >= 1, None)
        except ValueError:
            bad = api.refusal(400, DeadLetterReason.SCHEMA_VIOLATION, "top: a count of 1 or more")
            return self.json(bad.body, status=bad.status)
        raw = await body(request)
        if raw is None:
            return self.json(TOO_LARGE.body, status=TOO_LARGE.status)
        served = await runtime.served()
        answer = api.explain(raw, served, settings, datetime.now(UTC), top)
        return self.json(answer.body, status=answer.status)


@app.page("/openapi.json")
async def openapi_document(web: Any, request: Any) -> Any:
    """This API described (OpenAPI 3.1)."""
    return web.json(openapi.document())


@app.page("/metrics")
async def prometheus(web: Any, request: Any) -> Any:
    """Prometheus metrics of this process."""
    for (topic, partition), behind in lag(app).items():
        metrics.consumer_lag.labels(topic, str(partition)).set(behind)
    return web.bytes(metrics.exposition(), content_type="text/plain; version=0.0.4")


@app.page("/drift")
async def drift(web: Any, request: Any) -> Any:
    """The latest window statistics per feature, and the newest drift events."""
    statistics, events = await runtime.store.drift_status()
    return web.json({"statistics": statistics, "events": events})
