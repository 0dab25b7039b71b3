"""The benchmark suite: a load generator that speaks PROTOCOL.md, and its scenarios.

`python -m bench --help` lists the scenarios; docs/benchmarks.md explains them.
"""
