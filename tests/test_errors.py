"""Bad input gives a clear ValueError naming the parameter, its value and the allowed range."""

from __future__ import annotations

import math

import pytest

from catbell_qutip import ProtocolParams, discrepancies, evaluate, simulate, thresholds
from catbell_qutip._checks import ParameterError, check_rate_hz
from catbell_qutip.advantage import advantage_map
from catbell_qutip.params import load_toml, preset, resolve_params
from catbell_qutip.rates import alpha_for_rate, solve_at_rate
from catbell_qutip.repeater.distance_scan import check_scan
from catbell_qutip.repeater.optimisation import check_options
from catbell_qutip.repeater.plob import plob_clock_s

BAD_VALUES = [
    ("alpha", -0.1, r"alpha = -0.1 is outside the allowed range \[0.0, 1000.0\]"),
    ("alpha", 1e308, r"alpha = 1e\+308 is outside the allowed range \[0.0, 1000.0\]"),
    ("alpha", True, r"alpha must be a real number, got the boolean True"),
    ("eta", 1.2, r"eta = 1.2 is outside the allowed range \[0.0, 1.0\]"),
    ("eta", -0.01, r"eta = -0.01 is outside"),
    ("eta_int", 1.5, r"eta_int = 1.5 is outside the allowed range \[0.0, 1.0\]"),
    ("eta_c", -0.2, r"eta_c = -0.2 is outside"),
    ("eta_dc", 2.0, r"eta_dc = 2 is outside"),
    ("eta_uc", -1.0, r"eta_uc = -1 is outside"),
    ("eta_d", 1.01, r"eta_d = 1.01 is outside"),
    ("length_km", -5.0, r"length_km = -5 km is outside the allowed range \[0.0, inf\) km"),
    ("db_per_km", -0.2, r"db_per_km = -0.2 dB/km is outside"),
    ("t_c_s", 0.0, r"t_c_s = 0 s is outside the allowed range \(0.0, inf\] s"),
    ("t0_s", -1e-6, r"t0_s = -1e-06 s is outside"),
    ("p_dark", 1.0, r"p_dark = 1 is outside the allowed range \[0.0, 1.0\)"),
    ("alpha", math.nan, r"alpha = nan is outside"),
    ("eta", "abc", r"eta must be a real number, got the string 'abc'"),
    # numeric strings used to be parsed: a typo or a CSV column passed silently
    ("alpha", "1.2", r"alpha must be a real number, got the string '1.2'; give numbers, "
                     "without quotes"),
    ("eta", "0.5", r"eta must be a real number, got the string '0.5'"),
    ("eta_int", "1", r"eta_int must be a real number, got the string '1'"),
    ("t_c_s", "inf", r"t_c_s must be a real number, got the string 'inf'"),
    ("alpha", [], r"alpha is empty: give a number or a non-empty array"),
    ("usd", "optimal", r"usd must be one of \['linear', 'tub'\], got 'optimal'"),
    ("encoder", "magic", r"encoder must be one of \['explicit', 'ideal'\]"),
    ("wait_rule", "forever", r"wait_rule must be one of"),
    ("loss_order", 2, r"loss_order must be of the form 2\^m - 1 \(0, 1, 3, 7, 15, ...\), got 2"),
    ("loss_order", -1, r"loss_order must be of the form 2\^m - 1"),
    ("loss_order", 1.0, r"loss_order must be an integer"),
]


@pytest.mark.parametrize("name,value,message", BAD_VALUES,
                         ids=[f"{n}={v}" for n, v, _ in BAD_VALUES])
def test_each_bad_value_has_its_own_error(name, value, message):
    kw = dict(loss_order=1, alpha=1.0)
    if name == "p_dark":
        kw["usd"] = "linear"
    kw[name] = value
    with pytest.raises(ValueError, match=message):
        ProtocolParams(**kw)
    with pytest.raises(ValueError, match=message):
        simulate(**kw)


def test_array_values_are_checked_elementwise():
    with pytest.raises(ValueError, match="eta = 1.3 is outside"):
        evaluate(1, alpha=[0.5, 1.0], eta=[0.9, 1.3])


def test_conflicting_and_meaningless_combinations():
    with pytest.raises(ValueError, match="either eta_c or the pair eta_dc/eta_uc"):
        ProtocolParams(eta_c=0.5, eta_dc=0.8)
    with pytest.raises(ValueError, match="p_dark > 0 needs usd='linear'"):
        ProtocolParams(p_dark=0.01)
    with pytest.raises(ValueError, match="engine must be one of"):
        simulate(1, 1.0, 0.9, engine="gpu")
    with pytest.raises(ValueError, match="simulate\\(\\) takes one parameter point"):
        simulate(1, [0.5, 1.0], 0.9)


def test_cutoff_too_small_for_amplitude():
    with pytest.raises(ValueError, match=r"cutoff = 8 drops probability mass .* use cutoff >= \d+"):
        simulate(1, 2.5, 0.9, cutoff=8)
    with pytest.raises(ValueError, match="cutoff must be a positive integer"):
        simulate(1, 1.0, 0.9, cutoff=0)


def test_toml_unknown_key_is_named(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("alpha = 1.0\netaint = 0.9\n")
    with pytest.raises(ValueError, match="unknown parameter 'etaint'"):
        load_toml(f)
    with pytest.raises(ValueError, match="does not exist"):
        load_toml(tmp_path / "missing.toml")
    f.write_text("alpha = [1.0\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_toml(f)


def test_presets_and_layering():
    assert preset("table1") == {"eta_int": 0.81, "eta_dc": 0.80, "eta_uc": 0.05, "eta_d": 0.97}
    with pytest.raises(ValueError, match="unknown preset 'nope'; available presets: "):
        preset("nope")
    p = resolve_params(preset("table1"), {"eta_c": 0.5})  # eta_c overrides the pair
    assert p.eta_c == 0.5 and p.eta_dc is None and float(p.eta_conversion) == 0.5
    p = resolve_params(preset("table1"), {"eta_uc": 0.2})
    assert math.isclose(float(p.eta_conversion), 0.8 * 0.2)


def test_fock_floor_applies_only_to_conditional_outputs():
    """P is accurate at any value; F, S, Q with linear optics need P >= 1e-7 in Fock space."""
    from catbell_qutip import evaluate

    kw = dict(alpha=0.02, length_km=5.0, usd="linear", engine="fock")
    P = evaluate(1, outputs=("P",), **kw)["P"]
    assert 0 < P < 1e-7
    assert abs(P - evaluate(1, alpha=0.02, length_km=5.0, usd="linear")["P"]) <= 1e-18
    with pytest.raises(ValueError, match="resolution floor"):
        evaluate(1, **kw)


def test_numpy_integer_loss_order_runs_everywhere():
    """Validation accepts NumPy integers; every path must then run on them (ProtocolParams
    stores int(loss_order), so ``bit_length`` and friends work)."""
    import numpy as np

    from catbell_qutip.codes import auto_cutoff, check_cutoff, codewords

    ref = simulate(1, 1.0, 0.8, engine="coherent")
    for l in (np.int64(1), np.int32(1), np.uint8(1)):
        assert type(ProtocolParams(loss_order=l, alpha=1.0).loss_order) is int
        for engine in ("coherent", "fock"):
            r = simulate(l, 1.0, 0.8, engine=engine)
            assert abs(r.S - ref.S) < 1e-9
            assert abs(float(evaluate(l, engine=engine, alpha=1.0, eta=0.8)["S"]) - ref.S) < 1e-9
        assert auto_cutoff(l, 1.0) == auto_cutoff(1, 1.0)
        assert check_cutoff(l, 1.0, np.int64(30)) == check_cutoff(1, 1.0, 30)
        assert codewords(l, 1.0, 20)[0].shape == (21, 1)


def test_required_arguments_are_named():
    with pytest.raises(ValueError, match=r"simulate\(\) needs alpha \(coherent amplitude"):
        simulate(1)
    with pytest.raises(ValueError, match=r"simulate\(\) needs loss_order \(loss order l\)"):
        simulate(alpha=1.0)
    with pytest.raises(ValueError, match=r"evaluate\(\) needs alpha"):
        evaluate(1)
    with pytest.raises(ValueError, match=r"evaluate\(\) needs alpha"):
        evaluate(1, eta=[0.5, 0.9])


@pytest.mark.parametrize("tol", [5.0, 1.0, 0.0, -1e-12, math.nan, math.inf])
def test_tol_is_a_probability_mass(tol):
    """tol = 5 used to run (P 0.5102 instead of 0.5688 at cutoff 3)."""
    with pytest.raises(ValueError, match=r"tol = \S+ is outside the allowed range \(0.0, 1.0\)"):
        simulate(1, 1.0, 0.9, tol=tol)
    with pytest.raises(ValueError, match=r"tol = \S+ is outside"):
        evaluate(1, alpha=1.0, engine="fock", tol=tol)


def test_cutoff_with_the_coherent_engine_is_refused():
    with pytest.raises(ValueError, match=r"cutoff = 5 applies to engine='fock' only"):
        simulate(1, 1.0, engine="coherent", cutoff=5)
    with pytest.raises(ValueError, match=r"cutoff = 5 applies to engine='fock' only"):
        evaluate(1, alpha=[1.0, 2.0], cutoff=5)


def test_fock_floor_message_is_one_rule():
    """Explicit encoder, linear USD, weak light: P is below the Fock engine's resolution
    floor (rounding may even make it 0); the message is the floor's, never "no light"."""
    kw = dict(usd="linear", encoder="explicit", length_km=5.0)
    for alpha in (0.01, 0.03):  # the Fock sum rounds to -1.3e-17 at 0.01 (true P 3.9e-20)
        ref = simulate(3, alpha, engine="coherent", **kw)
        assert 0 < ref.P < 1e-7
        with pytest.raises(ValueError, match="resolution floor") as exc:
            simulate(3, alpha, **kw)
        assert "use engine='coherent'" in str(exc.value)


def test_p_zero_point_is_a_result():
    """alpha = 0 sends no light: P = 0, and F, S, Q, rho_ab, the key rate are undefined
    (None), on both engines; JSON gets null."""
    import json

    for engine in ("fock", "coherent"):
        r = simulate(1, 0.0, 0.9, engine=engine)
        assert r.P == 0.0 and r.F is None and r.S is None and r.Q is None
        assert r.rho_ab is None and r.key_rate is None and r.S_closed_form is None
        d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
        assert d["F"] is None and d["P"] == 0.0


def test_grid_of_choices_names_the_argument():
    with pytest.raises(ValueError, match=r"usd takes one value per call \(got \['tub', "
                                         r"'linear'\]\); call evaluate\(\) once per usd"):
        evaluate(1, grid=True, alpha=[1.0, 2.0], usd=["tub", "linear"])
    with pytest.raises(ValueError, match="usd must be one of"):
        evaluate(1, alpha=[1.0, 2.0], usd=["tub", "linear"])


def test_memory_guard_in_api_terms(monkeypatch):
    """The API's way out names the argument (engine='coherent'), not a flag."""
    from catbell_qutip._checks import MemoryLimitError

    monkeypatch.setenv("CATBELL_MAX_MEMORY_GB", "4")
    with pytest.raises(MemoryLimitError, match=r"Fock engine at alpha = 50 .* more than the "
                                                r"limit of 4 GiB .*use engine='coherent'"):
        simulate(1, 50.0, 0.7)
    # a cutoff the user gave is the cause: the way out is a smaller one (not the engine)
    with pytest.raises(MemoryLimitError, match=r"cutoff 100000 .*give a smaller cutoff, or "
                                                r"cutoff=None"):
        simulate(1, 1.0, cutoff=100000)
    with pytest.raises(MemoryLimitError, match=r"coherent engine .* a lower loss_order"):
        evaluate(1023, alpha=1.0)


def test_binary_config_file(tmp_path):
    f = tmp_path / "x.toml"
    f.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match=r"config file '.*x.toml': not valid TOML: not UTF-8"):
        load_toml(f)


# -- what the API used to accept silently or explain in NumPy's words -----------------------

@pytest.mark.parametrize("kwargs,message", [
    (dict(alpha=["1", "2"]), r"alpha must be a real number, got the string \['1', '2'\]"),
    (dict(alpha=1.0, tol="1e-12"), r"tol must be a real number, got the string '1e-12'"),
    (dict(alpha=[]), r"alpha is empty"),
    (dict(alpha=[[1.0, 2.0], [3.0]]), r"alpha must be a real number or a rectangular array "
                                      r"of them, got the ragged"),
    (dict(alpha=[1.0, None]), r"alpha must be a real number, got None in \[1.0, None\]"),
    (dict(alpha=[1.0, 2.0], eta=[0.5, 0.6, 0.7]),
     r"array-valued parameters do not broadcast together \(alpha has shape \(2,\), eta "
     r"has shape \(3,\)\)"),
    (dict(alpha=1.0, outputs=[]), r"outputs is empty: give at least one of"),
    (dict(alpha=1.0, outputs="PF"), r"outputs must be a list or tuple of names .* got 'PF'"),
    (dict(alpha=1.0, outputs=("P", "F", "P")), r"outputs lists an output twice"),
    (dict(alpha=1.0, outputs=("P", "X")), r"unknown output 'X'"),
    (dict(alpha=[1.0, 2.0, 1.0], grid=True), r"grid axis alpha repeats the value 1; axis "
                                              r"values must be distinct"),
    (dict(alpha=[1.0, 2.0], grid="yes"), r"grid must be True or False, got 'yes'"),
    (dict(alpha=["1", "2"], grid=True), r"alpha must be a real number, got the string"),
    (dict(alpha=1.0, etaa=0.5), r"evaluate\(\) got an unknown parameter 'etaa'"),
])
def test_evaluate_refuses_what_it_used_to_accept(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        evaluate(1, **kwargs)


def test_simulate_refuses_a_params_that_is_not_one():
    with pytest.raises(ParameterError, match=r"params must be a ProtocolParams, got 'x'"):
        simulate(params="x")
    with pytest.raises(ParameterError, match=r"simulate\(\) got an unknown parameter 'etaa'"):
        simulate(1, 1.0, etaa=0.5)


@pytest.mark.parametrize("text,message", [
    ('loss_order = 1\nalpha = 1.0\neta = "0.5"\n', r"config file '.*c.toml': eta must be a "
                                                   r"number, got '0.5'"),
    ("loss_order = 1.5\nalpha = 1.0\n", r"config file '.*c.toml': loss_order must be an "
                                        r"integer of the form 2\^m - 1"),
    ("loss_order = 1\n[alpha]\nstart = 1\n", r"config file '.*c.toml': alpha must be a "
                                             r"number, got \{'start': 1\}"),
    ("loss_order = 1\nalpha = true\n", r"config file '.*c.toml': alpha = true: a boolean is "
                                       r"not a number"),
    ('loss_order = 1\nusd = 3\n', r"config file '.*c.toml': usd must be a string, one of"),
    ("eta_d = 1.5\n", r"config file '.*c.toml': eta_d: eta_d = 1.5 is outside the allowed "
                      r"range"),
])
def test_config_values_are_checked_at_load_naming_file_and_key(tmp_path, text, message):
    """Every value of a config file is checked when the file is read, named by file and
    key (a flag given for the same field does not hide a bad value in the file)."""
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_toml(f)
    f.write_text('t_c_s = "inf"\n')
    assert load_toml(f) == {"t_c_s": math.inf}


# -- a rate in Hz: one check (_checks.check_rate_hz) behind every function that takes one --

def _rate_callers():
    return {
        "alpha_for_rate": lambda r: alpha_for_rate(0, r, length_km=5.0),
        "solve_at_rate": lambda r: solve_at_rate(0, r, length_km=5.0),
        "check_thresholds": lambda r: thresholds.check_thresholds(["eta_c"], [1], rate_hz=r),
        "threshold": lambda r: thresholds.threshold("eta_c", 1, rate_hz=r, n_grid=3),
        "usd_factor_needed": lambda r: discrepancies.usd_factor_needed(1, rate_hz=r),
        "advantage_map": lambda r: advantage_map(rate_hz=r),
        "repeater.check_options": lambda r: check_options([10.0], [1], objective="S",
                                                          rate_hz=r),
        "plob_clock_s": lambda r: plob_clock_s([10.0], rate_hz=r),
        "check_scan(plob_rate_hz)": lambda r: check_scan([0], [10.0], [1], plob_rate_hz=r),
    }


@pytest.mark.parametrize("caller", list(_rate_callers()))
@pytest.mark.parametrize("rate", [-1.0, 0.0, math.nan, math.inf])
def test_every_rate_argument_is_refused_by_the_api_with_its_field(caller, rate):
    """Each function refuses a rate that is not a finite number > 0 itself (not only the
    command line), with the same words and the argument's name in ``field``."""
    name = "plob_rate_hz" if "plob_rate_hz" in caller else "rate_hz"
    with pytest.raises(ParameterError) as expected:
        check_rate_hz(rate, name)
    with pytest.raises(ParameterError) as got:
        _rate_callers()[caller](rate)
    assert got.value.field == name
    assert str(got.value) == str(expected.value)
    assert f"{name} = {rate:g} Hz is outside the allowed range (0.0, inf) Hz" == str(got.value)
