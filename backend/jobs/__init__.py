"""Durable background work: a job is a row, claimed by a worker, retried with backoff.

A job is written in the same transaction as the change that causes it, so a crash
can lose neither. Handlers must be safe to run twice: a worker may die after the
work but before marking it done, and the job is then run again.

Domain code needs only what is exported here (`jobs.enqueue`, `jobs.RetryLater`,
`jobs.GiveUp`); the table is in `backend.jobs.models`, the worker in `backend.jobs.worker`.
"""

from backend.jobs.queue import GiveUp, RetryLater, enqueue

__all__ = ["GiveUp", "RetryLater", "enqueue"]
