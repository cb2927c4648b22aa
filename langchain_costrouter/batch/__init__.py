"""Cheaper lanes for work that can wait: provider Batch APIs and flex tiers behind the router.

``submit_batch(router, inputs, store="jobs.db")`` routes each input, groups the items per
provider and model, splits them at the provider's limits, and submits them (OpenAI files +
``/v1/batches``; Anthropic ``/v1/messages/batches``). The job lives in a SQLite
:class:`JobStore`, so ``BatchJob.resume(id, store=...)`` collects it from a new process without
submitting or billing anything twice. ``flex_invoke`` calls a model on the flex tier.
"""

from langchain_costrouter.batch.flex import FlexPolicy, flex_invoke, flex_stream, is_flex_refusal
from langchain_costrouter.batch.job import BatchJob, JobStatus, asubmit_batch, submit_batch
from langchain_costrouter.batch.limits import PROVIDER_LIMITS, BatchLimits
from langchain_costrouter.batch.runnable import alane_batch, lane_batch, lane_of
from langchain_costrouter.batch.store import JobStore

__all__ = [
    "PROVIDER_LIMITS",
    "BatchJob",
    "BatchLimits",
    "FlexPolicy",
    "JobStatus",
    "JobStore",
    "alane_batch",
    "asubmit_batch",
    "flex_invoke",
    "flex_stream",
    "is_flex_refusal",
    "lane_batch",
    "lane_of",
    "submit_batch",
]
