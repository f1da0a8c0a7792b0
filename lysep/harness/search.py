"""Search spaces of hyperparameters and the quasi-random trials drawn from them (``lysep tune``, docs/tuning.md).

A method declares its default space next to its hyperparameters (``Method.SEARCH``); a spec may declare
its own per ``[[method]]`` (``[method.tune]``). A space maps each tuned hyperparameter to a
:class:`Range` (``log`` or ``linear`` scale between ``low`` and ``high``) or a :class:`Choice` (a list of
values; ``Choice()`` means every value the method's schema allows, read when the trials are drawn, so a
choice added to the schema is searched at once). Trials are the points of a scrambled, seeded Sobol
sequence mapped through each hyperparameter's scale: the same seed gives the same trials. Torch-free.
"""

from __future__ import annotations

import math
from typing import Any

from lysep.methods.space import SCALES, Choice, Range, Space

#: significant digits a drawn number keeps (readable labels and specs; far finer than any optimum)
DIGITS = 4
#: a winner in the outer fraction of its range (on the range's scale) lies on the border of the space
BORDER = 0.05


def round_sig(x: float, digits: int = DIGITS) -> float:
    """``x`` to ``digits`` significant digits."""
    return float(f"{x:.{digits}g}") if x != 0 else 0.0


def resolve(space: Space, schema: dict[str, Any]) -> Space:
    """``space`` with every ``Choice()`` replaced by the schema's choices (bools: false and true)."""
    out: Space = {}
    for key, dim in space.items():
        if isinstance(dim, Choice) and dim.values is None:
            hp = schema[key]
            dim = Choice(tuple(hp.choices) if hp.choices is not None else (False, True))
        out[key] = dim
    return out


def _value(dim: Range | Choice, u: float, kind: Any) -> Any:
    """The value of one dimension at position ``u``."""
    if isinstance(dim, Choice):
        values = dim.values or ()
        return values[min(int(u * len(values)), len(values) - 1)]
    x = dim.at(u)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if int in kinds and float not in kinds:
        return int(min(max(round(x), math.ceil(dim.low)), math.floor(dim.high)))
    return min(max(round_sig(x), dim.low), dim.high)


def draw(space: Space, schema: dict[str, Any], trials: int, seed: int) -> list[dict[str, Any]]:
    """``trials`` configurations from a scrambled Sobol sequence seeded with ``seed`` (deterministic)."""
    import warnings

    from scipy.stats import qmc

    space = resolve(space, schema)
    keys = sorted(space)
    if not keys:
        return [{} for _ in range(trials)]
    with warnings.catch_warnings():  # Sobol's balance warning for a count that is not a power of two
        warnings.simplefilter("ignore", UserWarning)
        points = qmc.Sobol(len(keys), scramble=True, seed=seed).random(trials)
    return [{k: _value(space[k], float(u), schema[k].kind) for k, u in zip(keys, row)} for row in points]


def on_border(dim: Range | Choice, value: Any) -> bool:
    """Whether ``value`` lies in the outer ``BORDER`` of a range (never for a choice)."""
    if not isinstance(dim, Range) or not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    p = dim.position(value)
    return p <= BORDER or p >= 1 - BORDER


# ---------------------------------------------------------------------------- validation (spec.py reports)


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _hparam_problem(hp: Any, value: Any) -> str | None:
    """Why ``value`` is not a valid value of hyperparameter ``hp`` (None if it is)."""
    kinds = hp.kind if isinstance(hp.kind, tuple) else (hp.kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        return "a " + " or ".join(k.__name__ for k in kinds)
    if hp.choices is not None and value not in hp.choices:
        return "one of: " + ", ".join(map(repr, hp.choices))
    try:
        ok = hp.check(value)
    except Exception:  # noqa: BLE001 - a check that cannot handle the value rejects it
        ok = False
    return None if ok else (hp.expect or "a value the method accepts")


def _check_range(key: str, table: dict, hp: Any) -> tuple[Range | None, list[tuple[str, Any, str]]]:
    """A ``{low, high, scale}`` table; (range or None, problems as (key, value, expected))."""
    problems = []
    extra = set(table) - {"low", "high", "scale"}
    if extra:
        problems.append((key, table, "a table of low, high and scale (or of choices), not " + ", ".join(sorted(extra))))
    low, high, scale = _number(table.get("low")), _number(table.get("high")), table.get("scale", "log")
    numeric = {int, float} & set(hp.kind if isinstance(hp.kind, tuple) else (hp.kind,))
    if not numeric or hp.choices is not None:
        problems.append((key, table, "{choices = [...]}: this hyperparameter is not a number"))
        return None, problems
    if scale not in SCALES:
        problems.append((f"{key}.scale", scale, "one of: " + ", ".join(SCALES)))
    for name, v in (("low", low), ("high", high)):
        if v is None:
            problems.append((f"{key}.{name}", table.get(name), "a finite number"))
        elif (why := _hparam_problem(hp, table[name])) is not None:
            problems.append((f"{key}.{name}", table[name], f"a value of the hyperparameter: {why}"))
    if low is not None and high is not None:
        if low >= high:
            problems.append((f"{key}.high", table.get("high"), f"a number > low = {table.get('low')!r}"))
        elif scale == "log" and low <= 0:
            problems.append((f"{key}.low", table.get("low"), 'a number > 0 on scale = "log"'))
    return (Range(low, high, scale) if not problems else None), problems


def _check_choice(key: str, table: dict, hp: Any) -> tuple[Choice | None, list[tuple[str, Any, str]]]:
    """A ``{choices = [...]}`` table."""
    values = table.get("choices")
    if set(table) != {"choices"} or not isinstance(values, list) or not values:
        return None, [(key, table, "{choices = [one or more values]}")]
    problems = [(f"{key}.choices[{i}]", v, why) for i, v in enumerate(values)
                if (why := _hparam_problem(hp, v)) is not None]
    if len({repr(v) for v in values}) != len(values):
        problems.append((f"{key}.choices", values, "distinct values"))
    kinds = hp.kind if isinstance(hp.kind, tuple) else (hp.kind,)
    norm = [float(v) if float in kinds and isinstance(v, int) and not isinstance(v, bool) else v for v in values]
    return (Choice(tuple(norm)) if not problems else None), problems


def check_space(table: Any, schema: dict[str, Any]) -> tuple[Space | None, list[tuple[str, Any, str]]]:
    """A spec's ``[method.tune]`` table against the method's schema: (space or None, problems); each problem
    is (key relative to the table, value, what was expected)."""
    if not isinstance(table, dict) or not table:
        return None, [("", table, "a table of tuned hyperparameters, e.g. {lr = {low = 1e-4, high = 0.1, "
                                  'scale = "log"}} or {schedule = {choices = ["fixed", "adaptive"]}}')]
    space: Space = {}
    problems: list[tuple[str, Any, str]] = []
    for key, dim in table.items():
        if key not in schema:
            problems.append((key, dim, "a hyperparameter of the method (one of: " + ", ".join(sorted(schema)) + ")"))
            continue
        if not isinstance(dim, dict):
            problems.append((key, dim, '{low = ..., high = ..., scale = "log" or "linear"} or {choices = [...]}'))
            continue
        checked, found = (_check_choice if "choices" in dim else _check_range)(key, dim, schema[key])
        problems += found
        if checked is not None:
            space[key] = checked
    return (space if not problems else None), problems
