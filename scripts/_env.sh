# Sourced by the other scripts (not run on its own): which Python environment lysep lives in.
#
#   1. an active virtualenv ($VIRTUAL_ENV) or conda environment ($CONDA_PREFIX): used as it is;
#   2. otherwise the project's own .venv (made by scripts/setup.sh), activated, so that `python`,
#      `lysep` and `asv` in this shell and its children resolve to it.
#
# lysep_select_env: selects it (puts its bin/ first on PATH) and sets LYSEP_ENV to a description;
# returns 1 when there is none yet (no active environment and no .venv), 2 when the active one is
# broken (message on stderr). Distribution Pythons (Debian 12+, Ubuntu 23.04+) refuse
# `pip install` outside an environment (PEP 668), which is why there always is one.

LYSEP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LYSEP_VENV="$LYSEP_ROOT/.venv"

lysep_select_env() {
  local prefix kind
  if [[ -n "${VIRTUAL_ENV:-}" ]]; then
    prefix="$VIRTUAL_ENV" kind="active virtualenv"
  elif [[ -n "${CONDA_PREFIX:-}" ]]; then
    prefix="$CONDA_PREFIX" kind="active conda environment"
  elif [[ -f "$LYSEP_VENV/bin/activate" ]]; then
    # shellcheck disable=SC1091
    source "$LYSEP_VENV/bin/activate"
    LYSEP_ENV="project environment $LYSEP_VENV"
    return 0
  else
    return 1
  fi
  if [[ ! -x "$prefix/bin/python" ]]; then
    echo "error: the $kind $prefix has no bin/python; activate a working environment, or deactivate it" \
      "to use the project's .venv (bash scripts/setup.sh makes it)" >&2
    return 2
  fi
  export PATH="$prefix/bin:$PATH"  # already first when activated; makes sure python, lysep, asv are its own
  LYSEP_ENV="$kind $prefix"
  return 0
}

# lysep_env_or_system: for the scripts also run on a lent device machine, whose bare image has torch
# installed system-wide and no .venv: the selected environment, else python3 from PATH (with a note).
# Sets LYSEP_PYTHON to the interpreter to call; returns 2 when the active environment is broken.
lysep_env_or_system() {
  local rc=0
  lysep_select_env || rc=$?
  if [[ $rc == 0 ]]; then
    LYSEP_PYTHON=python
  elif [[ $rc == 1 ]]; then
    LYSEP_PYTHON=python3
    echo "note: no project environment (bash scripts/setup.sh makes one); using $(command -v python3)" >&2
  else
    return 2
  fi
}
