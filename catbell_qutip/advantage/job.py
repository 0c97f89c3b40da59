"""An advantage map's job: every check before any work, and the one value that carries
what :func:`~.compute.advantage_map` computes and how (:class:`MapJob`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._checks import ParameterError, check_memory, check_real
from ..params import PARAM_INFO, ProtocolParams, merge_layers
from ..rates import DEFAULT_ALPHA_MAX, DEFAULT_N_SCAN, ScanOptions
from ..sweep.executors import default_workers
from ..thresholds import THRESHOLD_PARAMETERS
from .settings import (
    _ALPHA_CHUNK,
    _BYTES_PER_POINT_N2,
    _RESULT_BYTES_PER_POINT_CODE,
    _SECONDS_PER_POINT,
    BLOCK_POINTS,
    DEFAULT_X,
    DEFAULT_Y,
    MAX_AXIS_POINTS,
    _axis_info,
    _check_axis_values,
    default_fields,
)

__all__ = ["MapJob", "validate"]


def _key_alpha_grid(key_alpha_max: float, n_key_alpha: int) -> np.ndarray:
    return np.linspace(key_alpha_max / n_key_alpha, key_alpha_max, n_key_alpha)


def _grid_field(fields, x, y, name, default):
    if x[0] == name:
        return x[1][:, None]
    if y[0] == name:
        return y[1][None, :]
    return fields.get(name, default)


def _estimate_bytes(loss_orders, npt: int) -> float:
    n2 = (max(loss_orders) + 1) ** 2
    return _ALPHA_CHUNK * npt * _BYTES_PER_POINT_N2 * n2


def _threshold_jobs(x, y, loss_orders, fields, rate, engine) -> list:
    """The paper's one-at-a-time thresholds for the axes they apply to, as
    ``((name, l), kwargs of threshold())`` jobs: same length, rate, encoder, eta_int
    placement, decoder, fibre attenuation and USD as the map, every other imperfection
    ideal (eta_d switches on the linear-optics USD itself)."""
    if x[0] in ("length_km", "rate_hz") or y[0] in ("length_km", "rate_hz"):
        return []
    keep = ("encoder", "eta_int_placement", "decoder", "db_per_km", "usd")
    jobs = []
    for name, _ in (x, y):
        if name not in THRESHOLD_PARAMETERS:
            continue
        fixed = {k: fields[k] for k in keep if k in fields}
        if name == "eta_d":
            fixed.pop("usd", None)
        for l in loss_orders:
            if l != 0:
                jobs.append(((name, int(l)), dict(
                    parameter=name, loss_order=int(l), length_km=float(fields["length_km"]),
                    rate_hz=float(rate), engine=engine, **fixed)))
    return jobs


@dataclass(frozen=True)
class MapJob:
    """A validated advantage map: what :func:`advantage_map` computes and how, the one value
    its run (:func:`_plain`, :func:`_swept`) and :func:`_assemble` read.

    Attributes
    ----------
    x, y : (str, ndarray)
        The axes.
    loss_orders : list of int
        The codes, sorted.
    rate_hz : float or None
        The common rate (None when it is an axis).
    fields : dict
        The fixed ProtocolParams fields (defaults < caller's).
    scan : ScanOptions
        Engine and the rate solver's amplitude scan.
    alpha_grid : ndarray
        Amplitudes of the alpha-optimised key rate.
    processes : int
        Processes of the plain path.
    workers, scheduler : int or str or None
        The sweep path's backend (``swept`` when either is given).
    threshold_jobs : list
        ``((name, l), kwargs of threshold())`` for the axes that have thresholds.
    progress : bool
        Progress bar.
    term : callable
        Parameter name -> how the caller names it (flag on the command line).
    """

    x: tuple
    y: tuple
    loss_orders: list
    rate_hz: float | None
    fields: dict
    scan: ScanOptions
    alpha_grid: np.ndarray
    processes: int
    workers: int | None
    scheduler: str | None
    threshold_jobs: list
    progress: bool
    term: Callable
    thresholds: bool

    @property
    def swept(self) -> bool:
        return self.workers is not None or self.scheduler is not None


def validate(x, y, *, loss_orders, rate_hz, scan, key_alpha_max, n_key_alpha, processes,
              workers, scheduler, thresholds, progress, flag_terms, fields) -> MapJob:
    """Every check of :func:`advantage_map`, before any work: axes, codes, rate, fields, the
    attempt time, the plain path's axis limit and the memory estimate."""
    x = _axis_arg(x, DEFAULT_X, flag_terms)
    y = _axis_arg(y, DEFAULT_Y, flag_terms)
    term = (lambda f: PARAM_INFO[f].flag if f in PARAM_INFO else "--" + f.replace("_", "-")) \
        if flag_terms else (lambda f: f)
    if x[0] == y[0]:
        raise ParameterError(f"the two axes must differ, got {term(x[0])} twice", x[0])
    if {x[0], y[0]} & {"eta_dc", "eta_uc"} and {x[0], y[0]} & {"eta_c"}:
        raise ParameterError("eta_c is the product eta_dc * eta_uc: vary either eta_c or "
                             "eta_dc/eta_uc, not both", "eta_c")
    orders = sorted({int(l) for l in loss_orders})
    if len(orders) < 2:
        raise ValueError(f"{term('loss_orders')} needs at least two codes to compare, got "
                         f"{orders}")
    for l in orders:
        ProtocolParams(loss_order=l)
    if "rate_hz" not in (x[0], y[0]):
        rate_hz = check_real(rate_hz, term("rate_hz"), low=0.0, low_open=True, unit="Hz")
    check_real(key_alpha_max, term("key_alpha_max"), low=0.0, low_open=True)
    if int(n_key_alpha) < 2:
        raise ValueError(f"{term('n_key_alpha')} = {n_key_alpha} is outside the allowed "
                         "range [2, inf)")
    if "alpha" in fields:
        raise ParameterError(f"{term('alpha')} is solved at every point so that each code "
                             "reaches the rate; do not give it", "alpha")
    # defaults < caller's fields < axes (an eta_c axis clears a preset's eta_dc/eta_uc)
    merged = merge_layers(default_fields(), fields,
                          {n: 1.0 for n, _ in (x, y) if n != "rate_hz"})
    merged.pop("loss_order", None)
    for n, _ in (x, y):
        merged.pop(n, None)
    axes_now = {n: v for n, v in (x, y) if n != "rate_hz"}
    ProtocolParams(**merged, **{n: v[:, None] if n == x[0] else v[None, :]
                                for n, v in axes_now.items()})
    L = np.asarray(_grid_field(merged, x, y, "length_km", 0.0))
    t0 = np.asarray(_grid_field(merged, x, y, "t0_s", 0.0))
    if np.any((L == 0) & (t0 == 0)):
        raise ValueError(f"rates need a positive attempt time max(L / c_f, t0): "
                         f"{term('length_km')} and {term('t0_s')} are both 0 at some points; "
                         f"give {term('length_km')} > 0 or {term('t0_s')} > 0")
    npt = x[1].size * y[1].size
    swept = workers is not None or scheduler is not None
    if swept and (scan.alpha_max != DEFAULT_ALPHA_MAX or scan.n_scan != DEFAULT_N_SCAN):
        raise ValueError("the sweep path solves alpha with the default scan "
                         f"(alpha_max = {DEFAULT_ALPHA_MAX:g}, n_scan = {DEFAULT_N_SCAN}); "
                         "leave alpha_max and n_scan at their defaults or use workers=None")
    if processes is None:
        processes = default_workers() if npt >= 64 else 1
    if int(processes) < 1:
        raise ValueError(f"{term('processes')} = {processes} is outside the allowed range "
                         "[1, inf)")
    processes = int(processes)
    hours = npt * _SECONDS_PER_POINT * len(orders) / 3 / (
        int(workers or 1) if swept else processes) / 3600
    for flag, (name, v) in (("--x" if flag_terms else "x", x), ("--y" if flag_terms else "y",
                                                                y)):
        if v.size > MAX_AXIS_POINTS and not swept:
            raise ValueError(
                f"{flag} {name} has {v.size} points, more than the {MAX_AXIS_POINTS} per axis "
                f"of the plain path (this map: {npt:.3g} points, about {hours:.2g} h on "
                f"{processes} process(es) and "
                f"{npt * len(orders) * _RESULT_BYTES_PER_POINT_CODE / 2 ** 30:.2g} GiB of "
                f"results); give fewer points or use {term('workers')} N to run through the "
                "sweep machinery")
    per_call = min(npt, 512 if swept else -(-npt // processes), BLOCK_POINTS)
    check_memory(_estimate_bytes(orders, per_call) * (int(workers or 1) if swept
                                                      else processes)
                 + npt * len(orders) * _RESULT_BYTES_PER_POINT_CODE,
                 f"the advantage map (codes up to l = {max(orders)}, {per_call} points per "
                 "vectorised call)",
                 "use fewer workers" if swept else
                 f"use {term('workers')} N to run through the sweep machinery")
    jobs = _threshold_jobs(x, y, orders, merged, rate_hz, scan.engine) if thresholds else []
    return MapJob(x=x, y=y, loss_orders=orders,
                  rate_hz=None if "rate_hz" in (x[0], y[0]) else float(rate_hz),
                  fields=merged, scan=scan,
                  alpha_grid=_key_alpha_grid(float(key_alpha_max), int(n_key_alpha)),
                  processes=processes, workers=workers, scheduler=scheduler,
                  threshold_jobs=jobs, progress=progress, term=term, thresholds=thresholds)


def _axis_arg(axis, default, flag_terms):
    if axis is None:
        name, start, stop, num = default
        return name, np.linspace(start, stop, num)
    name, values = axis
    _axis_info(name, flag_terms)
    return name, _check_axis_values(name, np.atleast_1d(np.asarray(values, dtype=float)))
