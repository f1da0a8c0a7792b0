"""The ``lysep`` command line: the entry point (:mod:`lysep.commands.main`) and one module per group of
subcommands. The only layer that prints errors and chooses exit codes (2 bad input, 130 interrupted, 1 failure).
"""
