"""The public names of the batch package are pinned."""

import langchain_costrouter.batch as batch


def test_batch_public_names() -> None:
    assert sorted(batch.__all__) == sorted([
        "PROVIDER_LIMITS", "BatchJob", "BatchLimits", "FlexPolicy", "JobStatus", "JobStore",
        "alane_batch", "asubmit_batch", "flex_invoke", "flex_stream", "is_flex_refusal",
        "lane_batch", "lane_of", "submit_batch",
    ])
    for name in batch.__all__:
        assert getattr(batch, name) is not None
