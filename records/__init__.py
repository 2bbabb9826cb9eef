"""The records every room exchanges: pydantic models defined once, importing nothing of ours.

Every room may import `warpsmith.records`; `records` imports no other room. A record that
crosses a room boundary (a candidate, an evaluation and its parts, a job for the pool, a run,
an LLM call, a verdict, a lesson, a vocabulary) lives here and nowhere else.
"""
