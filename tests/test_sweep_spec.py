"""The sweep spec (catbell_qutip/sweep/spec.py, grid.py): parameter facts from PARAM_INFO,
errors keyed by ParameterError.field, required keys, and size guards before any work.

Expected values come from :func:`catbell_qutip.evaluate` called directly, never from the
sweep itself.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import tol

import catbell_qutip as cb
from catbell_qutip._checks import MEMORY_LIMIT_ENV, MemoryLimitError
from catbell_qutip.cli import main
from catbell_qutip.params import ALPHA_CODES, PARAM_INFO
from catbell_qutip.sweep import SweepSpec, sweep


def run_main(tmp_path, text: str, capsys, *extra) -> tuple[int, str, str]:
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    code = main(["sweep", str(spec), "--out", str(tmp_path / "s.zarr"), "--no-progress",
                 "--workers", "1", *extra])
    out, err = capsys.readouterr()
    return code, out, err


# -- B: parameter facts come from PARAM_INFO ------------------------------------------------
def test_new_choice_fields_work_as_fixed():
    """eta_int_placement and decoder (scalar-only choices) as [fixed] keys: the sweep's
    numbers equal evaluate() called with the same choices."""
    alpha = [0.6, 1.2, 1.8]
    spec = {"engine": "coherent", "outputs": ["P", "F", "S"],
            "fixed": {"loss_order": 1, "eta_int": 0.9, "eta_int_placement": "lumped",
                      "decoder": "ml", "length_km": 3.0},
            "axes": {"alpha": alpha}}
    ds = sweep(spec, workers=1, progress=False)
    assert ds.attrs["decoder"] == "ml" and ds.attrs["eta_int_placement"] == "lumped"
    ref = cb.evaluate(1, alpha=np.array(alpha), eta_int=0.9, eta_int_placement="lumped",
                      decoder="ml", length_km=3.0)
    for k in ("P", "F", "S"):
        np.testing.assert_allclose(ds[k].values, ref[k], rtol=0, atol=tol(1e-12))
    # and the choice changes the numbers (the field really reaches the engine)
    other = cb.evaluate(1, alpha=np.array(alpha), eta_int=0.9, length_km=3.0)
    assert not np.allclose(ds.F.values, other["F"])


def test_every_choice_field_works_fixed_and_as_an_axis():
    """Whatever choice fields PARAM_INFO declares, each value works as fixed and as an
    axis (chunk size 1: one value per evaluate() call), with no table in the sweep code."""
    choices = {n: i for n, i in PARAM_INFO.items() if i.kind == "choice"}
    assert {"eta_int_placement", "decoder", "usd"} <= set(choices)
    for name, info in choices.items():
        for value in info.choices:
            # codes without an amplitude (binomial) take no alpha: sweep another axis
            axis = "eta" if name == "code" and value not in ALPHA_CODES else "alpha"
            # codes other than cat run on the Fock engine only
            engine = "fock" if name == "code" else "coherent"
            s = SweepSpec.from_dict({"engine": engine, "fixed": {"loss_order": 1, name: value},
                                     "axes": {axis: [1.0]}})
            assert s.params[name] == value
        values = [v for v in info.choices if name != "code" or v in ALPHA_CODES]
        s = SweepSpec.from_dict({"engine": "fock" if name == "code" else "coherent",
                                 "fixed": {"loss_order": 1},
                                 "axes": {name: values, "alpha": [0.5, 1.0]}})
        assert s.chunks[0] == 1 and s.shape == (len(values), 2)


def test_decoder_axis_equals_evaluate():
    spec = {"engine": "coherent", "outputs": ["F"],
            "fixed": {"loss_order": 1, "eta": 0.7},
            "axes": {"decoder": ["smallest-loss", "ml"], "alpha": [0.8, 1.6]}}
    ds = sweep(spec, workers=1, progress=False)
    for dec in ("smallest-loss", "ml"):
        ref = cb.evaluate(1, alpha=np.array([0.8, 1.6]), eta=0.7, decoder=dec)
        np.testing.assert_allclose(ds.F.sel(decoder=dec).values, ref["F"], rtol=0,
                                   atol=tol(1e-12))


def test_units_and_long_names_from_param_info():
    spec = {"outputs": ["P"], "fixed": {"loss_order": 0, "alpha": 1.0},
            "axes": {"t_c_s": [1e-3, "inf"], "length_km": [1.0, 2.0],
                     "eta_int_placement": ["after", "lumped"]}}
    ds = sweep(spec, workers=1, progress=False)
    for name in ("t_c_s", "length_km", "eta_int_placement"):
        assert ds[name].attrs["units"] == PARAM_INFO[name].unit
        assert ds[name].attrs["long_name"] == PARAM_INFO[name].long_name
    assert ds.t_c_s.attrs["units"] == "s" and ds.length_km.attrs["units"] == "km"
    assert np.isinf(ds.t_c_s.values[1])


@pytest.mark.parametrize("change, key", [
    # the message of a cross-field error starts with no parameter name
    ({"fixed": {"loss_order": 1, "eta_c": 0.5, "eta_dc": 0.5}}, "fixed.eta_c: give either"),
    ({"fixed": {"loss_order": 1, "decoder": "majority"}}, "fixed.decoder: decoder must be"),
    ({"fixed": {"loss_order": 1}, "axes": {"alpha": [1.0], "usd": ["tub", "best"]}},
     "axes.usd: usd must be"),
    ({"fixed": {"loss_order": 1}, "axes": {"alpha": [1.0], "p_dark": [0.0, 0.01]}},
     "axes.p_dark: p_dark > 0 needs usd='linear'"),
    ({"fixed": {"loss_order": 1, "eta_int_placement": 3}}, "fixed.eta_int_placement"),
], ids=["pair", "bad-decoder", "bad-usd-axis", "dark-needs-linear", "choice-not-string"])
def test_errors_name_the_key(change, key):
    spec = {"fixed": {"loss_order": 1}, "axes": {"alpha": [1.0]}}
    spec.update(change)
    with pytest.raises(ValueError, match=key.replace(".", r"\.").replace("(", r"\(")):
        SweepSpec.from_dict(spec)


# -- C: required keys; booleans are not numbers ---------------------------------------------
@pytest.mark.parametrize("text, key", [
    ('[axes]\nalpha = [0.5, 1.0]\n', "loss_order is missing"),
    ('[fixed]\nloss_order = 1\n[axes]\neta = [0.5, 1.0]\n', "alpha is missing"),
    ('[fixed]\nloss_order = 1\nalpha = true\n[axes]\neta = [0.5]\n', "fixed.alpha"),
    ('[fixed]\nloss_order = 1\n[axes]\nalpha = [true, 0.5]\n', "axes.alpha"),
    ('[fixed]\nloss_order = true\n[axes]\nalpha = [0.5]\n', "fixed.loss_order"),
    ('[fixed]\nloss_order = 1\nt_c_s = false\n[axes]\nalpha = [0.5]\n', "fixed.t_c_s"),
], ids=["no-loss-order", "no-alpha", "alpha-true", "alpha-axis-true", "l-true",
        "t_c-false"])
def test_missing_or_boolean_refused_exit_2(tmp_path, capsys, text, key):
    code, out, err = run_main(tmp_path, text, capsys)
    assert code == 2
    assert key in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "s.zarr").exists()


def test_target_rate_solves_alpha_so_alpha_is_not_required():
    s = SweepSpec.from_dict({"target_rate_hz": 1000.0, "outputs": ["alpha_at_rate"],
                             "fixed": {"loss_order": 0}, "axes": {"length_km": [5.0]}})
    assert "alpha" not in s.params


# -- D: sizes refused before any work ---------------------------------------------------------
@pytest.fixture
def limit_8gib(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "8")


def test_huge_axis_refused_before_allocating(tmp_path, capsys, limit_8gib):
    t = time.perf_counter()
    code, _, err = run_main(
        tmp_path, "[fixed]\nloss_order = 1\n[axes]\n"
                  "alpha = {start = 0.1, stop = 2.0, num = 2000000000}\n", capsys)
    assert time.perf_counter() - t < 5
    assert code == 2
    # 2e9 values x 32 bytes (values, checks, coordinate, its write) = 59.6 GiB
    assert "axes.alpha with num = 2000000000 needs about 59.6 GiB" in err
    assert "limit of 8 GiB" in err and "smaller value" in err
    assert not (tmp_path / "s.zarr").exists()


def test_huge_grid_refused_before_any_work(tmp_path, capsys, limit_8gib):
    """10^15 points: refused in well under a second with the estimate and the way out."""
    t = time.perf_counter()
    code, _, err = run_main(
        tmp_path, "[fixed]\nloss_order = 1\n[axes]\n"
                  "alpha = {start = 0.1, stop = 2.0, num = 100000}\n"
                  "eta = {start = 0.1, stop = 1.0, num = 100000}\n"
                  "length_km = {start = 0.0, stop = 10.0, num = 100000}\n", capsys)
    assert time.perf_counter() - t < 5
    assert code == 2
    # default chunks: 1 x 1 x 511 points (512 evened out over the last axis: 196 chunks)
    assert "this sweep (1e+15 points in 1.96e+12 chunks) needs about" in err
    assert "fewer points" in err and "chunks" in err
    assert not (tmp_path / "s.zarr").exists()


def test_whole_result_in_memory_refused_with_the_store_as_way_out(limit_8gib, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "0.05")          # 53.7 MB
    spec = {"outputs": ["P", "F", "S", "Q"], "fixed": {"loss_order": 1},
            "axes": {"alpha": {"start": 0.1, "stop": 2.0, "num": 2000},
                     "eta": {"start": 0.1, "stop": 1.0, "num": 1000}}}
    with pytest.raises(MemoryLimitError, match=r"store=PATH.*stream to disk"):
        sweep(spec, progress=False)        # 2e6 points x 4 outputs x 8 B = 64 MB
