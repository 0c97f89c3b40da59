"""Bad input gives a clear ValueError naming the parameter, its value and the allowed range."""

from __future__ import annotations

import math

import pytest

from catbell_qutip import ProtocolParams, evaluate, simulate
from catbell_qutip.params import load_toml, preset, resolve_params

BAD_VALUES = [
    ("alpha", -0.1, r"alpha = -0.1 is outside the allowed range \[0.0, inf\]"),
    ("eta", 1.2, r"eta = 1.2 is outside the allowed range \[0.0, 1.0\]"),
    ("eta", -0.01, r"eta = -0.01 is outside"),
    ("eta_int", 1.5, r"eta_int = 1.5 is outside the allowed range \[0.0, 1.0\]"),
    ("eta_c", -0.2, r"eta_c = -0.2 is outside"),
    ("eta_dc", 2.0, r"eta_dc = 2 is outside"),
    ("eta_uc", -1.0, r"eta_uc = -1 is outside"),
    ("eta_d", 1.01, r"eta_d = 1.01 is outside"),
    ("length_km", -5.0, r"length_km = -5 km is outside the allowed range \[0.0, inf\] km"),
    ("db_per_km", -0.2, r"db_per_km = -0.2 dB/km is outside"),
    ("t_c_s", 0.0, r"t_c_s = 0 s is outside the allowed range \(0.0, inf\] s"),
    ("t0_s", -1e-6, r"t0_s = -1e-06 s is outside"),
    ("p_dark", 1.0, r"p_dark = 1 is outside the allowed range \[0.0, 1.0\)"),
    ("alpha", math.nan, r"alpha = nan is outside"),
    ("eta", "abc", r"eta must be a real number, got 'abc'"),
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
    with pytest.raises(ValueError, match="no attempt succeeds"):
        simulate(1, 0.0, 0.9)
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
