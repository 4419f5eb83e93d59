"""Benchmarks that print figures (never timed tests). Run them with `mailferry bench NAME`;
each module here is one benchmark with `add_arguments(parser)` and `run(config, args)`."""

BENCHMARKS = {
    "sandbox": "bench.sandbox_calls",
    "sync": "bench.sync",
    "history": "bench.history",
}
