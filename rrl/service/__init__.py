"""The repair service: ``rrl serve`` (FastAPI) over the plan database, with its web page."""

#: The answer time (ms) the service aims at when events queue (``rrl serve --latency-ms``).
LATENCY_MS = 150.0

#: The least search (ms) a queued event gets (``rrl serve --min-budget-ms``). Half a
#: millisecond: under a burst of 50 rush orders, 1 ms repaired as much (the search's
#: first expansion, of the event's own task, is made however small a budget) and cost
#: the repair worker 0.4-0.7 ms more per event (docs/benchmarks.md).
MIN_BUDGET_MS = 0.5
