"""A realistic mixed workload of real prompts, for demos, benchmarks and TCO estimates.

``data/workload.jsonl`` holds 300 hand-written prompts in four categories: short-text
classification (trivial), general Q&A (standard), code generation (complex) and multi-step
reasoning (expert). :func:`mixed_workload` samples them in the default 40/30/20/10 mix,
deterministically per seed, and can pad each prompt with real reference documents
(``data/contexts.jsonl``) up to a target context size counted with tiktoken.
"""

from langchain_costrouter.workload.generator import (
    CATEGORY_LEVEL,
    DEFAULT_CATEGORY_MIX,
    WorkloadItem,
    load_contexts,
    load_workload,
    mixed_workload,
    pad_prompt,
)

__all__ = [
    "CATEGORY_LEVEL",
    "DEFAULT_CATEGORY_MIX",
    "WorkloadItem",
    "load_contexts",
    "load_workload",
    "mixed_workload",
    "pad_prompt",
]
