"""Which code wins (catbell_qutip.codecompare, ``catbell codes``).

What is checked, each against an independent route:

- the optimisers optimise: golden-section search finds the maxima of closed-form functions;
  the cat code's key-optimal alpha for l = 0 equals a dense scan of the docs/model.md 5
  closed forms; every family's optimum is at least its value at fixed parameters computed
  by single-point ``simulate`` calls; the squeezed cat's optimum is at least the cat's
  (r = 0 is the cat code, whose squeezed-cat form equals the cat to 1e-9);
- the binomial code's M equals the brute-force maximum over M = 0..4 of ``simulate`` key
  rates; at the common rate, the M of largest S among those whose R_eg reaches it;
- ``catbell codes --quick`` end to end in a temporary folder: every file, the netCDF loads,
  no NaN in the JSON; every stored key rate and S is what ``simulate`` gives at the stored
  parameters (so the sharing of points of equal channel transmission is exact); the
  squeezed cat never below the cat; the binomial code shown only where it reaches the rate;
- bad input: exit code 2 and one line.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from catbell_qutip._checks import ParameterError
from catbell_qutip.api import simulate
from catbell_qutip.cli import main
from catbell_qutip.codecompare import (
    binomial_at_rate,
    compare_codes,
    golden_max,
    key_fields,
    map_axes,
    optimise_binomial_key,
    optimise_cat_key,
    optimise_squeezed_key,
    point_values,
    rate_fields,
    squeezed_at_rate,
)
from catbell_qutip.codecompare.optimise import cat_at_rate
from catbell_qutip.codecompare.report import _pct
from catbell_qutip.formulas import key_rate
from catbell_qutip.params import C_FIBRE_M_PER_S

RATE = 3000.0
#: absolute slack on a key fraction (bit per attempt) between the engines: rounding leaves
#: Q ~ 1e-14 on the Fock engine where the coherent engine has 0, and h(Q) ~ 5e-13 there
F_SLACK = 1e-11


def _sim(l, fields, engine="fock", **code):
    """One point through the scalar API, the independent route to the batched optimisers."""
    return simulate(l, engine=engine, **code, **fields)


def _code(fam, p) -> dict:
    """simulate() arguments of a stored optimum ``p`` of family ``fam``."""
    if fam == "binomial":
        return {"code": "binomial", "binomial_m": int(p.binomial_m)}
    if fam == "squeezed-cat":
        return {"code": "squeezed-cat", "alpha": float(p.alpha), "squeezing": float(p.squeezing)}
    return {"alpha": float(p.alpha), "engine": "coherent"}


def test_golden_max_finds_closed_form_maxima_and_keeps_the_start():
    lo, hi = np.array([0.0, -1.0, 0.0]), np.array([2.0, 1.0, 1.0])
    x, f = golden_max(lambda x: -np.abs(x - np.array([1.3, -0.2, 0.95])), lo, hi, 40)
    assert np.allclose(x, [1.3, -0.2, 0.95], atol=1e-7)
    # a start better than anything in the bracket is kept
    x, f = golden_max(lambda x: -(x - 0.5) ** 2, np.zeros(1), np.ones(1), 10,
                      x0=np.array([0.5]), f0=np.array([1.0]))
    assert x[0] == 0.5 and f[0] == 1.0


def test_cat_key_optimum_is_the_closed_form_optimum():
    """l = 0, channel loss only: P = 1 - exp(-2 eta a^2), F = (1 + exp(-2 (1 - eta) a^2)) / 2
    (docs/model.md 5), maximised on a dense grid of alpha."""
    L = np.array([5.0, 30.0, 80.0])
    fields = dict(key_fields("channel"), length_km=L)
    fields.pop("eta_c")
    r = optimise_cat_key(0, fields)
    eta = 10 ** (-0.02 * L)
    a = np.linspace(0.01, 4.0, 40001)[:, None]
    P = 1 - np.exp(-2 * eta[None, :] * a ** 2)
    F = (1 + np.exp(-2 * (1 - eta[None, :]) * a ** 2)) / 2
    f = np.asarray(key_rate(P, 2 * np.sqrt(1 + (2 * F - 1) ** 2), 0.0))
    i = f.argmax(axis=0)
    assert np.allclose(r["f"], f.max(axis=0), rtol=1e-7)
    assert np.allclose(r["alpha"], a[i, 0], atol=2e-3)


def test_cat_key_optimum_l3_is_the_dense_scan_maximum():
    """l = 3 has two maxima in alpha (at 17.5 km the higher one is near alpha = 3.2): the
    optimiser's value is the maximum of a dense brute-force scan of the coherent engine,
    its alpha that scan's argmax."""
    fields = {k: v for k, v in key_fields("channel").items() if k != "eta_c"}
    L = np.array([5.0, 17.5, 30.0])
    r = optimise_cat_key(3, dict(fields, length_km=L))
    a = np.linspace(0.01, 4.0, 800)
    f = np.broadcast_to(point_values(3, "cat", dict(fields, length_km=L[None, :]),
                                     alpha=a[:, None])["f"], (a.size, L.size))
    assert np.all(r["f"] >= f.max(axis=0) * (1 - 1e-9))
    # and it is a value the engine gives at the returned alpha (not a bookkeeping artefact)
    again = point_values(3, "cat", dict(fields, length_km=L), alpha=r["alpha"])["f"]
    assert np.allclose(r["f"], again, rtol=1e-12)
    assert np.allclose(r["alpha"], a[f.argmax(axis=0)], atol=0.02)
    assert r["alpha"][1] > 3.0  # the second maximum is the one found


def test_squeezed_optimum_is_not_below_a_dense_grid():
    """l = 3, channel loss only: at 5 km the best squeezing is negative (phase-squeezed), at
    12.5 km positive; the optimiser reaches the best point of a dense (alpha, r) grid of the
    Fock engine (brute force, no search) at both."""
    fields = {k: v for k, v in key_fields("channel").items() if k != "eta_c"}
    L = np.array([5.0, 12.5])
    cat = optimise_cat_key(3, dict(fields, length_km=L))
    sq = optimise_squeezed_key(3, dict(fields, length_km=L), cat["alpha"])
    A, R = np.meshgrid(np.linspace(1.2, 3.2, 21), np.linspace(-0.6, 0.6, 13), indexing="ij")
    A, R = A.ravel()[:, None], R.ravel()[:, None]
    f = np.broadcast_to(point_values(3, "squeezed-cat", dict(fields, length_km=L[None, :]),
                                     alpha=A, squeezing=R)["f"], (A.size, L.size))
    best = f.argmax(axis=0)
    assert R[best[0], 0] < 0 < R[best[1], 0]  # the grid itself: both signs of r matter
    assert np.all(sq["f"] >= f.max(axis=0) * (1 - 1e-9))
    assert np.all(sq["f"] > cat["f"] * 1.05)  # and squeezing pays here (> 5 %)


POINTS = [dict(length_km=10.0), dict(length_km=40.0, eta_c=0.3)]


@pytest.mark.parametrize("l", [0, 1, 3])
def test_squeezed_optimum_beats_fixed_parameters_and_the_cat(l):
    fields = {k: v for k, v in key_fields("channel").items() if k != "eta_c"}
    batch = dict(fields, length_km=np.array([p["length_km"] for p in POINTS]),
                 eta_c=np.array([p.get("eta_c", 1.0) for p in POINTS]))
    cat = optimise_cat_key(l, batch)
    sq = optimise_squeezed_key(l, batch, cat["alpha"])
    for i, p in enumerate(POINTS):
        pf = dict(fields, **p)
        T = max(p["length_km"] * 1e3 / C_FIBRE_M_PER_S, fields["t0_s"])
        # the stored optimum is what simulate gives there
        k_sq = _sim(l, pf, code="squeezed-cat", alpha=sq["alpha"][i],
                    squeezing=sq["squeezing"][i]).key_rate
        assert k_sq == pytest.approx(sq["f"][i] / T, rel=1e-9)
        # r = 0 is the cat code: the optimum is not below the cat's
        k_cat = _sim(l, pf, alpha=cat["alpha"][i]).key_rate
        assert k_sq >= k_cat * (1 - 1e-9) - F_SLACK / T
        # nor below any fixed (alpha, r) near it
        for da, r in ((0.0, 0.15), (-0.1, 0.0), (0.1, -0.1), (0.0, 0.5)):
            a = max(sq["alpha"][i] + da, 0.05)
            k = _sim(l, pf, code="squeezed-cat", alpha=a, squeezing=r).key_rate or 0.0
            assert sq["f"][i] / T >= k * (1 - 1e-9) - F_SLACK / T


def test_squeezed_cat_at_r_zero_is_the_cat():
    """P, F, S agree to 1e-9; the key fraction is compared with an absolute slack: near
    S = 2 and Q = 0 it is ill-conditioned (chi and h have infinite slopes there), and the
    Fock engine's Q of ~1e-14 (rounding) against the coherent engine's 0 moves it by
    P h(Q) ~ 1e-13 bit."""
    f = dict(key_fields("table1"), length_km=np.array([3.0, 20.0]))
    a = np.array([0.7, 2.1])
    for l in (0, 3):
        sq = point_values(l, "squeezed-cat", f, alpha=a, squeezing=0.0)
        cat = point_values(l, "cat", f, alpha=a)
        for k in ("P", "F", "S"):
            assert np.allclose(sq[k], cat[k], rtol=1e-9, atol=0), k
        assert np.allclose(sq["f"], cat["f"], rtol=1e-9, atol=F_SLACK)


@pytest.mark.parametrize("setting", ["channel", "table1"])
def test_binomial_m_is_the_brute_force_maximum(setting):
    fields = key_fields(setting)
    L = np.array([0.0, 2.0, 10.0, 30.0])
    for l in (0, 1, 3):
        r = optimise_binomial_key(l, dict(fields, length_km=L))
        for i, x in enumerate(L):
            k = [(_sim(l, dict(fields, length_km=x), code="binomial", binomial_m=m).key_rate
                  or 0.0) for m in range(5)]
            T = max(x * 1e3 / C_FIBRE_M_PER_S, fields["t0_s"])
            assert r["f"][i] / T == pytest.approx(max(k), rel=1e-9, abs=1e-300)
            if max(k) > 0:
                assert r["binomial_m"][i] == int(np.argmax(k))


def test_binomial_at_rate_is_the_brute_force_choice():
    fields = rate_fields()
    L = np.array([2.0, 9.0, 14.0, 30.0])
    for l in (1, 3):
        r = binomial_at_rate(l, RATE, dict(fields, length_km=L))
        for i, x in enumerate(L):
            best = None
            for m in range(5):
                s = _sim(l, dict(fields, length_km=x), code="binomial", binomial_m=m)
                if s.R_eg >= RATE and (best is None or s.S > best[1]):
                    best = (m, s.S, s.R_eg)
            if best is None:
                assert r["binomial_m"][i] == -1 and np.isnan(r["S"][i])
            else:
                assert r["binomial_m"][i] == best[0]
                assert r["S"][i] == pytest.approx(best[1], rel=1e-10)
                assert r["R_eg"][i] == pytest.approx(best[2], rel=1e-10)


def test_squeezed_at_rate_reaches_the_rate_and_beats_the_cat():
    fields = dict(rate_fields(), length_km=np.array([5.0, 14.0]))
    sq = squeezed_at_rate(0, RATE, fields, n_r=5, n_golden=4)
    cat = cat_at_rate(0, RATE, fields)
    assert np.allclose(sq["R_eg"], RATE, rtol=1e-8)
    assert np.all(sq["S"] >= cat["S"] - 1e-9)
    for i, x in enumerate(fields["length_km"]):
        s = _sim(0, dict(rate_fields(), length_km=x), code="squeezed-cat",
                 alpha=sq["alpha"][i], squeezing=sq["squeezing"][i])
        assert s.R_eg == pytest.approx(RATE, rel=1e-8) and s.S == pytest.approx(sq["S"][i],
                                                                                rel=1e-9)


# -- the command, end to end ------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("codes") / "out"
    rc = main(["codes", "--quick", "--out", str(out), "--workers", "1", "--json",
               "--no-progress"])
    assert rc == 0
    return out


def test_cli_quick_writes_every_file(quick_run):
    for stem in ("codes_key_rate", "codes_S_at_rate", "codes_map"):
        for ext in (".nc", ".csv", ".png", ".pdf"):
            assert (quick_run / (stem + ext)).stat().st_size > 0

    def no_constants(c):
        raise AssertionError(f"JSON holds {c}")

    summary = json.loads((quick_run / "summary.json").read_text(), parse_constant=no_constants)
    assert summary["answer"] and set(summary["key_rate"]) == {"channel", "table1"}
    assert summary["run"]["quick"] is True
    # channel transmissions are in (0, 1]; the squeezed cat (r = 0 included) is never below
    # the cat code, so its gain range at L > 0 starts at >= 0 (to rounding)
    for lab, (lo, hi) in summary["map"]["winner_transmission_range"].items():
        assert 0 < lo <= hi <= 1 + 1e-12, lab
    for per_l in summary["key_rate"].values():
        for e in per_l.values():
            g = e["squeezed-cat_gain_range_L_gt_0"]
            assert g is None or g[0] >= -1e-9
    from PIL import Image

    with Image.open(quick_run / "codes_map.png") as im:
        assert round(im.info["dpi"][0]) == 300
    ds = xr.load_dataset(quick_run / "codes_key_rate.nc")
    assert ds.key_rate.attrs["units"] == "bit/s" and list(ds.family.values) == [
        "cat", "squeezed-cat", "binomial"]


def test_stored_key_rates_are_what_simulate_gives(quick_run):
    """Curve and map values at the stored parameters, recomputed point by point: also checks
    that points of equal channel transmission may share an optimisation."""
    ds = xr.load_dataset(quick_run / "codes_key_rate.nc")
    rng = np.random.default_rng(5)
    for s in ("channel", "table1"):
        fields = key_fields(s)
        for l in (0, 1, 3):
            for fam in ("cat", "squeezed-cat", "binomial"):
                d = ds.sel(setting=s, loss_order=l, family=fam)
                for i in rng.choice(d.length_km.size, 2, replace=False):
                    p = d.isel(length_km=i)
                    x = float(p.length_km)
                    T = max(x * 1e3 / C_FIBRE_M_PER_S, fields["t0_s"])
                    k = _sim(l, dict(fields, length_km=x), **_code(fam, p)).key_rate or 0.0
                    assert float(p.key_rate) == pytest.approx(k, rel=1e-8, abs=F_SLACK / T)
    m = xr.load_dataset(quick_run / "codes_map.nc")
    fields = {k: v for k, v in key_fields("channel").items() if k != "eta_c"}
    for i, j in ((1, 0), (2, 3), (4, 1), (3, 3)):
        cell = m.isel(length_km=i, eta_c=j)
        f = dict(fields, length_km=float(cell.length_km), eta_c=float(cell.eta_c))
        T = max(f["length_km"] * 1e3 / C_FIBRE_M_PER_S, fields["t0_s"])
        for l, fam in ((0, "squeezed-cat"), (3, "cat"), (1, "binomial")):
            p = cell.sel(loss_order=l, family=fam)
            k = _sim(l, f, **_code(fam, p)).key_rate or 0.0
            assert float(p.key_rate) == pytest.approx(k, rel=1e-8, abs=F_SLACK / T)
        # the winner is the best code (ties within 0.1 % go to the cat code)
        K = cell.key_rate.transpose("family", "loss_order").values.ravel()
        w = int(cell.winner)
        assert K[w] >= np.nanmax(K) * (1 - 1e-3)


def test_squeezed_never_below_cat_and_binomial_only_where_it_reaches(quick_run):
    ds = xr.load_dataset(quick_run / "codes_key_rate.nc")
    cat = ds.key_fraction.sel(family="cat").values
    sq = ds.key_fraction.sel(family="squeezed-cat").values
    assert np.all(sq >= cat * (1 - 1e-9) - F_SLACK)
    r = xr.load_dataset(quick_run / "codes_S_at_rate.nc")
    assert np.all(r.S.sel(family="squeezed-cat").values
                  >= r.S.sel(family="cat").values - 1e-9)
    b = r.sel(family="binomial")
    shown = b.binomial_m.values >= 0
    assert np.all(b.R_eg.values[shown] >= RATE) and np.all(np.isnan(b.S.values[~shown]))
    assert np.allclose(r.R_eg.sel(family="cat").values, RATE, rtol=1e-8)


def test_map_lattice_has_one_transmission_per_diagonal():
    L, c = map_axes({"map_length_km": (0.0, 20.0, 5), "map_n_eta": 4}, 0.2)
    eta = c[None, :] * 10 ** (-0.02 * L[:, None])
    assert np.unique(np.round(np.log(eta), 10)).size == L.size + c.size - 1


@pytest.mark.parametrize("argv,fragment", [
    ([], "give --out DIR"),
    (["--out", ""], "--out is empty"),
    (["--out", "OUTFILE"], "is an existing file"),
    (["--out", "o", "--workers", "0"], "--workers: must be >= 1"),
    (["--out", "o", "--workers", "two"], "not an integer"),
    (["--out", "o", "--alpha", "1"], "unrecognized arguments: --alpha 1"),
])
def test_bad_input_exits_2_with_one_line(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "OUTFILE").write_text("x")
    try:
        rc = main(["codes", "--no-progress", *argv]) if argv else main(["codes"])
    except SystemExit as exc:  # argparse refuses a flag value itself
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("workers,words", [
    (0, "workers = 0 is outside the allowed range [1, inf)"),
    (1.5, "workers must be an integer, got 1.5"),  # was truncated to 1 silently
])
def test_compare_codes_refuses_bad_workers_with_its_field(workers, words):
    with pytest.raises(ParameterError) as e:
        compare_codes(quick=True, workers=workers)
    assert e.value.field == "workers" and str(e.value) == words


@pytest.mark.parametrize("gain", [-3e-5, 4e-4, -0.0012, 0.4, -0.12])
def test_a_small_gain_is_not_printed_as_zero(gain):
    # "-0.0 % to +0.0 %" in the codes --quick printout (new-user finding): the printed gain
    # keeps its sign and is within rounding of the value
    text = _pct(gain)
    value = float(text.rstrip(" %"))
    assert text[0] == ("-" if gain < 0 else "+") and value != 0.0
    assert value == pytest.approx(100 * gain, rel=0.15, abs=0.05)
