"""The parameters of one protocol point, validated in one place (MODEL.md sections 3 and 6).

:class:`ProtocolParams` is an immutable description of a protocol point. Every numeric
field may be a scalar or a NumPy array; arrays broadcast against each other, which is how
:func:`catbell_qutip.evaluate` sweeps a grid in one call.

Where MODEL.md leaves a choice, the field below exposes it and documents its default.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import numpy as np

from ._checks import check_choice, check_loss_order, check_real

__all__ = [
    "ProtocolParams",
    "C_FIBRE_M_PER_S",
    "PRESETS",
    "preset",
    "load_toml",
    "resolve_params",
    "merge_layers",
]

#: Speed of light in fibre, m/s (the paper's eq. 8).
C_FIBRE_M_PER_S = 2.0e8

USD_VARIANTS = ("tub", "linear")
ENCODERS = ("ideal", "explicit")
WAIT_RULES = ("one-way", "round-trip", "none")


@dataclass(frozen=True, eq=False)
class ProtocolParams:
    """One protocol point (MODEL.md section 3: steps, and where each imperfection acts).

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (0, 1, 3, 7, ...): the number of photon losses the cat code detects.
    alpha : float or ndarray
        Coherent amplitude |alpha| >= 0 of the light pulse Alice encodes (dimensionless).
    eta : float or ndarray
        An extra pure-loss transmission between Alice and Bob, in [0, 1]; multiplies the
        conversion and fibre transmissions (default 1). With every other field at its
        default this is the "single pure loss between the two entangling reflections" of
        the ideal protocol (MODEL.md section 5).
    length_km : float or ndarray
        Fibre length L in km, >= 0 (default 0).
    db_per_km : float
        Fibre attenuation a_dB in dB/km, >= 0. Choice, default 0.2 (MODEL.md section 3.2).
    eta_int : float or ndarray
        Light-matter interaction efficiency, in [0, 1]: a pure loss after *every*
        reflection (each explicit encoding round, Alice's final round, each syndrome round,
        Bob's final round). Default 1.
    eta_c : float or ndarray or None
        Lumped fibre-coupling and frequency-conversion efficiency in [0, 1]. Give either
        ``eta_c`` or the pair ``eta_dc``/``eta_uc`` (then ``eta_c = eta_dc * eta_uc``);
        default 1.
    eta_dc, eta_uc : float or ndarray or None
        Down-conversion (at Alice) and up-conversion (at Bob) efficiencies in [0, 1].
        Both act as pure losses on the light between Alice and Bob, so only their product
        matters to the state; they are kept apart to match the paper's Table I.
    eta_d : float or ndarray
        Detector efficiency of the USD, in [0, 1]: a pure loss right before ideal
        detectors (MODEL.md section 3.5). Default 1.
    t_c_s : float or ndarray
        Memory coherence time of Alice's atom in seconds, > 0; ``inf`` (default) is an
        ideal memory.
    wait_rule : {"one-way", "round-trip", "none"}
        How long Alice's atom waits: L / c_f (default, MODEL.md section 3.7), 2 L / c_f
        (she waits for Bob's herald to return), or not at all.
    t0_s : float or ndarray
        Repetition time of the slowest local operation, seconds, >= 0 (default 0). Only
        enters rates: R_eg = P / max(L / c_f, t0) (MODEL.md section 4).
    usd : {"tub", "linear"}
        Bob's unambiguous state discrimination: the theoretical upper bound (optimal IDP
        POVM in the measured syndrome sector; default) or the linear-optics scheme.
    encoder : {"ideal", "explicit"}
        "ideal" (default) writes |0_N> into the light (the encoding rounds are idealised,
        including their eta_int losses); "explicit" runs the m ancilla rounds with
        feed-forward and accepts every outcome (MODEL.md section 3.1).
    p_dark : float or ndarray
        Dark-click probability per detector and gate, in [0, 1) (default 0). Only the
        linear-optics USD has detectors; with ``usd="tub"`` it must be 0.

    Raises
    ------
    ValueError
        For every out-of-range value, naming the parameter, its value and the allowed range.
    """

    loss_order: int = 0
    alpha: float | np.ndarray = 1.0
    eta: float | np.ndarray = 1.0
    length_km: float | np.ndarray = 0.0
    db_per_km: float | np.ndarray = 0.2
    eta_int: float | np.ndarray = 1.0
    eta_c: float | np.ndarray | None = None
    eta_dc: float | np.ndarray | None = None
    eta_uc: float | np.ndarray | None = None
    eta_d: float | np.ndarray = 1.0
    t_c_s: float | np.ndarray = math.inf
    wait_rule: str = "one-way"
    t0_s: float | np.ndarray = 0.0
    usd: str = "tub"
    encoder: str = "ideal"
    p_dark: float | np.ndarray = 0.0
    _batch_shape: tuple = field(init=False, repr=False, default=())

    def __post_init__(self):
        check_loss_order(self.loss_order)
        set_ = object.__setattr__
        set_(self, "alpha", check_real(self.alpha, "alpha", low=0.0))
        for name in ("eta", "eta_int", "eta_d"):
            set_(self, name, check_real(getattr(self, name), name, low=0.0, high=1.0))
        for name in ("eta_c", "eta_dc", "eta_uc"):
            v = getattr(self, name)
            if v is not None:
                set_(self, name, check_real(v, name, low=0.0, high=1.0))
        if self.eta_c is not None and (self.eta_dc is not None or self.eta_uc is not None):
            raise ValueError(
                "give either eta_c or the pair eta_dc/eta_uc (eta_c = eta_dc * eta_uc), "
                "not both"
            )
        set_(self, "length_km", check_real(self.length_km, "length_km", low=0.0, unit="km"))
        set_(self, "db_per_km", check_real(self.db_per_km, "db_per_km", low=0.0, unit="dB/km"))
        set_(self, "t_c_s", check_real(self.t_c_s, "t_c_s", low=0.0, low_open=True,
                                       allow_inf=True, unit="s"))
        set_(self, "t0_s", check_real(self.t0_s, "t0_s", low=0.0, unit="s"))
        set_(self, "p_dark", check_real(self.p_dark, "p_dark", low=0.0, high=1.0,
                                        high_open=True))
        check_choice(self.wait_rule, "wait_rule", WAIT_RULES)
        check_choice(self.usd, "usd", USD_VARIANTS)
        check_choice(self.encoder, "encoder", ENCODERS)
        if self.usd == "tub" and np.any(np.asarray(self.p_dark) > 0):
            raise ValueError(
                "p_dark > 0 needs usd='linear': the theoretical-upper-bound USD has no "
                "detectors to click in the dark"
            )
        try:
            shape = np.broadcast_shapes(
                *(np.shape(getattr(self, f)) for f in self.numeric_fields())
            )
        except ValueError as exc:
            raise ValueError(f"array-valued parameters do not broadcast together: {exc}") from None
        set_(self, "_batch_shape", shape)

    # -- derived quantities -------------------------------------------------------------
    @staticmethod
    def numeric_fields() -> tuple[str, ...]:
        return ("alpha", "eta", "length_km", "db_per_km", "eta_int", "eta_c", "eta_dc",
                "eta_uc", "eta_d", "t_c_s", "t0_s", "p_dark")

    @property
    def batch_shape(self) -> tuple:
        """Broadcast shape of the array-valued fields (``()`` for a single point)."""
        return self._batch_shape

    @property
    def n_components(self) -> int:
        """N = l + 1 = 2^m coherent components of the code."""
        return self.loss_order + 1

    @property
    def n_rounds(self) -> int:
        """m = log2(N): ancilla rounds of the encoder and of the syndrome readout."""
        return self.n_components.bit_length() - 1

    @property
    def eta_fibre(self):
        """Fibre transmission 10^(-a_dB L / 10)."""
        return 10.0 ** (-np.asarray(self.db_per_km) * np.asarray(self.length_km) / 10.0)

    @property
    def eta_conversion(self):
        """eta_c, or eta_dc * eta_uc (each missing factor counts as 1)."""
        if self.eta_c is not None:
            return np.asarray(self.eta_c, dtype=float)
        dc = 1.0 if self.eta_dc is None else self.eta_dc
        uc = 1.0 if self.eta_uc is None else self.eta_uc
        return np.asarray(dc, dtype=float) * np.asarray(uc, dtype=float)

    @property
    def eta_channel(self):
        """Transmission of the single loss between Alice and Bob: eta * eta_c * eta_fibre."""
        return np.asarray(self.eta) * self.eta_conversion * self.eta_fibre

    @property
    def travel_time_s(self):
        """One-way light travel time L / c_f in seconds."""
        return np.asarray(self.length_km) * 1e3 / C_FIBRE_M_PER_S

    @property
    def wait_time_s(self):
        """Alice's memory waiting time t_w in seconds, by ``wait_rule``."""
        factor = {"one-way": 1.0, "round-trip": 2.0, "none": 0.0}[self.wait_rule]
        return factor * self.travel_time_s

    @property
    def memory_factor(self):
        """d = exp(-t_w / t_c): the factor on Alice's atomic coherence (MODEL.md 3.7)."""
        return np.exp(-self.wait_time_s / np.asarray(self.t_c_s))

    @property
    def attempt_time_s(self):
        """max(L / c_f, t0): the time one attempt takes (paper's eq. 8)."""
        return np.maximum(self.travel_time_s, np.asarray(self.t0_s))

    def replace(self, **changes) -> ProtocolParams:
        """A copy with some fields changed (validated again)."""
        if "eta_c" in changes and changes["eta_c"] is not None:
            changes.setdefault("eta_dc", None)
            changes.setdefault("eta_uc", None)
        if ("eta_dc" in changes or "eta_uc" in changes) and (
            changes.get("eta_dc") is not None or changes.get("eta_uc") is not None
        ):
            changes.setdefault("eta_c", None)
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """Plain-Python dictionary of the fields (arrays become lists)."""
        out = {}
        for f in fields(self):
            if f.name.startswith("_"):
                continue
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, float) and math.isinf(v):
                v = "inf"
            out[f.name] = v
        return out

    def at(self, index) -> ProtocolParams:
        """The scalar point at ``index`` of the broadcast batch."""
        changes = {}
        for name in self.numeric_fields():
            v = getattr(self, name)
            if v is not None and np.ndim(v):
                changes[name] = float(np.broadcast_to(v, self.batch_shape)[index])
        return dataclasses.replace(self, **changes)


PARAM_NAMES = tuple(f.name for f in fields(ProtocolParams) if not f.name.startswith("_"))


def _preset_files() -> dict[str, Path]:
    root = resources.files("catbell_qutip") / "presets"
    return {p.name[:-5]: Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml")}


def _read_toml(path: Path, what: str) -> dict:
    with open(path, "rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{what}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(PARAM_NAMES))
    if unknown:
        raise ValueError(
            f"{what}: unknown parameter {unknown[0]!r}; known parameters are "
            f"{', '.join(PARAM_NAMES)}"
        )
    if data.get("t_c_s") in ("inf", "infinity"):
        data["t_c_s"] = math.inf
    return data


def PRESETS() -> tuple[str, ...]:  # noqa: N802 - reads like a constant at call sites
    """Names of the presets shipped with the package."""
    return tuple(sorted(_preset_files()))


def preset(name: str) -> dict:
    """The parameter values of a named preset (a dict of field -> value)."""
    files = _preset_files()
    if name not in files:
        raise ValueError(f"unknown preset {name!r}; available presets: {', '.join(sorted(files))}")
    return _read_toml(files[name], f"preset {name!r}")


def load_toml(path) -> dict:
    """Parameter values from a TOML file of ``field = value`` lines; unknown keys raise."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {str(path)!r} does not exist")
    return _read_toml(path, f"config file {str(path)!r}")


def merge_layers(*layers: dict | None) -> dict:
    """Merge parameter layers (later beats earlier) into one dict of fields.

    A layer that sets ``eta_c`` clears ``eta_dc``/``eta_uc`` of earlier layers and vice
    versa, so ``--eta-c`` on the command line overrides a preset's conversion pair. The one
    place this rule lives: presets, config files, flags, panels and sweeps all merge here.
    """
    merged: dict = {}
    for layer in layers:
        if not layer:
            continue
        layer = {k: v for k, v in layer.items() if v is not None}
        unknown = sorted(set(layer) - set(PARAM_NAMES))
        if unknown:
            raise ValueError(f"unknown parameter {unknown[0]!r}")
        if "eta_c" in layer:
            merged.pop("eta_dc", None)
            merged.pop("eta_uc", None)
        if "eta_dc" in layer or "eta_uc" in layer:
            merged.pop("eta_c", None)
        merged.update(layer)
    return merged


def resolve_params(*layers: dict | None) -> ProtocolParams:
    """Merge parameter layers (see :func:`merge_layers`) into validated :class:`ProtocolParams`."""
    return ProtocolParams(**merge_layers(*layers))
