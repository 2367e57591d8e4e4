"""onnxgate benchmarks: run them all with ``python bench/run.py`` (see README.md)."""
