"""What the tests and the benchmarks stand on: `harness` (real servers on free ports, stopped by
PID: no mock stands in for Kafka, Redis or S3), `browser` (headless Chromium over the dashboard),
`doubles` (in-memory stand-ins for the loops' collaborators: a clock, a publisher, an HTTP API)
and `seed` (the dashboard's data, written by the real writers from real history)."""
