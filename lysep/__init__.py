"""lysep: layer-separation training of cross-entropy classifiers, with baselines and a benchmarking harness."""

__version__ = "0.1.0"
