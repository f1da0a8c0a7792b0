"""An asv environment plugin: the running interpreter under a fixed name, ``lysep-py<X.Y>``.

asv names results recorded with ``--python=same`` after the interpreter's path (``existing-py_root_...``),
so history recorded from a pyenv Python and from a virtualenv on the same machine never compares.
``asv run -E lysep:same`` runs exactly like ``--python=same`` (the installed package, nothing built)
but files the results under ``lysep-py<X.Y>`` (asv.conf.json loads this module as a plugin: ".lysep.measure.asv_env").
"""

from __future__ import annotations

import sys

from asv import util
from asv.environment import ExistingEnvironment

VERSION = "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"


class LysepEnvironment(ExistingEnvironment):
    """The current interpreter (``lysep:same``) or a given one (``lysep:/path/to/python``), named by its
    Python version only."""

    tool_name = "lysep"

    def __init__(self, conf, executable, requirements, tagged_env_vars):  # noqa: ANN001 - asv's signature
        path = sys.executable if executable == "same" else executable
        try:
            self._version = util.check_output([util.which(path), "-c", VERSION]).strip()
        except (util.ProcessError, OSError):
            self._version = "unknown"
        super().__init__(conf, executable, requirements, tagged_env_vars)
        self._python = self._version  # the results' "python" parameter: the version, not the path

    @property
    def name(self) -> str:
        return f"lysep-py{self._version}"
