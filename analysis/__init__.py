"""Analysis of LySep benchmark results: per-run metrics, statistics, claims, figures and the report.

Works on the results store's tables only (no torch). Entry point: ``analysis.report.make_report(dir)``.
"""

__all__ = ["analyse", "claims", "comparisons", "figures", "metrics", "render", "report", "sections", "stats"]
