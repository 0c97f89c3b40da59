"""The claims table's verdicts (catbell_qutip.claims.build_claims, docs/model.md section 6).

Every check of every claim C1-C10 is moved just inside and just outside its stated
tolerance on a synthetic summary: the verdict must be "agrees" inside and "differs"
outside, for that claim only, and a missing number never agrees. The tolerances are the
ones the table states (claims.md): a threshold +/-0.02, C7 +/-10 %, C8 +20 %/-15 %, ... ;
C5 and the C7 comparison are signs.
"""

from __future__ import annotations

import math

import pytest

from catbell_qutip import claims
from catbell_qutip.claims import CLAIMS, build_claims

#: a summary on which every claim agrees, well inside every tolerance
GOOD = {
    "fig2a_order_holds_to_km": 12.0,
    "fig2b_max_abs_S_l1_minus_l0": 0.01, "fig2b_tc_saturation_s_l0": 3e-3,
    "threshold_eta_int_l1": 0.87, "threshold_eta_int_l3": 0.91,
    "threshold_eta_c_l1": 0.62, "threshold_eta_c_l3": 0.67,
    "fig3c_S_5km_l1": 2.50, "fig3c_S_5km_l0": 2.45,
    "fig3f_S_5km_l1": 2.40, "fig3f_S_5km_l0": 2.40,
    "fig3g_max_km_S_above_2.01_l0": 80.0, "fig3g_max_km_S_above_2.01_l1": 50.0,
    "fig3g_max_km_S_above_2.01_l3": 40.0,
    "fig4a_peak_l0": 2000.0, "fig4a_peak_l1": 6000.0,
    "fig4b_peak_l0": 25.0, "fig4b_peak_l1": 1.0, "fig4c_peak_l0": 100.0,
}

#: (claim, key, a value just inside the tolerance, one just outside)
EDGES = [
    ("C1", "fig2a_order_holds_to_km", 10.0, 9.9),
    ("C2", "fig2b_max_abs_S_l1_minus_l0", 0.029, 0.031),
    ("C2", "fig2b_tc_saturation_s_l0", math.sqrt(1e-5) * 10 ** 0.49,
     math.sqrt(1e-5) * 10 ** 0.51),
    ("C2", "fig2b_tc_saturation_s_l0", math.sqrt(1e-5) * 10 ** -0.49,
     math.sqrt(1e-5) * 10 ** -0.51),
    ("C3", "threshold_eta_int_l1", 0.889, 0.891),
    ("C3", "threshold_eta_int_l3", 0.891, 0.889),
    ("C4", "threshold_eta_c_l1", 0.639, 0.641),
    ("C4", "threshold_eta_c_l3", 0.651, 0.649),
    ("C5", "fig3c_S_5km_l1", 2.4501, 2.4499),   # S_1 - S_0 > 0: a sign
    ("C6", "fig3f_S_5km_l1", 2.419, 2.421),
    ("C6", "fig3f_S_5km_l1", 2.381, 2.379),
    ("C7", "fig3g_max_km_S_above_2.01_l0", 72.1, 71.9),
    ("C7", "fig3g_max_km_S_above_2.01_l0", 87.9, 88.1),
    ("C7", "fig3g_max_km_S_above_2.01_l3", 80.0, 80.1),  # no l >= 1 code reaches further
    ("C8", "fig4a_peak_l0", 2399.0, 2401.0),
    ("C8", "fig4a_peak_l0", 1601.0, 1599.0),
    ("C8", "fig4a_peak_l1", 5101.0, 5099.0),
    ("C9", "fig4b_peak_l0", 20.1, 19.9),
    ("C9", "fig4b_peak_l1", 2.5, 2.51),
    ("C10", "fig4c_peak_l0", 119.9, 120.1),
]


def _verdicts(summary):
    return {c["id"]: c["verdict"] for c in build_claims(summary)}


def test_every_claim_agrees_on_the_good_summary():
    assert _verdicts(GOOD) == dict.fromkeys(CLAIMS, "agrees")


@pytest.mark.parametrize("claim,key,inside,outside", EDGES,
                         ids=[f"{c}-{k}-{o:g}" for c, k, _, o in EDGES])
def test_verdict_follows_the_tolerance(claim, key, inside, outside):
    assert _verdicts(dict(GOOD, **{key: inside})) == dict.fromkeys(CLAIMS, "agrees")
    moved = _verdicts(dict(GOOD, **{key: outside}))
    assert moved[claim] == "differs"
    assert all(v == "agrees" for c, v in moved.items() if c != claim), moved


def test_every_check_key_is_exercised_and_a_missing_number_differs():
    keys = {k for _, k, _, _ in EDGES}
    for key in GOOD:
        if key in ("fig3c_S_5km_l0", "fig3f_S_5km_l0", "fig3g_max_km_S_above_2.01_l1"):
            continue  # the other side of a difference that EDGES moves
        assert key in keys, key
        claim = next(c for c, k, _, _ in EDGES if k == key)
        # an l >= 1 code with S < 2.01 everywhere has no reach (None): it cannot reach further
        expect = "agrees" if key.startswith("fig3g_max_km_S_above_2.01_l") and key[-1] != "0" \
            else "differs"
        assert _verdicts(dict(GOOD, **{key: None}))[claim] == expect, key


def test_c5_flips_with_the_sign_of_S1_minus_S0():
    """'l = 1 keeps a slight advantage': swapping the two codes' S must flip the verdict."""
    ahead = dict(GOOD, fig3c_S_5km_l1=2.46, fig3c_S_5km_l0=2.44)
    behind = dict(GOOD, fig3c_S_5km_l1=2.44, fig3c_S_5km_l0=2.46)
    assert _verdicts(ahead)["C5"] == "agrees" and _verdicts(behind)["C5"] == "differs"
    check = next(c for c in build_claims(behind) if c["id"] == "C5")["checks"][0]
    assert check["difference"] == pytest.approx(-0.02)


@pytest.mark.parametrize("d,text", [(-1e-4, "+0.0"), (1e-4, "+0.0"), (-0.0, "+0.0"),
                                    (-0.0123, "-1.2"), (0.0456, "+4.6")])
def test_percent_difference_never_prints_a_signed_zero(d, text):
    """The two engines differ by rounding in C8: "-0.0 %" on one and "+0.0 %" on the other
    (found by a new user); a difference that rounds to zero is "+0.0"."""
    assert claims._percent(d) == text
