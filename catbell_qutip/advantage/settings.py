"""Settings and axes of the advantage maps (docs/model.md sections 3, 6): the reproduction's
encoder and eta_int placement, the default map, and the axis parser."""

from __future__ import annotations

import numpy as np

from .._checks import MemoryLimitError, ParameterError, check_memory, check_real
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
#: evaluations per map point and code of the rate solve (alpha scan to the crossing, then
#: refinement): with the alpha grid of the key rate, (this + n_key_alpha) times
#: :func:`catbell_qutip.api.seconds_per_point` per point and code; for l = 0, 1, 3 and 30
#: key amplitudes that is ~0.03 s per map point (measured: a 100000 x 40 grid runs ~20 h
#: on 2 cores, 0.035 s per point)
_EVALUATIONS_PER_SOLVE = 40
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

    Examples
    --------
    >>> from catbell_qutip.params import preset
    >>> base = preset("repro-base")
    >>> repro_settings() == {k: base[k] for k in ("encoder", "eta_int_placement")}
    True
    """
    base = preset(REPRO_PRESET)
    defaults = ProtocolParams.__dataclass_fields__
    return {k: base.get(k, defaults[k].default) for k in ("encoder", "eta_int_placement")}


def default_fields() -> dict:
    """Fixed fields of a map unless the caller overrides them: L = 5 km and the
    reproduction's encoder and eta_int placement (:func:`repro_settings`); every
    imperfection ideal (the :class:`~catbell_qutip.params.ProtocolParams` defaults).

    Returns
    -------
    dict
        ``length_km`` (km) and the fields of :func:`repro_settings`.

    Examples
    --------
    >>> f = default_fields()
    >>> f["length_km"], set(repro_settings()) <= set(f)
    (5.0, True)
    """
    return {"length_km": DEFAULT_LENGTH_KM, **repro_settings()}


def _axis_info(name: str, label: str = "x"):
    """Refuse an axis name a map cannot vary; ``label`` is the argument ("x", "y") or the
    option ("--x") that gave it."""
    if name not in AXIS_NAMES:
        hint = (" (alpha is solved at every point so that each code reaches the rate)"
                if name == "alpha" else "")
        raise ParameterError(
            f"{label}: {name!r} is not a parameter a map can vary{hint}; choose from "
            f"{', '.join(map(repr, AXIS_NAMES))}", label.lstrip("-"))


def _check_axis_values(name: str, values, label: str = "x") -> np.ndarray:
    """An axis's values: at least 2, finite, strictly increasing, each valid for the
    parameter; messages name the axis as ``label`` gives it."""
    field_name = label.lstrip("-")
    where = f"{label} axis {name!r}"
    try:
        arr = np.asarray(values)
        if arr.dtype.kind not in "iuf":
            raise ValueError
        values = arr.astype(float).reshape(-1)
    except ValueError:
        raise ParameterError(f"{where}: values must be numbers, got {values!r}",
                             field_name) from None
    if not np.all(np.isfinite(values)):
        bad = values[~np.isfinite(values)][0]
        raise ParameterError(f"{where}: values must be finite numbers, got {bad:g}",
                             field_name)
    if values.size < 2:
        raise ParameterError(f"{where} needs at least 2 values, got {values.size}",
                             field_name)
    if not np.all(np.diff(values) > 0):
        raise ParameterError(f"{where}: values must increase strictly", field_name)
    try:
        if name == "rate_hz":
            check_real(values, name, low=0.0, low_open=True, unit="Hz")
        else:
            PARAM_INFO[name].check(values)
    except ParameterError as exc:  # "eta_int = 1.025 is outside ...": the axis's value
        text = str(exc)
        text = "value" + text[len(name):] if text.startswith(name + " ") else text
        raise ParameterError(f"{where}: {text}", field_name) from None
    return values


def parse_axis(text: str, option: str = "--x") -> tuple[str, np.ndarray]:
    """Parse an axis given on the command line as ``option`` (``--x``, ``--y``).

    Parameters
    ----------
    text : str
        ``NAME=START:STOP:NUM`` (``:log`` appended for log spacing) or ``NAME=V1,V2,...``,
        e.g. ``eta_int=0.8:1:40``, ``rate_hz=30:3e4:30:log`` or ``length_km=1,5,10``.
    option : str
        The command-line option the text came from, named in messages (they are
        command-line messages: Python callers pass ``x=(name, values)`` instead).

    Returns
    -------
    (name, values) : tuple of str and ndarray

    Raises
    ------
    ValueError
        Naming what is wrong and the accepted forms.

    Examples
    --------
    >>> name, values = parse_axis("eta_int=0.8:1:5")
    >>> name, values.round(12).tolist()
    ('eta_int', [0.8, 0.85, 0.9, 0.95, 1.0])
    """
    forms = (f"give NAME=START:STOP:NUM[:log] or NAME=V1,V2,... (e.g. {option} "
             "eta_int=0.8:1:40)")
    name, sep, rest = text.partition("=")
    name = name.strip().replace("-", "_")
    where = f"{option} {text}"
    if not sep or not rest:
        raise ValueError(f"{where}: {forms}")
    _axis_info(name, option)
    try:
        if ":" in rest:
            parts = rest.split(":")
            scale = "linear"
            if parts[-1].strip() in ("log", "linear"):
                scale = parts.pop().strip()
            if len(parts) != 3:
                raise ValueError
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if not (np.isfinite(start) and np.isfinite(stop)):
                raise ValueError(f"{where}: START and STOP must be finite numbers")
            check_memory(num * 32.0, f"{where} ({num} values)", "give a smaller NUM")
            if scale == "log":
                if not (start > 0 and stop > 0):
                    raise ValueError(f"{where}: a log-spaced axis needs START > 0 and "
                                     "STOP > 0")
                values = np.geomspace(start, stop, num)
            else:
                values = np.linspace(start, stop, num)
        else:
            values = np.array([float(v) for v in rest.split(",")])
    except MemoryLimitError:
        raise
    except ValueError as exc:
        if str(exc).startswith(where):
            raise
        raise ValueError(f"{where}: {forms}") from None
    return name, _check_axis_values(name, values, option)


def _bar(total, progress, unit):
    from tqdm import tqdm

    return tqdm(total=total, disable=not progress, unit=unit, leave=False)
