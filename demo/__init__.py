"""Demo data: the demo organisation and generated request histories (`casegraph seed-demo`, benchmarks)."""
