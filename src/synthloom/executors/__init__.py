"""Executors run a planned stage's rows: locally on one asyncio engine, or (later) sharded."""
