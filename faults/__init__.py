"""The fault suite: ``scripts/faults.sh`` (or ``python -m faults``).

Each scenario runs real worker processes (``tests.harness.Worker``) against
a real Kafka broker and a real Redis, on its own topics, consumer group and
Redis prefix, hurts them one way, prints what was sent and what came out,
and checks the counts. Scenarios that kill, freeze or restart the broker or
Redis start a brand-new stack of their own (``faults.stack``); the others
use the shared stack, with unique names, and delete what they made.

====================  ========================================================
``new-broker``        a worker started on brand-new brokers, before any topic
``sigterm``           SIGTERM mid-stream, then a new worker
``sigkill``           SIGKILLs at seeded random moments, a restart after each
``hand-over``         the learner holding waiting labels killed, then stopped
``redis-frozen``      Redis frozen (SIGSTOP) mid-stream, then thawed
``redis-restarted``   Redis killed mid-stream and started again empty
``broker-killed``     the broker SIGKILLed mid-stream, started again
``fuzz``              fuzzed payloads and bad labels mixed with good events
``vocabulary``        a stream of feature names never seen before
``bad-snapshot``      a snapshot that is not a learner's state, as the newest
====================  ========================================================

At the end it prints a Markdown table (scenario, what was done, what came
out, verdict) to paste into the README, and exits non-zero if any check
failed. Randomness is seeded (``--seed``); names are unique per run.
"""
