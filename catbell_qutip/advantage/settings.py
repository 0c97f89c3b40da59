"""Settings and axes of the advantage maps (docs/model.md sections 3, 6): the reproduction's
encoder and eta_int placement, the default map, and the axis parser."""

from __future__ import annotations

import numpy as np

from .._checks import ParameterError, check_real
from ..outputs import long_name, units
from ..paper import LENGTH_THRESHOLD_KM, RATE_FIG23_HZ
from ..params import ARRAY_FIELDS, PARAM_INFO, ProtocolParams, preset

__all__ = ["MAX_AXIS_POINTS", "REPRO_PRESET", "AXIS_NAMES", "DEFAULT_X", "DEFAULT_Y",
           "DEFAULT_LENGTH_KM",
           "DEFAULT_RATE_HZ", "KEY_ALPHA_MAX", "N_KEY_ALPHA", "BLOCK_POINTS",
           "repro_settings", "default_fields", "parse_axis"]

#: the preset whose encoder and eta_int placement the reproduction pins
REPRO_PRESET = "repro-base"
#: map axes: every array-capable parameter except alpha (solved for the rate), plus the rate
AXIS_NAMES = tuple(n for n in ARRAY_FIELDS if n != "alpha") + ("rate_hz",)
#: default axes: (name, start, stop, num)
DEFAULT_X = ("eta_int", 0.8, 1.0, 40)
DEFAULT_Y = ("eta_c", 0.3, 1.0, 40)
#: default fixed point of a map: L = 5 km and R_eg = 3000 Hz (where the paper reads its
#: threshold statements, docs/model.md 6)
DEFAULT_LENGTH_KM = LENGTH_THRESHOLD_KM
DEFAULT_RATE_HZ = RATE_FIG23_HZ
#: the alpha grid of the alpha-optimised key rate: (0, KEY_ALPHA_MAX] in N_KEY_ALPHA steps
KEY_ALPHA_MAX = 3.0
N_KEY_ALPHA = 30
#: evaluate at most this many map points per vectorised call of the plain path
BLOCK_POINTS = 2048
#: estimated bytes per evaluated point and per code component squared (measured on the
#: coherent engine with the explicit encoder: ~20 kB per point for l = 3, N = 4)
_BYTES_PER_POINT_N2 = 2.0e3
#: amplitudes evaluated together per point (rates._scan_P works in chunks of 8)
_ALPHA_CHUNK = 8
#: most points per axis on the plain path (all results in one process's memory; the
#: default map has 40): larger axes go through the sweep machinery (``workers=``)
MAX_AXIS_POINTS = 1000
#: CPU seconds per map point for three codes l <= 3 on the coherent engine (measured: a
#: 100000 x 40 grid runs ~20 h on 2 cores), for the estimate in refusals
_SECONDS_PER_POINT = 0.035
#: bytes of results kept per map point and code (the per-code outputs, their copies in
#: the dataset, the CSV frame)
_RESULT_BYTES_PER_POINT_CODE = 400.0

_RATE_INFO = dict(unit=units("rate_hz"), long_name=long_name("rate_hz"), flag="--rate-hz")


def repro_settings() -> dict:
    """The encoder and eta_int placement the reproduction pins in ``repro-base``.

    Read from :func:`catbell_qutip.params.preset` at run time, so maps and the decoder
    table follow the reproduction's choice; a field the preset leaves out takes the
    :class:`~catbell_qutip.params.ProtocolParams` default.

    Returns
    -------
    dict
        ``{"encoder": ..., "eta_int_placement": ...}``.
    """
    base = preset(REPRO_PRESET)
    defaults = ProtocolParams.__dataclass_fields__
    return {k: base.get(k, defaults[k].default) for k in ("encoder", "eta_int_placement")}


def default_fields() -> dict:
    """Fixed fields of a map unless the caller overrides them: L = 5 km and the
    reproduction's encoder and eta_int placement (:func:`repro_settings`); every
    imperfection ideal (the :class:`~catbell_qutip.params.ProtocolParams` defaults)."""
    return {"length_km": DEFAULT_LENGTH_KM, **repro_settings()}


def _axis_info(name: str, flag_terms: bool):
    if name not in AXIS_NAMES:
        what = "--x/--y" if flag_terms else "an axis"
        hint = (" (alpha is solved at every point so that each code reaches the rate)"
                if name == "alpha" else "")
        raise ParameterError(
            f"{what}: {name!r} is not a parameter a map can vary{hint}; choose from "
            f"{', '.join(AXIS_NAMES)}", name)


def _check_axis_values(name: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size < 2:
        raise ParameterError(f"axis {name} needs at least 2 values, got {values.size}", name)
    if not np.all(np.diff(values) > 0):
        raise ParameterError(f"axis {name}: values must increase strictly", name)
    try:
        if name == "rate_hz":
            check_real(values, name, low=0.0, low_open=True, unit="Hz")
        else:
            PARAM_INFO[name].check(values)
    except ParameterError as exc:
        raise ParameterError(f"axis {name}: {exc}", name) from None
    return values


def parse_axis(text: str) -> tuple[str, np.ndarray]:
    """Parse an axis given on the command line.

    Parameters
    ----------
    text : str
        ``NAME=START:STOP:NUM`` (``:log`` appended for log spacing) or ``NAME=V1,V2,...``,
        e.g. ``eta_int=0.8:1:40``, ``rate_hz=30:3e4:30:log`` or ``length_km=1,5,10``.

    Returns
    -------
    (name, values) : tuple of str and ndarray

    Raises
    ------
    ValueError
        Naming what is wrong and the accepted forms.
    """
    forms = "give NAME=START:STOP:NUM[:log] or NAME=V1,V2,... (e.g. eta_int=0.8:1:40)"
    name, sep, rest = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not rest:
        raise ValueError(f"axis {text!r}: {forms}")
    _axis_info(name, True)
    try:
        if ":" in rest:
            parts = rest.split(":")
            scale = "linear"
            if parts[-1].strip() in ("log", "linear"):
                scale = parts.pop().strip()
            if len(parts) != 3:
                raise ValueError
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if scale == "log":
                if not (start > 0 and stop > 0):
                    raise ValueError(f"axis {text!r}: a log-spaced axis needs START > 0 and "
                                     "STOP > 0")
                values = np.geomspace(start, stop, num)
            else:
                values = np.linspace(start, stop, num)
        else:
            values = np.array([float(v) for v in rest.split(",")])
    except ValueError as exc:
        if str(exc).startswith("axis "):
            raise
        raise ValueError(f"axis {text!r}: {forms}") from None
    return name, _check_axis_values(name, values)


def _bar(total, progress, unit):
    from tqdm import tqdm

    return tqdm(total=total, disable=not progress, unit=unit, leave=False)
