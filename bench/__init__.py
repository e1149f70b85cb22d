"""Benchmarks of the customer sync on the local stack: wall time against an ideal, Zuora calls, DynamoDB
writes, state transitions, memory, a naive per-subscription loop, import times and an AWS cost estimate.
Run with `make bench`; results in docs/benchmarks.md and docs/benchmarks.json."""
