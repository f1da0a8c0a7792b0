"""The experiment harness: the spec and its search spaces, the plan, one cell's work, the runner and its
executors, the results store, provenance, progress, memory estimates and the tuning protocol.

It knows methods only through their protocol (:mod:`lysep.methods.base`) and raises typed exceptions
(:mod:`lysep.harness.errors`); only :mod:`lysep.commands` turns them into messages and exit codes.
"""
