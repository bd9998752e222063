"""The announce stage: what each scan changed → item records and events → outbox rows.

It only consumes what the engine reports (``engine.pipeline.Step``); see docs/architecture.md.
"""
