"""The benchmarks (`make bench`, `bench-serve`, `bench-monitor`), and their tests in benchmarks/tests/."""
