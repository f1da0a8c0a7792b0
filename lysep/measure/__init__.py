"""Measurement of the code itself: counted work, in-process timing ratios, captured graphs, ``lysep bench``,
``lysep track``/``compare`` (regressions between commits) and the asv environment plugin.
"""
