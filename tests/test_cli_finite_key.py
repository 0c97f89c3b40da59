"""``catbell finite-key``: the three modes end to end, JSON without NaN, bad input exits 2
with the flag named on one line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

from catbell_qutip.cli import main
from catbell_qutip.finitekey import finite_key
from catbell_qutip.formulas import binary_entropy, chi


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_measured_statistics_json(capsys):
    d = _json(capsys, ["finite-key", "--S", "2.677", "--Q", "0.0144", "--rounds", "1.5e6",
                       "--json"])
    r = finite_key(1500000, 2.677, 0.0144)
    assert d["key_length_bits"] == r.key_length_bits > 0
    assert d["key_per_round"] == pytest.approx(r.key_length_bits / 1.5e6)
    # exactly 1 - h(Q) - chi(S) of the formulas module
    assert d["asymptotic_key_per_round"] == 1 - binary_entropy(0.0144) - chi(2.677)
    assert d["inputs"]["eps_sound"] == 1e-10 and d["params"]["gamma"] > 0


def test_measured_statistics_table_names_its_inputs(capsys):
    assert main(["finite-key", "--S", "2.677", "--Q", "0.0144", "--rounds", "1.5e6"]) == 0
    out = capsys.readouterr().out
    for word in ("secure key", "eps_sound", "eps_completeness", "EC efficiency",
                 "test fraction gamma", "threshold omega_thr", "syndrome length"):
        assert word in out


def test_simulated_point_json(capsys):
    d = _json(capsys, ["finite-key", "--loss-order", "0", "--alpha", "0.7", "--length-km",
                       "10", "--rounds", "1e9", "--hours", "1", "--json"])
    assert d["mode"] == "simulated" and d["rounds"] == 10 ** 9
    assert d["key_length_bits"] > 0 and d["key_per_round"] < d["asymptotic_key_per_round"]
    assert d["time_to_first_key_s"] == pytest.approx(d["min_rounds"] / d["R_eg_hz"])
    assert d["after_hours"]["rounds"] == math.floor(d["R_eg_hz"] * 3600)
    assert d["asymptotic_key_per_round"] == pytest.approx(
        1 - binary_entropy(d["Q"]) - chi(d["S"]), abs=1e-15)


def test_simulated_point_without_key_has_no_nan(capsys):
    # a 0.1 ms memory over 40 km dephases the pair almost fully: S - 2 ~ 3e-8, an
    # asymptotic rate ~ 2e-8 bit per round, no key within 1e18 rounds
    assert main(["finite-key", "--loss-order", "0", "--alpha", "2", "--length-km", "40",
                 "--t-c", "1e-4", "--rounds", "1e6", "--json"]) == 0
    text = capsys.readouterr().out
    d = json.loads(text)
    assert "NaN" not in text and "Infinity" not in text
    assert d["S"] < 2.0 + 1e-6 and d["asymptotic_key_per_round"] < 1e-7
    assert d["key_length_bits"] == 0 and d["min_rounds"] is None
    assert d["time_to_first_key_s"] is None


@pytest.mark.parametrize("argv,flag", [
    (["--S", "3", "--Q", "0.01", "--rounds", "1e6"], "--S"),
    (["--S", "2", "--Q", "0.01", "--rounds", "1e6"], "--S"),
    (["--S", "nan", "--Q", "0.01", "--rounds", "1e6"], "--S"),
    (["--S", "2.6", "--Q", "0.6", "--rounds", "1e6"], "--Q"),
    (["--S", "2.6", "--Q", "-0.1", "--rounds", "1e6"], "--Q"),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "0"], "--rounds"),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "1.5"], "--rounds"),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "abc"], "--rounds"),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "1e6", "--eps-sound", "0"], "--eps-sound"),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "1e6", "--eps-sound", "1"], "--eps-sound"),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "1e6", "--eps-completeness", "2"],
     "--eps-completeness"),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "1e6", "--ec-efficiency", "0.5"],
     "--ec-efficiency"),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "1e6", "--gamma", "1"], "--gamma"),
    (["--S", "2.6", "--Q", "0.01"], "--rounds"),
    (["--S", "2.6", "--rounds", "1e6"], "--Q"),
    (["--loss-order", "0", "--alpha", "0", "--length-km", "10", "--rounds", "1e6"],
     "--alpha"),
    (["--loss-order", "0", "--alpha", "0.7", "--length-km", "10"], "--rounds"),
    (["--loss-order", "0", "--alpha", "0.7", "--rounds", "1e6", "--hours", "-1"],
     "--hours"),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "1e6", "--alpha", "1"], "--S"),
    ([], "--out"),
])
def test_bad_input_exits_2_naming_the_flag(capsys, argv, flag):
    assert main(["finite-key", *argv]) == 2
    err = capsys.readouterr().err
    assert flag in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


MEASURED = ["--S", "2.6", "--Q", "0.01", "--rounds", "1e6"]
SIMULATED = ["--loss-order", "0", "--alpha", "0.7", "--rounds", "1e6"]


@pytest.mark.parametrize("argv,words,api_name", [
    (["--S", "3", "--Q", "0.01", "--rounds", "1e6"],
     "--S = 3 is outside the allowed range (2.0, 2.8284271247461903]", None),
    (["--S", "abc", "--Q", "0.01", "--rounds", "1e6"], "--S must be a number, got 'abc'", None),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "2e18"],
     "--rounds = 2e+18 is outside the allowed range [1, 1e+18]", None),
    (["--S", "2.6", "--Q", "0.01", "--rounds", "1.5"],
     "--rounds = 1.5 is not a whole number: give a number of rounds as an integer", None),
    (MEASURED + ["--eps-sound", "1e-18"], "--eps-sound = 1e-18 is below 10 eps_hash",
     "eps_sound"),
    (MEASURED + ["--eps-completeness", "1"],
     "--eps-completeness = 1 is outside the allowed range (0.0, 1.0)", "eps_completeness"),
    (MEASURED + ["--ec-efficiency", "0.5"],
     "--ec-efficiency = 0.5 is outside the allowed range [1.0, 10.0]", "ec_efficiency"),
    (SIMULATED + ["--gamma", "0"], "--gamma = 0 is outside the allowed range (0.0, 1.0)",
     None),
    (SIMULATED + ["--ec-efficiency", "11"], "--ec-efficiency = 11 is outside", "ec_efficiency"),
    (SIMULATED + ["--hours", "2e6"],
     "--hours = 2e+06 h is outside the allowed range (0.0, 1000000.0] h", None),
    (["--loss-order", "0", "--alpha", "0.7", "--rounds", "2e18"], "--rounds = 2e+18 is outside",
     None),
    (["--num-rounds", "1"], "--num-rounds = 1 is outside the allowed range [2, 400]",
     "num_rounds"),
    (["--num-rounds", "12.5"], "--num-rounds = 12.5 is not a whole number", "num_rounds"),
    (["--num-rounds", "x"], "--num-rounds must be a number, got 'x'", "num_rounds"),
    (["--num-lengths", "401"], "--num-lengths = 401 is outside the allowed range [1, 400]",
     "num_lengths"),
    (["--length-max-km", "-1"],
     "--length-max-km = -1 km is outside the allowed range (0.0, 10000.0] km", "length_max_km"),
    (["--gamma", "2"], "--gamma = 2 is outside the allowed range (0.0, 1.0)", None),
    (["--eps-sound", "inf"], "--eps-sound = inf is outside", "eps_sound"),
])
def test_bad_value_names_flag_value_and_range_before_any_work(tmp_path, capsys, argv, words,
                                                              api_name):
    """The API checks the range (tests/test_finitekey.py), the command line only parses
    and translates: the flag, the value and the allowed range on one line, exit code 2,
    nothing written (checked before any work)."""
    out = tmp_path / "fk"
    if "--S" not in argv and "--loss-order" not in argv:  # the figures' flags need --out
        argv = ["--out", str(out), "--no-progress", *argv]
    assert main(["finite-key", *argv]) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert cap.out == "" and len(lines) == 1 and "Traceback" not in cap.err
    assert lines[0].startswith("catbell finite-key: error: ") and words in lines[0]
    assert api_name is None or api_name not in lines[0]
    assert not out.exists()


def test_out_writes_figures_and_data(tmp_path, capsys):
    out = tmp_path / "fk"
    d = _json(capsys, ["finite-key", "--out", str(out), "--panels", "fig4a",
                       "--num-rounds", "3", "--num-lengths", "1", "--length-max-km", "10",
                       "--no-progress", "--json"])
    names = set(d["out"]["files"])
    for stem in ("key_vs_rounds", "run_time_vs_distance"):
        for ext in (".png", ".pdf", ".nc", ".csv"):
            assert stem + ext in names and (out / (stem + ext)).stat().st_size > 0
    ds = xr.load_dataset(out / "key_vs_rounds.nc")
    assert ds.sizes["point"] == 2 and ds.sizes["rounds"] == 3
    # every key below its asymptotic rate; the 4(a) points at 10 km have a key
    k, a = ds["key_per_round"].values, ds["asymptotic_key_per_round"].values[:, None]
    assert np.all(k[np.isfinite(k)] <= a.repeat(3, axis=1)[np.isfinite(k)])
    t = xr.load_dataset(out / "run_time_vs_distance.nc")
    r = t["run_time_s"].sel(panel="fig4a", loss_order=0, length_km=10.0).item()
    assert r == pytest.approx(t["min_rounds"].sel(panel="fig4a", loss_order=0).item()
                              / t["R_eg_hz"].sel(panel="fig4a", loss_order=0).item())
    assert "NaN" not in json.dumps(d, allow_nan=False)


def test_out_refuses_a_file(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["finite-key", "--out", str(f)]) == 2
    assert "--out" in capsys.readouterr().err
