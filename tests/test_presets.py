"""Named presets of docs/model.md section 6 (issue 4): every shipped preset loads and validates,
and the Fig. 4 timing preset equals the calibration it documents."""

from __future__ import annotations

import math

import pytest

from catbell_qutip.params import PRESETS, ProtocolParams, preset
from catbell_qutip.reproduce import calibrate_t0


@pytest.mark.parametrize("name", PRESETS())
def test_every_preset_is_a_valid_parameter_layer(name):
    ProtocolParams(**preset(name))


def test_timing_presets():
    assert preset("timing-fig2-3") == {"t0_s": 0.0}
    t0 = preset("timing-fig4")["t0_s"]
    assert math.isclose(t0, calibrate_t0()["t0_s"], rel_tol=1e-6)
    # t0 exceeds the 10 km travel time, else it would change nothing (R_eg = P / max(L/c_f, t0))
    assert t0 > 10e3 / 2e8


def test_table1_presets_match_the_paper():
    t1 = ProtocolParams(**preset("table1"))
    assert math.isclose(float(t1.eta_conversion), 0.80 * 0.05)
    assert (t1.eta_int, t1.eta_d) == (0.81, 0.97)
    assert math.isclose(float(ProtocolParams(**preset("table1-uc0.2")).eta_conversion), 0.16)
