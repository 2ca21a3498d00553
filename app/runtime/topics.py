"""Every topic the worker reads or writes exists, with its partitions,
before the worker joins its group.

Created here with Kafka's admin client, not by Faust on the way to the first
subscription: the broker may take a moment to elect the leaders of a new
topic, and a consumer that joins before it sees them is assigned nothing of
it (``app.runtime.internals`` then waits for the leaders in that consumer's
own metadata). Existing topics are left as they are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from tenacity import AsyncRetrying, before_sleep_log, retry_if_exception_type, wait_exponential

from app.errors import TopicError
from app.kafka_auth import client_options
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic of the worker, with the partitions it creates it with."""
    n = settings.topic_partitions
    return [
        TopicSpec(settings.topic_features, n),
        TopicSpec(settings.topic_labels, n),
        TopicSpec(settings.topic_predictions, n),
        # One partition: whichever process owns it is the model's only learner.
        TopicSpec(settings.topic_training, 1),
        TopicSpec(settings.topic_dead_letter, 1),
        TopicSpec(settings.topic_drift, 1),
        TopicSpec(settings.topic_model_events, 1),
    ]


async def provision(settings: Settings) -> None:
    """Create the worker's missing topics; wait for the broker while it is away."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type((KafkaError, OSError)),
        wait=wait_exponential(multiplier=0.2, max=5),
        before_sleep=before_sleep_log(log, logging.WARNING),
    ):
        with attempt:
            await _create_missing(settings)


async def _create_missing(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings), client_id=f"{settings.app_id}-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in topic_specs(settings) if s.name not in existing]
        if not missing:
            return
        response = await admin.create_topics(
            [NewTopic(s.name, s.partitions, settings.topic_replication_factor) for s in missing]
        )
    finally:
        await admin.close()
    refused = []
    for topic, code, *rest in response.topic_errors:
        error = for_code(code)
        if code and error is not TopicAlreadyExistsError:  # another process was first
            refused.append(f"{topic}: {error.__name__} {rest[0] if rest else ''}".strip())
    if refused:
        raise TopicError("the broker refused to create " + "; ".join(refused))
    log.info("created topics %s", ", ".join(f"{s.name} ({s.partitions})" for s in missing))
