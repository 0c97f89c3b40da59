"""Maps of the winning code (catbell_qutip.advantage, ``catbell advantage``).

What is checked, each against an independent route: along eta_c = 1 the l = 0 / l = 1
boundary sits at the one-at-a-time eta_int threshold of catbell_qutip.thresholds (same
encoder, placement, decoder), to the grid spacing; the winner and its margin at single
points equal the argmax of S from scalar solve_at_rate calls; the per-record ml decoder never
lowers S and does not move alpha (P does not depend on Bob's correction); the process
pool and the sweep machinery give the same map as this process; the netCDF round-trips; the
CLI writes its files and refuses bad input with exit 2 and one line.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from catbell_qutip.advantage import advantage_map, repro_settings, winner
from catbell_qutip.cli import main
from catbell_qutip.rates import solve_at_rate
from catbell_qutip.thresholds import threshold


def test_winner_and_margin_rules():
    S = np.array([[2.5, np.nan, 2.1], [2.6, 2.2, np.nan]])
    best, margin = winner(S, [0, 1])
    assert best.tolist() == [1, 1, 0]
    assert np.allclose(margin[:1], [0.1]) and np.isnan(margin[1]) and np.isnan(margin[2])
    K = np.array([[0.0, 5.0, np.nan], [0.0, np.nan, 0.0]])
    best, margin = winner(K, [0, 3], key=True)
    assert best.tolist() == [-1, 0, -1]
    assert margin[1] == 5.0 and np.isnan(margin[0])


@pytest.mark.parametrize("decoder,placement", [("smallest-loss", "after"), ("ml", "before")])
def test_boundary_along_eta_c_1_is_the_eta_int_threshold(decoder, placement):
    encoder = repro_settings()["encoder"]
    th = threshold("eta_int", 1, encoder=encoder, decoder=decoder,
                   eta_int_placement=placement, n_grid=12).value
    assert th is not None
    x = np.linspace(th - 0.03, min(th + 0.03, 1.0), 9)
    ds = advantage_map(("eta_int", x), ("eta_c", [0.9, 1.0]), loss_orders=(0, 1),
                       decoder=decoder, eta_int_placement=placement, encoder=encoder,
                       processes=1, n_key_alpha=4, thresholds=False)
    w = ds["winner_S"].sel(eta_c=1.0).values
    changes = np.nonzero(w[:-1] != w[1:])[0]
    assert changes.size == 1 and w[0] == 0 and w[-1] == 1
    i = changes[0]
    assert x[i] <= th <= x[i + 1]


def test_winner_is_the_argmax_of_pointwise_S():
    fields = dict(length_km=5.0, encoder="explicit", decoder="ml", eta_int_placement="after")
    xs, ys = [0.96, 0.995], [0.6, 1.0]
    ds = advantage_map(("eta_int", xs), ("eta_c", ys), loss_orders=(0, 1, 3), processes=1,
                       n_key_alpha=4, thresholds=False, **fields)
    for a in xs:
        for c in ys:
            S = {l: float(solve_at_rate(l, 3000.0, eta_int=a, eta_c=c, **fields)["S"])
                 for l in (0, 1, 3)}
            order = sorted(S, key=S.get, reverse=True)
            pt = ds.sel(eta_int=a, eta_c=c)
            assert int(pt["winner_S"]) == order[0]
            assert abs(float(pt["margin_S"]) - (S[order[0]] - S[order[1]])) < 1e-9
            for l in (0, 1, 3):
                assert abs(float(pt["S"].sel(loss_order=l)) - S[l]) < 1e-9
    edge = np.nan_to_num(ds["alpha_key_opt"].values) >= 3.0 - 1e-12   # the grid's last alpha
    assert np.array_equal(ds["key_alpha_at_edge"].values == 1, edge)
    for q in ("S", "key_rate_at_rate", "key_rate_opt"):
        m = ds[f"margin_{q}"].values
        assert np.all(m[np.isfinite(m)] >= 0)
        assert set(np.unique(ds[f"winner_{q}"].values)) <= {-1, 0, 1, 3}


def test_ml_never_lowers_S_and_keeps_alpha():
    kw = dict(loss_orders=(0, 1, 3), processes=1, n_key_alpha=4, thresholds=False)
    axes = (("eta_int", [0.9, 0.97, 1.0]), ("length_km", [2.0, 8.0]))
    sl = advantage_map(*axes, decoder="smallest-loss", **kw)
    ml = advantage_map(*axes, decoder="ml", **kw)
    assert np.allclose(ml["alpha_at_rate"], sl["alpha_at_rate"], rtol=0, atol=1e-12,
                       equal_nan=True)
    ok = np.isfinite(sl["S"].values)
    assert np.all(ml["S"].values[ok] >= sl["S"].values[ok] - 1e-12)


def test_pool_and_sweep_paths_agree_with_this_process():
    axes = (("rate_hz", [1000.0, 3000.0, 1e4]), ("eta_c", np.linspace(0.5, 1.0, 22)))
    kw = dict(loss_orders=(0, 1), n_key_alpha=6, thresholds=False, decoder="ml")
    here = advantage_map(*axes, processes=1, **kw)
    pool = advantage_map(*axes, processes=2, **kw)
    swept = advantage_map(("rate_hz", [1000.0, 3000.0]), ("eta_c", [0.5, 1.0]), workers=1,
                          **kw)
    for k in here.data_vars:
        np.testing.assert_allclose(pool[k].values, here[k].values, rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            swept[k].values, here[k].sel(rate_hz=[1000.0, 3000.0],
                                         eta_c=[0.5, 1.0]).values, rtol=0, atol=1e-9)
    # the alpha-optimised key rate does not depend on the rate
    k = here["key_rate_opt"].values
    assert np.allclose(k[:, 0], k[:, 1], equal_nan=True)


def test_netcdf_round_trips(tmp_path):
    ds = advantage_map(("eta_int", [0.95, 1.0]), ("eta_c", [0.7, 1.0]), loss_orders=(0, 1),
                       processes=1, n_key_alpha=4)
    ds.to_netcdf(tmp_path / "m.nc")
    back = xr.load_dataset(tmp_path / "m.nc")
    xr.testing.assert_allclose(back, ds)
    assert back["eta_int"].attrs["units"] == "1" and back["key_rate_opt"].attrs["units"] == "bit/s"
    assert back.attrs["threshold_eta_int_l1"] == ds.attrs["threshold_eta_int_l1"]
    assert back["winner_S"].dims == ("eta_int", "eta_c")


def test_cli_writes_figure_and_netcdf(tmp_path, capsys):
    out = tmp_path / "adv"
    rc = main(["advantage", "--out", str(out), "--x", "eta_int=0.96:1:3", "--y",
               "eta_c=0.6,1", "--loss-orders", "0", "1", "--n-key-alpha", "4",
               "--processes", "1", "--no-progress", "--decoder", "ml",
               "--eta-int-placement", "before"])
    assert rc == 0
    for name in ("advantage_map.png", "advantage_map.pdf", "advantage_map.nc",
                 "advantage_map.csv", "summary.json"):
        assert (out / name).stat().st_size > 0
    ds = xr.load_dataset(out / "advantage_map.nc")
    assert ds.attrs["param_decoder"] == "ml" and ds.attrs["param_eta_int_placement"] == "before"

    def no_constants(c):
        raise AssertionError(f"JSON holds {c}")

    json.loads((out / "summary.json").read_text(), parse_constant=no_constants)
    from PIL import Image

    with Image.open(out / "advantage_map.png") as im:
        assert round(im.info["dpi"][0]) == 300
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("argv,fragment", [
    (["--x", "alpha=0.1:1:3"], "'alpha' is not a parameter a map can vary"),
    (["--x", "loss_order=0,1"], "'loss_order' is not a parameter a map can vary"),
    (["--x", "eta_int=0.5:1.2:5"], "--x axis 'eta_int': value = 1.025 is outside the "
                                   "allowed range"),
    (["--x", "eta_int=nan:1:5"], "--x eta_int=nan:1:5: START and STOP must be finite"),
    (["--x", "eta_int=0.5,nan"], "--x axis 'eta_int': values must be finite numbers"),
    (["--key-alpha-max", "1e4"], "--key-alpha-max = 10000 is outside the allowed range "
                                 "(0.0, 1000.0]"),
    (["--n-key-alpha", "100000000"], "would take about"),
    (["--x", "eta_int=1,0.9"], "values must increase strictly"),
    (["--x", "eta_int"], "give NAME=START:STOP:NUM"),
    (["--x", "eta_c=0.5:1:3"], "the two axes must differ"),
    (["--x", "eta_int=0.9,1", "--eta-int", "0.9"], "--eta-int is given, but 'eta_int' is the x "
                                                   "axis"),
    (["--eta-dc", "0.5"], "--eta-dc is given, but 'eta_c' is the y axis"),
    (["--x", "eta_int=0.9,1", "--y", "eta_c=0.9,1", "--rate-hz", "1e12", "--no-thresholds",
      "--loss-orders", "0", "1"], "no code reaches R_eg = 1e+12 Hz anywhere on the map"),
    (["--rate-hz", "-3"], "--rate-hz = -3 Hz is outside"),
    (["--loss-orders", "2", "1"], "--loss-orders 2: a loss order is of the form"),
    (["--x", "length_km=0,5", "--y", "eta_c=0.9,1"], "give --length-km > 0 or --t0 > 0"),
])
def test_bad_input_exits_2_with_one_line(argv, fragment, capsys, tmp_path):
    rc = main(["advantage", "--out", str(tmp_path / "o"), "--no-progress", *argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_unknown_engine_is_refused_in_the_api():
    """engine is validated with the other arguments, before the time estimate (which looks
    its cost up by engine: a KeyError ('foo', 'tub') otherwise)."""
    from catbell_qutip._checks import ParameterError

    with pytest.raises(ParameterError, match="engine must be one of") as exc:
        advantage_map(("eta_int", [0.9, 1.0]), ("eta_c", [0.9, 1.0]), engine="foo",
                      thresholds=False)
    assert exc.value.field == "engine"


def test_cli_out_defaults_like_the_other_commands(capsys):
    """--out has a default (git-ignored results/advantage, like repeater's
    results/repeater) and --help says so."""
    from catbell_qutip.cli import build_parser

    assert build_parser("advantage").parse_args(["advantage"]).out == "results/advantage"
    with pytest.raises(SystemExit):
        main(["advantage", "--help"])
    assert "default results/advantage" in " ".join(capsys.readouterr().out.split())


def test_cli_thresholds_take_placement_and_decoder(capsys):
    """`catbell thresholds` passes --decoder and --eta-int-placement on, so a map's boundary
    can be compared with it in the same settings."""
    argv = ["thresholds", "--parameters", "eta_int", "--loss-orders", "1", "--grid", "12",
            "--encoder", "explicit", "--json", "--no-progress"]
    assert main(argv + ["--decoder", "ml", "--eta-int-placement", "before"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"]["decoder"] == "ml" and out["model"]["eta_int_placement"] == "before"
    ref = threshold("eta_int", 1, encoder="explicit", decoder="ml",
                    eta_int_placement="before", n_grid=12).value
    assert abs(out["thresholds"][0]["value"] - ref) < 1e-12
    assert main(argv) == 0
    default = json.loads(capsys.readouterr().out)["thresholds"][0]["value"]
    assert abs(default - ref) > 1e-4  # the settings matter, so passing them on is tested


def test_t0_scales_the_alpha_optimised_key_rate_by_the_clock_ratio():
    """R_eg = P / max(L / c_f, t0) (docs/model.md 4): with t0 = 10 L / c_f every key rate on
    the alpha grid is 10 times smaller and the best alpha does not move; at the rate the
    key rate is R (1 - h(Q) - chi(S)) of the map's own S and Q."""
    from catbell_qutip.formulas import key_rate

    L = 5.0
    T = L * 1e3 / 2e8
    kw = dict(loss_orders=(0, 1), processes=1, n_key_alpha=6, thresholds=False,
              length_km=L)
    axes = (("eta_int", [0.95, 1.0]), ("eta_c", [0.8, 1.0]))
    fast = advantage_map(*axes, **kw)
    slow = advantage_map(*axes, t0_s=10 * T, rate_hz=300.0, **kw)
    K0, K1 = fast["key_rate_opt"].values, slow["key_rate_opt"].values
    assert np.all(K0 > 0)
    np.testing.assert_allclose(K1, K0 * T / (10 * T), rtol=1e-12)
    np.testing.assert_array_equal(slow["alpha_key_opt"].values, fast["alpha_key_opt"].values)
    S, Q = slow["S"].values, slow["Q"].values
    np.testing.assert_allclose(slow["key_rate_at_rate"].values, key_rate(300.0, S, Q),
                               rtol=1e-8)  # the solver reaches the rate to 1e-9
