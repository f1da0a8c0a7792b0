"""asv benchmarks of lysep: solver speed and memory (``speed``) and training quality (``quality``).

Run from the repository root with ``asv run --python=same --quick``; see docs/benchmarks.md.
"""
