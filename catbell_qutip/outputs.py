"""The format rules of every file and printout the package writes, in one place.

- **JSON** holds numbers, strings, booleans, lists, objects and ``null`` only: a value that
  is not a finite number (``inf``, ``nan``) is written ``null`` (:func:`json_ready`), never
  the invalid tokens ``Infinity``/``NaN`` nor a string ``"inf"``. What ``null`` means is
  documented with each field (README, "Output formats"): for ``t_c_s`` an ideal memory
  (t_c = inf); for F, S, Q and the rates, undefined (nothing heralds, or no attempt time);
  for a threshold or a reach, none exists in the range searched.
- **CSV** files start with one ``#`` line in plain text (no matplotlib markup): what the
  table is and each column's unit in brackets, ``[1]`` for a dimensionless column
  (:func:`plain_text`, :func:`csv_header`).
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

__all__ = ["json_ready", "dumps", "plain_text", "csv_header"]


def json_ready(obj):
    """``obj`` with every non-finite float made None and NumPy values made plain Python.

    Dicts (keys made strings), lists, tuples and NumPy arrays are converted recursively;
    other values pass through.

    Examples
    --------
    >>> json_ready({"t_c_s": float("inf"), "S": np.float64(2.5), "n": np.int64(3),
    ...             "xs": np.array([1.0, np.nan])})
    {'t_c_s': None, 'S': 2.5, 'n': 3, 'xs': [1.0, None]}
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [json_ready(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def dumps(obj, **kwargs) -> str:
    """:func:`json.dumps` of :func:`json_ready` ``(obj)``; strict (``allow_nan=False``).

    >>> dumps({"F": float("nan"), "P": 0.0})
    '{"F": null, "P": 0.0}'
    """
    return json.dumps(json_ready(obj), allow_nan=False, **kwargs)


_GREEK = {"alpha": "alpha", "eta": "eta", "mu": "u", "Delta": "Delta", "Phi": "Phi",
          "Psi": "Psi", "chi": "chi", "cdot": "*", "times": "x", "leq": "<=", "geq": ">="}


def _plain_math(s: str) -> str:
    """One mathtext segment (between ``$`` signs) as plain text."""
    s = re.sub(r"\\(?:mathrm|text|mathit|mathbf)\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\sqrt\{([^{}]*)\}", r" sqrt(\1)", s)
    s = re.sub(r"\\([A-Za-z]+)", lambda m: _GREEK.get(m[1], m[1]), s)
    return s.replace("\\,", " ").replace("\\", "").replace("{", "").replace("}", "")


def plain_text(text: str) -> str:
    r"""Matplotlib mathtext made plain text (for CSV headers and terminals).

    ``$R_\mathrm{eg}$`` becomes ``R_eg``, ``$\eta_\mathrm{int}$`` ``eta_int``,
    ``$t_0$`` ``t_0``, ``$\mu$s`` ``us``, ``$2\sqrt{2}$`` ``2 sqrt(2)``.

    >>> plain_text(r"Fig. 3(g): Table I, $R_\mathrm{eg}$ = 3 Hz, $t_0$ = 89.33 $\mu$s")
    'Fig. 3(g): Table I, R_eg = 3 Hz, t_0 = 89.33 us'
    >>> plain_text(r"$S = 2\sqrt{2}$, $|\alpha|$, $\eta_c$")
    'S = 2 sqrt(2), |alpha|, eta_c'
    """
    s = re.sub(r"\$([^$]*)\$", lambda m: _plain_math(m[1]), text)
    return re.sub(r"  +", " ", s).strip()


def csv_header(title: str, units: dict) -> str:
    r"""The ``#`` line of a CSV file: plain title, then ``column [unit]`` for each column
    (unit ``1``: dimensionless).

    >>> csv_header(r"Fig. 2(a): $R_\mathrm{eg}$ = 3000 Hz", {"length_km": "km", "S": "1"})
    '# Fig. 2(a): R_eg = 3000 Hz; units: length_km [km], S [1]'
    """
    cols = ", ".join(f"{c} [{plain_text(str(u))}]" for c, u in units.items())
    return f"# {plain_text(title)}; units: {cols}"
