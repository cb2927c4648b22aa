"""Cost accounting: a callback handler that prices every LLM call once, summaries and exports.

>>> from langchain_costrouter.costs import track_costs
>>> with track_costs() as cb:  # doctest: +SKIP
...     chain.invoke({"q": "hi"})
>>> cb.summary().total_cost  # doctest: +SKIP
"""

from langchain_costrouter.costs.export import (
    JsonLinesSink,
    from_csv,
    from_json,
    read_json_lines,
    to_csv,
    to_dataframe,
    to_json,
)
from langchain_costrouter.costs.handler import CostTrackingCallbackHandler
from langchain_costrouter.costs.record import CallRecord, RecordSink
from langchain_costrouter.costs.stats import LatencyHistogram
from langchain_costrouter.costs.summary import CostSummary, UsageSummary
from langchain_costrouter.costs.track import active_tracker, track_costs

__all__ = [
    "CallRecord",
    "CostSummary",
    "CostTrackingCallbackHandler",
    "JsonLinesSink",
    "LatencyHistogram",
    "RecordSink",
    "UsageSummary",
    "active_tracker",
    "from_csv",
    "from_json",
    "read_json_lines",
    "to_csv",
    "to_dataframe",
    "to_json",
    "track_costs",
]
