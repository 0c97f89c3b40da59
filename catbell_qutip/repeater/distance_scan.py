"""Distance scans, the computation behind ``catbell repeater`` (docs/repeater.md sections 5-6).

:func:`scan` runs :func:`.optimisation.optimise` for several codes and adds the PLOB bound
(:mod:`.plob`, section 6) and the best number of segments per distance; :func:`scan_summary`
reports, per code and n, the reach at explicit levels (:data:`S_LEVEL`, :data:`KEY_MIN_BIT_S`;
section 5, "Reach") and where a chain beats PLOB and the single link. The figure is
:func:`.plot.plot_scan`.
"""

from __future__ import annotations

import numpy as np

from .._checks import (
    ParameterError,
    check_loss_orders,
    check_memory,
    check_rate_hz,
    check_real,
    check_time,
)
from ..fibre import attempt_time_s
from ..formulas import timing
from ..outputs import attrs_of

# S level of the reach in scan_summary, the paper's Fig. 3(g) level: S - 2 decays
# continuously and, without bit-flip noise (Q = 0), never vanishes, so "S > 2" alone has no
# finite reach (docs/repeater.md section 5)
from ..paper import S_LEVEL
from ..params import ProtocolParams
from .optimisation import check_options, optimise
from .plob import plob_clock_s, plob_clock_text, plob_key_rate
from .waiting import scan_cost

__all__ = ["scan", "scan_summary", "check_scan", "S_LEVEL", "KEY_MIN_BIT_S",
           "MAX_SCAN_HOURS"]


#: longest scan :func:`check_scan` lets start (by the estimate of :func:`.waiting.scan_cost`),
#: unless CATBELL_MAX_HOURS says otherwise
MAX_SCAN_HOURS = 1.0


def check_scan(loss_orders, length_km, segments, *, objective: str = "key_rate",
               rate_hz: float | None = None, strategy: str = "parallel",
               p_swap: float = 1.0, swap_depol: float = 0.0, alpha_max: float = 4.0,
               n_alpha: int = 80, s_level: float | None = None,
               key_min: float | None = None, plob_rate_hz: float | None = None,
               **fields) -> dict:
    """Validate a :func:`scan` (and the levels of :func:`scan_summary`) and refuse it,
    before any work, if it is estimated (:func:`.waiting.scan_cost`) to take more than
    the time limit (:data:`MAX_SCAN_HOURS`, or ``CATBELL_MAX_HOURS``) or more memory than
    the memory limit. ``fields`` (the link parameters) are validated as
    :class:`~catbell_qutip.params.ProtocolParams` fields. Returns the options normalised
    (as :func:`.optimisation.check_options`) with ``loss_orders`` (list of int).

    Parameters
    ----------
    loss_orders : sequence of int
        Codes l (each 2^m - 1).
    length_km, segments, objective, rate_hz, strategy, p_swap, swap_depol, alpha_max, \
n_alpha
        As in :func:`~catbell_qutip.repeater.optimisation.optimise` (distances in km,
        rate in Hz).
    s_level : float, optional
        S level of :func:`scan_summary` (dimensionless, in [2, 2 sqrt 2]).
    key_min : float, optional
        Key-rate floor of :func:`scan_summary` [bit/s].
    plob_rate_hz : float, optional
        Source rate of the PLOB comparison [Hz].
    **fields
        Link parameters (:class:`~catbell_qutip.params.ProtocolParams` fields).

    Returns
    -------
    dict
        The normalised options, with ``loss_orders``.

    Raises
    ------
    ValueError
        A :class:`~catbell_qutip._checks.ParameterError` naming the argument, or the
        estimate and the limit.

    Examples
    --------
    >>> check_scan([0, 1], [10.0, 20.0], [1, 2])["loss_orders"]
    [0, 1]
    >>> from catbell_qutip._checks import ParameterError
    >>> try:
    ...     check_scan([2], [10.0], [1])
    ... except ParameterError as exc:
    ...     exc.field
    'loss_orders'
    """
    orders = check_loss_orders(loss_orders)
    o = check_options(length_km, segments, objective=objective, rate_hz=rate_hz,
                      strategy=strategy, p_swap=p_swap, swap_depol=swap_depol,
                      alpha_max=alpha_max, n_alpha=n_alpha, fields=fields)
    for name in ("length_km", "alpha", "loss_order"):
        if name in fields:
            raise ParameterError(f"{name} is set by the scan itself (the distance grid, "
                                 "the optimised amplitude, loss_orders); do not give it "
                                 "among the link parameters", name)
    ProtocolParams(loss_order=orders[0], **fields)
    if plob_rate_hz is not None:
        check_rate_hz(plob_rate_hz, "plob_rate_hz")
    if s_level is not None:
        check_real(s_level, "s_level", low=2.0, high=2 * np.sqrt(2))
    if key_min is not None:
        check_real(key_min, "key_min", low=0.0, low_open=True, unit="bit/s")
    segs, L = o["segments"], o["length_km"]
    seconds, peak = scan_cost([1, *segs], L.size, len(orders), o["n_alpha"])
    what = (f"this scan ({len(orders)} code(s) x {L.size} distances x segments "
            f"{' '.join(map(str, segs))}, n_alpha = {o['n_alpha']} amplitudes)")
    way_out = "give fewer or smaller segments, fewer distances or a smaller n_alpha"
    check_time(seconds, what, way_out, default_hours=MAX_SCAN_HOURS)
    check_memory(peak, what, way_out)
    return {**o, "loss_orders": orders}


def scan(loss_orders, length_km, segments, *, objective: str = "key_rate",
         rate_hz: float | None = None, strategy: str = "parallel", p_swap: float = 1.0,
         swap_depol: float = 0.0, alpha_max: float = 4.0, n_alpha: int = 80,
         progress=None, plob_rate_hz: float | None = None, **fields):
    """:func:`optimise` for several loss orders, with the PLOB bound (docs/repeater.md 5-6).

    Parameters
    ----------
    loss_orders : sequence of int
        Codes l to compare (every link of a chain uses the same code).
    length_km, segments, objective, rate_hz, strategy, p_swap, swap_depol, alpha_max, \
n_alpha, progress, **fields
        As in :func:`optimise`.
    plob_rate_hz : float, optional
        Source rate of the PLOB comparison in channel uses per second (Hz). Default: one
        use per attempt of a single link over the whole distance, max(L / c_f, t0)
        (:func:`plob_clock_s`). Either way the line does not depend on ``segments``.

    Returns
    -------
    xarray.Dataset
        Dimensions ``loss_order`` x ``segments`` x ``length_km``, the variables of
        :func:`optimise`, plus ``plob_key_rate`` (length_km, bit/s, on the clock of
        :func:`plob_clock_s`; attribute ``plob_clock`` says which),
        ``plob_key_rate_own_clock`` (segments x length_km, each n on its own attempt clock)
        and ``best_segments`` (loss_order x length_km: the n of largest key rate, 0 where
        no n gives a key).

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If an option is invalid (:func:`check_scan`).
    catbell_qutip._checks.TimeLimitError, catbell_qutip._checks.MemoryLimitError
        If the scan is estimated to exceed the time or memory limit.

    Examples
    --------
    A single link (n = 1) never beats the repeaterless PLOB bound on its own clock:

    >>> ds = scan([0], [20.0, 50.0], [1, 2], n_alpha=12)
    >>> ds.key_rate.dims
    ('loss_order', 'segments', 'length_km')
    >>> bool((ds.key_rate.sel(segments=1) < ds.plob_key_rate).all())
    True
    """
    import xarray as xr

    orders = check_scan(loss_orders, length_km, segments, objective=objective,
                        rate_hz=rate_hz, strategy=strategy, p_swap=p_swap,
                        swap_depol=swap_depol, alpha_max=alpha_max,
                        n_alpha=n_alpha, plob_rate_hz=plob_rate_hz, **fields)["loss_orders"]
    parts = [optimise(l, length_km, segments, objective=objective, rate_hz=rate_hz,
                      strategy=strategy, p_swap=p_swap, swap_depol=swap_depol,
                      alpha_max=alpha_max, n_alpha=n_alpha, progress=progress, **fields)
             for l in orders]
    ds = xr.concat(parts, dim="loss_order", combine_attrs="drop_conflicts")
    ds = ds.assign_coords(loss_order=("loss_order", np.asarray(orders), attrs_of("loss_order")))
    ds.attrs.pop("loss_order", None)
    L = ds["length_km"].values
    segs = ds["segments"].values
    db = float(fields.get("db_per_km", 0.2))
    clock_fields = timing(fields)
    t0, rule = float(clock_fields["t0_s"]), clock_fields["wait_rule"]
    clock = plob_clock_s(L, rate_hz=plob_rate_hz, t0_s=t0, wait_rule=rule)
    said = plob_clock_text(plob_rate_hz, wait_rule=rule)
    ds["plob_key_rate"] = ("length_km", plob_key_rate(L, clock, db_per_km=db),
                           {"units": "bit/s", "long_name": "PLOB bound -log2(1 - eta) per "
                            f"channel use, {said}"})
    own = np.stack([plob_key_rate(L, attempt_time_s(L / n, t0, rule), db_per_km=db)
                    for n in segs])
    ds["plob_key_rate_own_clock"] = (("segments", "length_km"), own,
                                     {"units": "bit/s", "long_name": "PLOB bound, one use per "
                                      "attempt of the n-segment links, max(L / (n c_f), t0)"})
    K = ds["key_rate"].values
    best = np.where(K.max(axis=1) > 0, segs[np.argmax(K, axis=1)], 0)
    ds["best_segments"] = (("loss_order", "length_km"), best.astype(int),
                           {"units": "1", "long_name": "n of largest key rate (0: no key)"})
    ds.attrs.update({"plob_clock": said, "db_per_km": db, "t0_s": t0, "wait_rule": rule})
    if plob_rate_hz is not None:
        ds.attrs["plob_rate_hz"] = float(plob_rate_hz)
    for k, v in fields.items():
        ds.attrs[f"link_{k}"] = v if isinstance(v, (int, float, str)) else str(v)
    return ds


#: key-rate floor (bit/s) of the reach in :func:`scan_summary` and of the figure
KEY_MIN_BIT_S = 1e-3


def _last_true(mask, L):
    idx = np.nonzero(mask)[0]
    return float(L[idx[-1]]) if idx.size else None


def _holds_from(mask, L):
    """Smallest L from which ``mask`` holds at every larger grid point (None if not at the end)."""
    if not mask.size or not mask[-1]:
        return None
    fails = np.nonzero(~mask)[0]
    return float(L[fails[-1] + 1]) if fails.size else float(L[0])


def _beats_from(K, ref, L, key_min):
    """Smallest L from which ``K > ref`` at every larger grid point where either is a key
    (>= ``key_min``); None if ``K <= ref`` at the last such point, or there is none."""
    keyed = (K >= key_min) | (ref >= key_min)
    return _holds_from((K > ref)[keyed], L[keyed])


def scan_summary(ds, *, s_level: float = S_LEVEL, key_min: float = KEY_MIN_BIT_S) -> dict:
    """Per code l and number of segments n, the reach and crossings of a :func:`scan`.

    All distances are grid points of ``ds`` (their spacing is the resolution); a reach
    equal to ``max_km`` means "at least that far". JSON-ready: every missing value is None.

    Parameters
    ----------
    ds : xarray.Dataset
        A :func:`scan` result.
    s_level : float
        S level of ``S_reach_km`` (default :data:`S_LEVEL`, 2.01).
    key_min : float
        Key-rate floor of ``key_reach_km`` in bit/s (default :data:`KEY_MIN_BIT_S`).

    Returns
    -------
    dict
        ``{"l{l}": {"n{n}": {...}}}`` with ``key_reach_km`` (largest L with key rate >=
        ``key_min``), ``S_reach_km`` (largest L with S >= ``s_level`` at the chosen alpha),
        ``beats_plob_from_km`` (smallest L from which the key rate exceeds
        ``plob_key_rate`` up to the end of the grid), ``beats_one_segment_from_km`` (smallest L
        from which the key rate exceeds the n = 1 key rate wherever either of them is at least
        ``key_min``: beyond both reaches neither has a key and the comparison is void; None
        if the chain never beats one link there, and for n = 1),
        ``key_rate_at_max_km`` (bit/s at the largest L), ``S_undefined_from_km`` (smallest L
        from which no amplitude meets the objective at any larger grid point, so alpha and S
        are NaN there: no positive key rate, or the delivery rate unattainable; None if S is
        defined at the largest L; an ``S_reach_km`` just before it is where S stops being
        defined, not where it falls below ``s_level``); and ``max_km``, ``grid_step_km``,
        ``s_level``, ``key_min_bit_s``.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``s_level`` is not in [2, 2 sqrt 2] or ``key_min`` is not > 0.

    Examples
    --------
    >>> ds = scan([0], [20.0, 50.0], [1, 2], n_alpha=12)
    >>> summary = scan_summary(ds)
    >>> summary["max_km"], summary["grid_step_km"], summary["l0"]["n1"]["beats_one_segment_from_km"]
    (50.0, 30.0, None)
    """
    check_real(s_level, "s_level", low=2.0, high=2 * np.sqrt(2))
    check_real(key_min, "key_min", low=0.0, low_open=True, unit="bit/s")
    L = ds["length_km"].values
    out = {}
    for l in ds["loss_order"].values:
        per = {}
        sel = ds.sel(loss_order=l)
        one = sel.sel(segments=1)["key_rate"].values if 1 in sel["segments"].values else None
        for n in sel["segments"].values:
            d = sel.sel(segments=n)
            K = d["key_rate"].values
            S_raw = d["S"].values
            S = np.nan_to_num(S_raw, nan=0.0)
            per[f"n{int(n)}"] = {
                "key_reach_km": _last_true(K >= key_min, L),
                "S_reach_km": _last_true(S >= s_level, L),
                "beats_plob_from_km": _holds_from(K > d["plob_key_rate"].values, L),
                "beats_one_segment_from_km": (None if one is None or n == 1 else
                                              _beats_from(K, one, L, key_min)),
                "key_rate_at_max_km": float(K[-1]),
                "S_undefined_from_km": _holds_from(np.isnan(S_raw), L),
            }
        out[f"l{int(l)}"] = per
    out["max_km"] = float(L[-1])
    out["grid_step_km"] = float(L[1] - L[0]) if L.size > 1 else None
    out["s_level"] = float(s_level)
    out["key_min_bit_s"] = float(key_min)
    return out
