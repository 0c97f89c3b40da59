"""Finite-size DI-QKD (catbell_qutip.finitekey): the bound against Nadlinger et al. 2022
(Suppl. Prop. 2; its own numbers), its limits in n, the statistics of two-qubit states
against catbell_qutip.bell, and simulated points against ProtocolResult."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import lambertw
from scipy.stats import binom

from catbell_qutip import simulate
from catbell_qutip._checks import ParameterError
from catbell_qutip.bell import chsh_horodecki, chsh_numerical, qber_z
from catbell_qutip.finitekey import (
    LOSS_TERMS,
    MAX_ROUNDS,
    OMEGA_MAX,
    HeraldError,
    check_bound_options,
    check_output_options,
    chsh_settings,
    correlation_table,
    entropy_bound,
    finite_key,
    finite_key_at,
    finite_key_from_table,
    key_vs_rounds,
    min_rounds,
    protocol_statistics,
    protocol_statistics_of_state,
    statistics_from_table,
    syndrome_length,
    threshold_omega,
    upsilon,
    write_outputs,
)
from catbell_qutip.finitekey import figure as fk_figure
from catbell_qutip.finitekey import simulator as fk_simulator
from catbell_qutip.finitekey.bound import EPS_HASH, _threshold
from catbell_qutip.formulas import binary_entropy, chi

SQ2 = math.sqrt(2.0)


# -- the paper's own numbers (Nadlinger et al., Nature 607, 682 (2022), Suppl. Inf.) -------
def test_reproduces_the_papers_key_length():
    # main text, Fig. 4 and Table I: n = 1.5e6, S = 2.64, Q = 1.8 %, gamma = 13/256,
    # eps_sound = 1e-10, threshold of eqs. 24-25 (3 standard deviations): 95 884 bits with
    # omega_thr ~ 0.825538 and syndrome m = 296 517 (Suppl. S6 E)
    r = finite_key(1.5e6, 2.64, 0.018, gamma=13 / 256, completeness_sigmas=3)
    assert abs(r.key_length_bits - 95884) <= 0.0005 * 95884
    assert r.params["omega_thr"] == pytest.approx(0.825538, abs=5e-7)
    assert abs(r.params["syndrome_bits"] - 296517) <= 1
    # with the threshold the paper quotes, the same
    r2 = finite_key(1.5e6, 2.64, 0.018, gamma=13 / 256, omega_thr=0.825538)
    assert abs(r2.key_length_bits - 95884) <= 0.0005 * 95884


def test_first_key_of_a_perfect_device_as_in_the_paper():
    # Suppl. Fig. S15a: S = 2 sqrt 2, Q = 0 gives a key "starting from n ~ 2.6 x 10^5"
    n = min_rounds(2 * SQ2, 0.0, completeness_sigmas=3, rtol=1e-2)
    assert 2.4e5 <= n <= 2.8e5


# -- pieces against independent computations -------------------------------------------
@pytest.mark.parametrize("S", [2.01, 2.3, 2.64, 2.8, 2 * SQ2])
def test_entropy_bound_is_one_minus_chi(S):
    assert entropy_bound((4 + S) / 8) == pytest.approx(1 - chi(S), abs=1e-12)
    # symmetric about 1/2 and zero where no quantum violation
    w = (4 + S) / 8
    assert entropy_bound(1 - w) == pytest.approx(entropy_bound(w), abs=1e-12)
    assert entropy_bound(0.5) == 0.0 and entropy_bound(0.74) == 0.0


@pytest.mark.parametrize("x", [1.0, 7.3, 1e3, 1e9, 1e15])
def test_upsilon_is_the_lambert_w_expression(x):
    b = 4 / math.log(2)
    if x / b < 700:  # scipy's W of exp(x / b) / b directly
        expected = b * float(np.real(lambertw(math.exp(x / b) / b)))
        assert upsilon(x) == pytest.approx(expected, rel=1e-12)
    y = upsilon(x)
    assert y + b * math.log(y) == pytest.approx(x, rel=1e-12)
    assert x - b * math.log(x) <= y + 1e-9 <= x + 1e-9


@pytest.mark.parametrize("n", [10, 1e3, 1.5e6, 1e12])
@pytest.mark.parametrize("gamma", [1e-3, 0.05, 0.4])
@pytest.mark.parametrize("eps", [1e-2, 1e-6])
def test_threshold_is_the_binomial_quantile(n, gamma, eps):
    q = gamma * (1 - 0.83)
    c = binom.ppf(1 - eps, n, q)
    w = _threshold(n, q, gamma, eps)
    if w < OMEGA_MAX:
        assert (1 - w) * n * gamma == pytest.approx(c, abs=1e-6 * max(c, 1))
    w2, p = threshold_omega(n, 2.64, gamma, eps)
    assert p <= eps * (1 + 1e-9)


def test_syndrome_length_formula():
    n, S, Q, g = 2e7, 2.5, 0.03, 0.02
    expected = n * ((1 - g) * binary_entropy(Q) + g * binary_entropy((4 - S) / 8)) \
        + 50 * math.sqrt(n)
    assert syndrome_length(n, S, Q, g) == pytest.approx(expected, rel=1e-14)
    assert syndrome_length(n, S, Q, g, ec_efficiency=1.2, ec_margin=0) == pytest.approx(
        1.2 * (expected - 50 * math.sqrt(n)), rel=1e-14)


# -- behaviour in n -------------------------------------------------------------------
def test_key_rises_monotonically_towards_the_asymptotic_rate_from_below():
    S, Q = 2.6, 0.01
    asym = 1 - binary_entropy(Q) - chi(S)
    ns = np.unique(np.round(np.logspace(6, 15, 19)))
    c = key_vs_rounds(S, Q, ns)
    k = c["key_per_round"]
    assert np.all(k <= asym)
    pos = k > 0
    assert pos[-1] and np.all(np.diff(k[pos]) > 0)
    assert k[-1] > 0.99 * asym  # 1e15 rounds: within 1 %
    # and its gap shrinks at least like n^-1/2 / 10 (second-order terms)
    gap = asym - k[pos]
    assert gap[-1] < gap[0] / 100


def test_no_key_below_a_threshold_number_of_rounds():
    S, Q = 2.7, 0.02
    n0 = min_rounds(S, Q, rtol=1e-3)
    assert finite_key(n0, S, Q).key_length_bits >= 1
    assert finite_key(math.floor(n0 * (1 - 2e-3)), S, Q).key_length_bits == 0
    assert finite_key(n0 // 10, S, Q).key_length_bits == 0
    assert finite_key(1, S, Q).key_length_bits == 0


def test_no_key_where_the_asymptotic_rate_vanishes():
    # 1 - h(0.1) - chi(2.4) < 0: no number of rounds helps
    assert 1 - binary_entropy(0.1) - chi(2.4) < 0
    assert min_rounds(2.4, 0.1) is None
    r = finite_key(1e14, 2.4, 0.1)
    assert r.key_length_bits == 0 and r.asymptotic_key_per_round == 0.0
    assert min_rounds(2.7, 0.5) is None


def test_losses_add_up_and_security_parameters_trade_off():
    r = finite_key(1e8, 2.6, 0.01)
    assert set(r.losses) == set(LOSS_TERMS) and r.dominant in LOSS_TERMS
    assert sum(r.losses.values()) == pytest.approx(
        r.n * r.asymptotic_key_per_round - r.key_length, rel=1e-9)
    p = r.params
    # soundness budget: max(eps_EA, eps_PA + 2 eps_s) + 5 eps_hash = eps_sound
    assert max(p["eps_EA"], p["eps_PA"] + 2 * p["eps_s"]) + 5 * p["eps_hash"] \
        == pytest.approx(1e-10, rel=1e-9)
    assert p["eps_s1"] + 2 * p["eps_s2"] < p["eps_s"]
    assert 1 < p["alpha1"] < 2 and 1 < p["alpha2"] < 1 + 1 / math.log2(5)
    assert p["abort_probability"] <= 1e-2
    # a looser soundness or completeness gives more key, a worse code less
    assert finite_key(1e8, 2.6, 0.01, eps_sound=1e-6).key_length > r.key_length
    assert finite_key(1e8, 2.6, 0.01, eps_completeness=0.1).key_length > r.key_length
    assert finite_key(1e8, 2.6, 0.01, ec_efficiency=1.2).key_length < r.key_length
    # a fixed gamma cannot beat the optimised one
    assert finite_key(1e8, 2.6, 0.01, gamma=0.2).key_length < r.key_length


@pytest.mark.parametrize("kwargs,field", [
    (dict(n=0), "n"), (dict(n=1.5), "n"), (dict(n=float("nan")), "n"), (dict(n=True), "n"),
    (dict(S=2.0), "S"), (dict(S=2.9), "S"), (dict(Q=-0.01), "Q"), (dict(Q=0.6), "Q"),
    (dict(eps_sound=0.0), "eps_sound"), (dict(eps_sound=1.0), "eps_sound"),
    (dict(eps_completeness=1.0), "eps_completeness"), (dict(ec_efficiency=0.9),
                                                        "ec_efficiency"),
    (dict(gamma=0.0), "gamma"), (dict(omega_thr=0.7), "omega_thr"),
])
def test_bad_inputs_name_the_argument(kwargs, field):
    args = dict(n=1e6, S=2.6, Q=0.01)
    args.update(kwargs)
    with pytest.raises(ParameterError) as e:
        finite_key(args.pop("n"), args.pop("S"), args.pop("Q"), **args)
    assert e.value.field == field and field in str(e.value)


def test_result_is_json_ready():
    import json

    d = finite_key(1e4, 2.6, 0.01).to_dict()  # no key: every value still finite
    text = json.dumps(d, allow_nan=False)
    assert '"key_length_bits": 0' in text


# -- statistics of two-qubit states ------------------------------------------------------
def _bell_diag(F):
    phi_p = np.array([1, 0, 0, 1]) / SQ2
    phi_m = np.array([1, 0, 0, -1]) / SQ2
    return F * np.outer(phi_p, phi_p) + (1 - F) * np.outer(phi_m, phi_m)


def _random_state(rng):
    G = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    rho = G @ G.conj().T
    return rho / np.trace(rho).real


@pytest.mark.parametrize("F", [0.55, 0.8, 0.95, 1.0])
def test_paper_states_key_setting_is_z(F):
    rho = _bell_diag(F)
    st = protocol_statistics_of_state(rho)
    assert st["S"] == pytest.approx(float(chsh_horodecki(rho)), abs=1e-12)
    assert st["S"] == pytest.approx(2 * math.sqrt(1 + (2 * F - 1) ** 2), abs=1e-12)
    assert st["Q"] == pytest.approx(float(qber_z(rho)), abs=1e-12)
    assert np.allclose(np.abs(st["settings"]["a0"]), [0, 0, 1])


def test_random_states_table_against_bell_module():
    rng = np.random.default_rng(7)
    for _ in range(12):
        rho = _random_state(rng)
        st = protocol_statistics_of_state(rho)
        p = st["table"]
        assert np.all(p >= 0) and np.allclose(p.sum(axis=(0, 1)), 1.0)
        S_tab, Q_tab = statistics_from_table(p)
        assert S_tab == pytest.approx(st["S"], abs=1e-10)
        assert Q_tab == pytest.approx(st["Q"], abs=1e-10)
        assert st["S"] == pytest.approx(float(chsh_horodecki(rho)), abs=1e-10)
        assert st["S"] == pytest.approx(chsh_numerical(rho), abs=1e-7)
        # the aligned key setting does at least as well as the fixed z basis of qber_z
        assert st["Q"] <= float(qber_z(rho)) + 1e-12 or st["Q"] <= 1 - float(qber_z(rho))


def test_table_of_a_product_state_has_no_violation():
    up = np.zeros(4)
    up[0] = 1.0
    S, Q = statistics_from_table(correlation_table(np.outer(up, up)))
    assert S <= 2.0 + 1e-12


def test_measured_table_gives_the_same_key_as_its_S_and_Q():
    p = correlation_table(_bell_diag(0.9))
    S, Q = statistics_from_table(p)
    a = finite_key_from_table(1e8, p)
    b = finite_key(1e8, S, Q)
    assert a.key_length_bits == b.key_length_bits


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 2, 2)), -np.ones((2, 2, 2, 3)),
                                 np.full((2, 2, 2, 3), 0.3)])
def test_bad_tables_are_refused(bad):
    with pytest.raises(ParameterError):
        statistics_from_table(bad)


def test_chsh_settings_are_unit_vectors():
    d = chsh_settings(_bell_diag(0.7))
    for v in d.values():
        assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-12)


# -- simulated points -------------------------------------------------------------------
@pytest.mark.parametrize("loss_order,alpha,fields", [
    (0, 0.7, dict(length_km=10.0)),
    (1, 1.2, dict(length_km=10.0, eta_int=0.95, eta_int_placement="lumped")),
    (1, 1.0, dict(length_km=5.0, p_dark=1e-3, usd="linear", decoder="ml")),
])
def test_simulated_statistics_equal_the_product(loss_order, alpha, fields):
    st = protocol_statistics(loss_order, alpha, **fields)
    res = simulate(loss_order, alpha, engine="coherent", **fields)
    assert st["S"] == pytest.approx(res.S, abs=1e-10)
    assert st["R_eg_hz"] == pytest.approx(res.R_eg, rel=1e-12)
    if abs(st["Q"] - res.Q) < 1e-12:  # the key setting is z: the same asymptotic rate
        asym = 1 - binary_entropy(st["Q"]) - chi(st["S"])
        assert max(asym, 0.0) * st["R_eg_hz"] == pytest.approx(res.key_rate, rel=1e-12,
                                                               abs=1e-9)
    assert st["Q"] <= res.Q + 1e-12  # never worse than z


def test_fock_and_coherent_engines_give_the_same_statistics():
    a = protocol_statistics(1, 0.9, length_km=3.0, engine="coherent")
    b = protocol_statistics(1, 0.9, length_km=3.0, engine="fock")
    assert a["S"] == pytest.approx(b["S"], abs=1e-9)
    assert a["Q"] == pytest.approx(b["Q"], abs=1e-9)


def test_time_to_first_key_and_key_after_hours():
    r = finite_key_at(0, 0.7, length_km=10.0, rounds=10 ** 8, hours=0.5)
    assert finite_key(r["min_rounds"], r["S"], r["Q"]).key_length_bits >= 1
    assert r["time_to_first_key_s"] == pytest.approx(r["min_rounds"] / r["R_eg_hz"],
                                                     rel=1e-12)
    assert r["after_hours"]["rounds"] == math.floor(r["R_eg_hz"] * 0.5 * 3600)
    k = r["at_rounds"]["key"]
    assert k.key_length_bits == finite_key(10 ** 8, r["S"], r["Q"]).key_length_bits
    assert r["at_rounds"]["run_time_s"] == pytest.approx(1e8 / r["R_eg_hz"])


def test_a_point_that_cannot_herald_is_refused():
    with pytest.raises(HeraldError):
        protocol_statistics(0, 0.0, length_km=10.0)


@pytest.mark.parametrize("alpha,fields", [(None, dict(code="binomial", binomial_m=2)),
                                          (1.0, dict(code="squeezed-cat", squeezing=0.3))])
def test_other_codes_pass_through_on_the_fock_engine(alpha, fields):
    """A binomial code has no amplitude: alpha is None (given, it is refused)."""
    st = protocol_statistics(1, alpha, length_km=5.0, engine="fock", **fields)
    res = simulate(1, alpha, engine="fock", length_km=5.0, **fields)
    assert st["S"] == pytest.approx(res.S, abs=1e-10)
    assert 0.0 < st["Q"] <= res.Q + 1e-12  # these codes flip bits; aligned <= z basis
    assert st["result"].params.code == fields["code"]


# -- every range checked once, in the API, before any work (issue 23 item 2) -------------

BAD_OPTIONS = [
    (dict(eps_sound=0.0), "eps_sound", "eps_sound = 0 is outside the allowed range (0.0, 1.0)"),
    (dict(eps_sound=1.0), "eps_sound", "eps_sound = 1 is outside"),
    (dict(eps_sound=9 * EPS_HASH), "eps_sound", "is below 10 eps_hash"),
    (dict(eps_completeness=0.0), "eps_completeness", "eps_completeness = 0 is outside"),
    (dict(ec_efficiency=0.5), "ec_efficiency",
     "ec_efficiency = 0.5 is outside the allowed range [1.0, 10.0]"),
    (dict(ec_efficiency=11.0), "ec_efficiency", "ec_efficiency = 11 is outside"),
    (dict(gamma=1.0), "gamma", "gamma = 1 is outside the allowed range (0.0, 1.0)"),
    (dict(gamma=math.nan), "gamma", "gamma = nan is outside"),
    (dict(completeness_sigmas=-1.0), "completeness_sigmas", "completeness_sigmas = -1"),
    (dict(omega_thr=0.8, completeness_sigmas=3.0), "completeness_sigmas", "not both"),
]


@pytest.mark.parametrize("options,field,words", BAD_OPTIONS)
def test_bound_options_refused_with_their_field(options, field, words):
    with pytest.raises(ParameterError) as e:
        check_bound_options(**options)
    assert e.value.field == field and words in str(e.value)
    with pytest.raises(ParameterError) as e:  # the same check inside finite_key
        finite_key(1e6, 2.6, 0.01, **options)
    assert e.value.field == field and words in str(e.value)


def _no_key_point(monkeypatch):
    """finite_key_at's simulation replaced by a point without a key (S < 2), whose
    bound is never evaluated: what is refused there is refused by the argument checks."""
    calls = []

    def stub(*args, **kwargs):
        calls.append(1)
        return {"S": 1.9, "Q": 0.2, "P": 0.1, "R_eg_hz": 100.0, "result": None}

    monkeypatch.setattr(fk_simulator, "protocol_statistics", stub)
    return calls


@pytest.mark.parametrize("kwargs,field", [
    *[(dict(bound_options=o), f) for o, f, _ in BAD_OPTIONS if "eps_" not in f],
    (dict(eps_sound=0.0), "eps_sound"), (dict(eps_completeness=1.0), "eps_completeness"),
    (dict(rounds=0), "rounds"), (dict(rounds=1.5), "rounds"),
    (dict(rounds=2 * MAX_ROUNDS), "rounds"), (dict(hours=-1.0), "hours"),
    (dict(hours=2e6), "hours"), (dict(hours=math.inf), "hours"),
])
def test_finite_key_at_refuses_before_simulating(monkeypatch, kwargs, field):
    """Checked before the simulation and also at a point without a key, where the bound
    (which checks them too) never runs: the command line relies on it."""
    calls = _no_key_point(monkeypatch)
    kw = dict(rounds=10 ** 6)
    kw.update(kwargs)
    with pytest.raises(ParameterError) as e:
        finite_key_at(0, 0.7, **kw)
    assert e.value.field == field and field in str(e.value) and not calls
    # the same call with the default instead runs (through the stub: no key at S < 2)
    kw.pop(next(iter(kwargs)))
    r = finite_key_at(0, 0.7, **(kw or {"rounds": 10}))
    assert calls and r["min_rounds"] is None


@pytest.mark.parametrize("kwargs,field,words", [
    (dict(num_rounds=1), "num_rounds", "num_rounds = 1 is outside the allowed range [2, 400]"),
    (dict(num_rounds=401), "num_rounds", "num_rounds = 401 is outside"),
    (dict(num_rounds=4.5), "num_rounds", "num_rounds = 4.5 is not a whole number"),
    (dict(num_lengths=0), "num_lengths", "num_lengths = 0 is outside the allowed range [1, "),
    (dict(length_max_km=0.0), "length_max_km",
     "length_max_km = 0 km is outside the allowed range (0.0, 10000.0] km"),
    (dict(length_max_km=math.inf), "length_max_km", "length_max_km = inf km is outside"),
    (dict(panels=("fig4z",)), "panels", "panels must be one of"),
    (dict(panels=()), "panels", "panels is empty"),
    (dict(engine="exact"), "engine", "engine must be one of"),
    (dict(gamma=0.0), "gamma", "gamma = 0 is outside"),
    (dict(ec_efficiency=0.0), "ec_efficiency", "ec_efficiency = 0 is outside"),
])
def test_write_outputs_refuses_before_any_work(tmp_path, monkeypatch, kwargs, field, words):
    def no_work(*args, **kwargs):
        raise AssertionError("write_outputs started computing before checking its arguments")

    monkeypatch.setattr(fk_figure, "fig4_points", no_work)
    with pytest.raises(ParameterError) as e:
        check_output_options(**kwargs)
    assert e.value.field == field and words in str(e.value)
    with pytest.raises(ParameterError) as e:
        write_outputs(tmp_path / "out", **kwargs)
    assert e.value.field == field and words in str(e.value)
    assert not (tmp_path / "out").exists()


def test_run_time_labels_cover_no_curve(monkeypatch):
    """The "1 min", "1 h", "1 day" labels of run_time_vs_distance sit on their lines where
    their box covers no curve, marker or legend (the "1 day" label of panel (c) was
    crossed by the l = 1 curve, which starts at 1.1e5 s: just above the line at 86400 s).
    Checked by sampling every curve densely in display coordinates."""
    import xarray as xr

    L = np.arange(5.0, 61.0, 5.0)
    # panel (c)'s shape: l = 1 starts just above 1 day, l = 0 just above 1 h
    t = np.stack([6.2e3 * np.exp(0.07 * (L - 5)), 1.1e5 * np.exp(0.11 * (L - 5))])
    ds = xr.Dataset({"run_time_s": (("panel", "loss_order", "length_km"), t[None])},
                    coords={"panel": ["fig4c"], "loss_order": [0, 1], "length_km": L},
                    attrs={"eps_sound": 1e-10})
    figs = []
    monkeypatch.setattr(fk_figure, "_save", lambda plt, fig, stem: figs.append(fig) or [])
    fk_figure.plot_run_time(ds, "unused")
    fig = figs[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = {t.get_text(): t for t in ax.texts}
    assert set(labels) == {"1 min", "1 h", "1 day"}
    curves = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    assert len(curves) == 2
    for name, text in labels.items():
        box = text.get_window_extent(renderer)
        for ln in curves:
            xy = ln.get_transform().transform(ln.get_xydata())
            s = np.linspace(0.0, 1.0, 200)[:, None]
            dense = np.concatenate([a + s * (b - a) for a, b in zip(xy[:-1], xy[1:],
                                                                     strict=True)])
            r = ln.get_markersize() * fig.dpi / 72.0 / 2.0
            for pts, grow in ((dense, 0.0), (xy, r)):
                inside = ((pts[:, 0] >= box.x0 - grow) & (pts[:, 0] <= box.x1 + grow)
                          & (pts[:, 1] >= box.y0 - grow) & (pts[:, 1] <= box.y1 + grow))
                assert not inside.any(), (name, ln.get_label())
        assert not box.overlaps(ax.get_legend().get_window_extent(renderer)), name
        # on its own line: the box touches the line's height
        sec = {"1 min": 60.0, "1 h": 3600.0, "1 day": 86400.0}[name]
        y = ax.transData.transform((1.0, sec))[1]
        assert box.y0 - 3 <= y <= box.y1 + 3, name
    import matplotlib.pyplot as plt

    plt.close(fig)
