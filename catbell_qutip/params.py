"""The parameters of one protocol point, validated in one place (docs/model.md sections 3, 6).

:class:`ProtocolParams` is an immutable description of a protocol point. Every numeric
field may be a scalar or a NumPy array; arrays broadcast against each other, which is how
:func:`catbell_qutip.evaluate` sweeps a grid in one call.

Where docs/model.md leaves a choice, the field below exposes it and documents its default.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import numpy as np

from ._checks import (
    ParameterError,
    SourceError,
    check_choice,
    check_int,
    check_loss_order,
    check_real,
)
from .fibre import (
    C_FIBRE_M_PER_S,
    WAIT_RULES,
    attempt_time_s,
    fibre_transmission,
    travel_time_s,
    wait_time_s,
)

__all__ = [
    "ProtocolParams",
    "ParamInfo",
    "PARAM_INFO",
    "PARAM_NAMES",
    "ARRAY_FIELDS",
    "C_FIBRE_M_PER_S",
    "PRESETS",
    "preset",
    "load_toml",
    "read_toml_table",
    "check_file_value",
    "resolve_params",
    "merge_layers",
    "CONVERSION_PARTNERS",
]

USD_VARIANTS = ("tub", "linear")
ENCODERS = ("ideal", "explicit")
ETA_INT_PLACEMENTS = ("after", "before", "lumped")
DECODERS = ("smallest-loss", "ml")
#: code families (docs/model.md sections 2 and 7); "vector" is a user's own |Theta_N>,
#: given in Python as ``code_vector`` (or ``code=<ket>`` to simulate/evaluate)
CODES = ("cat", "squeezed-cat", "binomial", "vector")
#: families whose light is displaced by alpha (the others take no alpha)
ALPHA_CODES = ("cat", "squeezed-cat")
#: largest off-sector probability a user vector may carry before it is refused
VECTOR_SUPPORT_TOL = 1e-12
#: Largest coherent amplitude accepted (mean photon number |alpha|^2 = 1e6). The photon-number
#: sums of docs/model.md 5 run over ~|alpha|^2 terms per point and their rounding grows with
#: them: where P -> 1 exactly, the coherent engine's 1 - P is ~1e-11 at alpha = 1000 and
#: ~2e-9 at alpha = 9000 (l = 3, eta = 1, both USDs). Beyond this bound the memory guard
#: (:func:`catbell_qutip._checks.check_memory`) would refuse many runs anyway.
ALPHA_MAX = 1e3


@dataclass(frozen=True)
class ParamInfo:
    """Everything the package knows about one :class:`ProtocolParams` field.

    Validation, the command-line flags (:mod:`catbell_qutip.cli._common`), sweep-spec
    parsing and the units/long names of every xarray result are generated from this, so
    a new parameter is one field declaration plus its physics.

    Parameters
    ----------
    name : str
        The field name.
    kind : {"loss_order", "real", "int", "choice"}
        How the value is validated.
    unit : str
        Unit of the value ("1" for dimensionless).
    long_name : str
        What it is, in words (xarray ``long_name`` attribute, help texts).
    choices : tuple of str
        Allowed values of a "choice" field.
    hidden_choices : tuple of str
        Further values a "choice" field accepts that are not offered by the command
        line or sweep specs (``code="vector"``: a user's vector is Python-only).
    low, high : float or None
        Bounds of a "real" field; ``low_open``/``high_open`` make them strict.
    allow_inf : bool
        Whether +inf is allowed (an ideal memory: ``t_c_s = inf``).
    optional : bool
        Whether None is allowed (``eta_c`` and the pair ``eta_dc``/``eta_uc``).
    array : bool
        Whether the field may be a NumPy array (batched by :func:`catbell_qutip.evaluate`
        and usable as a sweep axis); choices and the loss order are one value per run.
    flag : str
        Command-line flag.
    help : str
        One line for ``--help`` (the unit and the default are appended).
    low_open, high_open : bool
        Whether ``low``/``high`` are excluded.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        From :meth:`check`, when a value is outside what the field allows.

    Examples
    --------
    >>> info = PARAM_INFO["eta"]
    >>> info.unit, info.low, info.high, info.check(0.5)
    ('1', 0.0, 1.0, 0.5)
    >>> from catbell_qutip._checks import ParameterError
    >>> try:
    ...     info.check(1.5)
    ... except ParameterError as exc:
    ...     exc.field
    'eta'
    """

    name: str
    kind: str
    unit: str
    long_name: str
    flag: str
    help: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    allow_inf: bool = False
    optional: bool = False
    array: bool = True
    hidden_choices: tuple = ()

    def check(self, value):
        """Validate one value of this field (ValueError naming the field); return it."""
        if self.optional and value is None:
            return None
        if self.kind == "loss_order":
            check_loss_order(value)
            return int(value)
        if self.kind == "choice":
            if value in self.hidden_choices:
                return value
            return check_choice(value, self.name, self.choices)
        if self.kind == "int":
            return check_int(value, self.name, low=self.low, high=self.high)
        unit = "" if self.unit == "1" else self.unit
        return check_real(value, self.name, low=self.low, high=self.high,
                          low_open=self.low_open, high_open=self.high_open,
                          allow_inf=self.allow_inf, unit=unit)


def _p(default, kind, unit, long_name, help, *, flag=None, **info):
    """A dataclass field carrying its :class:`ParamInfo` (completed in ``_collect``)."""
    return field(default=default, metadata={"info": dict(
        kind=kind, unit=unit, long_name=long_name, help=help, flag=flag, **info)})


def _eff(default, long_name, help, **info):
    """An efficiency/transmission in [0, 1]."""
    return _p(default, "real", "1", long_name, help, low=0.0, high=1.0, **info)


@dataclass(frozen=True, eq=False)
class ProtocolParams:
    """One protocol point (docs/model.md section 3: steps, and where each imperfection acts).

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 (0, 1, 3, 7, ...): the number of photon losses the cat code detects.
    alpha : float or ndarray
        Coherent amplitude |alpha| of the light pulse Alice encodes (dimensionless), in
        [0, :data:`ALPHA_MAX`] = [0, 1e3]. Required by :func:`catbell_qutip.simulate` and
        :func:`catbell_qutip.evaluate`; alpha = 0 sends no light (P = 0).
    eta : float or ndarray
        An extra pure-loss transmission between Alice and Bob, in [0, 1]; multiplies the
        conversion and fibre transmissions (default 1). With every other field at its
        default this is the "single pure loss between the two entangling reflections" of
        the ideal protocol (docs/model.md section 5).
    length_km : float or ndarray
        Fibre length L in km, >= 0 (default 0).
    db_per_km : float
        Fibre attenuation a_dB in dB/km, >= 0. Choice, default 0.2 (docs/model.md 3.2).
    eta_int : float or ndarray
        Light-matter interaction efficiency, in [0, 1]: a pure loss at every reflection off
        a cavity, placed by ``eta_int_placement``. Default 1.
    eta_int_placement : {"after", "before", "lumped"}
        Where eta_int acts (docs/model.md section 3, "Imperfections"): a loss right after
        each reflection ("after", default), on the light entering each cavity ("before"),
        or no loss at the reflections and eta_int^k folded into the channel loss between
        Alice and Bob ("lumped"), k the reflections of one attempt
        (:attr:`n_reflections`). The reflections are Alice's entangling one, Bob's m
        syndrome rounds and his entangling one (m + 2, the paper's attempt), plus Alice's
        m encoding rounds with ``encoder="explicit"``.
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
        detectors (docs/model.md section 3.5). Default 1.
    t_c_s : float or ndarray
        Memory coherence time of Alice's atom in seconds, > 0; ``inf`` (default) is an
        ideal memory.
    wait_rule : {"one-way", "round-trip", "none"}
        How long Alice's atom waits, and so how long an attempt takes
        (:mod:`catbell_qutip.fibre`): L / c_f with attempts every max(L / c_f, t0)
        (default, the paper's eq. 8; docs/model.md sections 3.7 and 4); 2 L / c_f with
        attempts every max(2 L / c_f, t0) (she keeps her atom until Bob's herald is back);
        or no wait at all, attempts every max(L / c_f, t0).
    t0_s : float or ndarray
        Repetition time of the slowest local operation, seconds, >= 0 (default 0). Only
        enters rates: R_eg = P / max(L / c_f, t0) (docs/model.md section 4; 2 L / c_f with
        ``wait_rule="round-trip"``).
    usd : {"tub", "linear"}
        Bob's unambiguous state discrimination: the theoretical upper bound (optimal IDP
        POVM in the measured syndrome sector; default) or the linear-optics scheme.
    encoder : {"ideal", "explicit"}
        "ideal" (default) writes |0_N> into the light (the paper's attempt: the encoding
        rounds are idealised, and lossless); "explicit" runs the m ancilla rounds with
        feed-forward, each with its eta_int loss, and accepts every outcome (docs/model.md
        section 3.1; a lossy encoder is an extension beyond the paper's model).
    decoder : {"smallest-loss", "ml"}
        Bob's Pauli frame (docs/model.md section 3, step 6): assume the smallest loss
        consistent with the records (default), or, per heralded record, the local
        correction on B that maximises that record's fidelity with phi+ ("ml").
    p_dark : float or ndarray
        Dark-click probability per detector and gate, in [0, 1) (default 0). Only the
        linear-optics USD has detectors; with ``usd="tub"`` it must be 0.
    code : {"cat", "squeezed-cat", "binomial", "vector"}
        The rotation-symmetric code of order N = l + 1 (docs/model.md sections 2, 7):
        the paper's cat code (default); the squeezed cat, primitive D(alpha) S(r)|0>; the
        binomial code of spacing N; or a user's own |Theta_N> (``code_vector``). Every
        family but "cat" runs on the Fock engine only, with ``usd="tub"``.
    squeezing : float or ndarray
        r of the squeezed cat's S(r) = exp[(r/2)(a^2 - a^dag^2)] (dimensionless; r > 0
        squeezes the amplitude quadrature, r < 0 the phase quadrature; r = 0 is the cat
        code). Only with ``code="squeezed-cat"``; default 0.
    binomial_m : int or None
        M of the binomial code, an integer >= 0 (default None: M = N - 1, the code that
        detects N - 1 losses; mean photon number N (M + 1) / 2). Only with
        ``code="binomial"``.
    code_vector : tuple of complex or None
        Fock amplitudes of a user's |Theta_N> (n = 0, 1, ...), with ``code="vector"``:
        supported on n = 0 mod N (off-sector probability at most 1e-12; it is projected
        away) and normalisable (it is normalised). Python only: ``simulate(..., code=ket)``.

    Raises
    ------
    ValueError
        For every out-of-range value, naming the parameter, its value and the allowed range.

    Examples
    --------
    The l = 1 code: N = 2 components, m = 1 syndrome round, and m + 2 = 3 reflections per
    attempt:

    >>> p = ProtocolParams(loss_order=1, alpha=1.5, length_km=5.0)
    >>> p.n_components, p.n_rounds, p.n_reflections
    (2, 1, 3)
    """

    loss_order: int = _p(0, "loss_order", "1", "loss order l",
                         "l = 2^m - 1: 0, 1, 3, 7, ...", array=False)
    alpha: float | np.ndarray | None = _p(1.0, "real", "1", "coherent amplitude |alpha|",
                                          "coherent amplitude |alpha|, [0, 1e3]", low=0.0,
                                          high=ALPHA_MAX, optional=True)
    eta: float | np.ndarray = _eff(1.0, "extra transmission between Alice and Bob",
                                   "extra pure loss between Alice and Bob, [0, 1]")
    length_km: float | np.ndarray = _p(0.0, "real", "km", "fibre length",
                                       "fibre length L", low=0.0)
    db_per_km: float | np.ndarray = _p(0.2, "real", "dB/km", "fibre attenuation",
                                       "fibre attenuation", low=0.0)
    eta_int: float | np.ndarray = _eff(1.0, "light-matter interaction efficiency",
                                       "light-matter efficiency per reflection, [0, 1]")
    eta_int_placement: str = _p("after", "choice", "1", "where eta_int acts",
                                "where eta_int acts at each reflection (lumped: folded "
                                "into the channel)", choices=ETA_INT_PLACEMENTS,
                                array=False)
    eta_c: float | np.ndarray | None = _eff(None, "coupling and conversion efficiency",
                                            "lumped coupling/conversion efficiency, [0, 1]",
                                            optional=True)
    eta_dc: float | np.ndarray | None = _eff(None, "down-conversion efficiency",
                                             "down-conversion efficiency (Alice), [0, 1]",
                                             optional=True)
    eta_uc: float | np.ndarray | None = _eff(None, "up-conversion efficiency",
                                             "up-conversion efficiency (Bob), [0, 1]",
                                             optional=True)
    eta_d: float | np.ndarray = _eff(1.0, "detector efficiency",
                                     "detector efficiency of the USD, [0, 1]")
    t_c_s: float | np.ndarray = _p(math.inf, "real", "s", "memory coherence time",
                                   "memory coherence time (inf: ideal)", flag="--t-c",
                                   low=0.0, low_open=True, allow_inf=True)
    wait_rule: str = _p("one-way", "choice", "1", "memory waiting-time rule",
                        "memory wait and attempt clock (one-way: L / c_f; round-trip: "
                        "2 L / c_f)", choices=WAIT_RULES,
                        array=False)
    t0_s: float | np.ndarray = _p(0.0, "real", "s", "repetition time of the slowest "
                                  "operation", "repetition time of the slowest operation",
                                  flag="--t0", low=0.0)
    usd: str = _p("tub", "choice", "1", "USD variant", "Bob's USD", choices=USD_VARIANTS,
                  array=False)
    encoder: str = _p("ideal", "choice", "1", "encoder", "Alice's encoder",
                      choices=ENCODERS, array=False)
    decoder: str = _p("smallest-loss", "choice", "1", "decoder (Pauli frame)",
                      "Bob's Pauli frame", choices=DECODERS, array=False)
    p_dark: float | np.ndarray = _eff(0.0, "dark-click probability",
                                      "dark-click probability per detector and gate, "
                                      "[0, 1)", high_open=True)
    code: str = _p("cat", "choice", "1", "code family",
                   "code family (squeezed-cat, binomial: Fock engine, TUB only)",
                   choices=CODES[:3], hidden_choices=("vector",), array=False)
    squeezing: float | np.ndarray = _p(0.0, "real", "1", "squeezing r of the squeezed cat",
                                       "squeezing r of --code squeezed-cat (r > 0: "
                                       "amplitude-squeezed)", low=-20.0, high=20.0)
    binomial_m: int | None = _p(None, "int", "1", "binomial code order M",
                                "M of --code binomial, integer >= 0 (default N - 1)",
                                low=0, optional=True, array=False)
    code_vector: tuple | None = field(default=None, repr=False)
    _batch_shape: tuple = field(init=False, repr=False, default=())

    def __post_init__(self):
        set_ = object.__setattr__
        for name, info in PARAM_INFO.items():
            set_(self, name, info.check(getattr(self, name)))
        if self.eta_c is not None and (self.eta_dc is not None or self.eta_uc is not None):
            raise ParameterError(
                "give either eta_c or the pair eta_dc/eta_uc (eta_c = eta_dc * eta_uc), "
                "not both", "eta_c")
        self._check_code()
        if self.usd == "tub" and np.any(np.asarray(self.p_dark) > 0):
            raise ParameterError(
                "p_dark > 0 needs usd='linear': the theoretical-upper-bound USD has no "
                "detectors to click in the dark", "p_dark")
        try:
            shape = np.broadcast_shapes(
                *(np.shape(getattr(self, f)) for f in self.numeric_fields())
            )
        except ValueError:
            shapes = ", ".join(f"{f} has shape {np.shape(getattr(self, f))}"
                               for f in self.numeric_fields() if np.ndim(getattr(self, f)))
            raise ParameterError(
                f"array-valued parameters do not broadcast together ({shapes}): give "
                "arrays of one length (or NumPy-broadcastable shapes), or evaluate(..., "
                "grid=True) for their outer product", None) from None
        set_(self, "_batch_shape", shape)

    def _check_code(self) -> None:
        """The code's own parameters agree with its family and with N (docs/model.md 7)."""
        set_ = object.__setattr__
        code = self.code
        if self.code_vector is not None and code == "cat":
            code = "vector"
            set_(self, "code", code)
        if code == "vector":
            if self.code_vector is None:
                raise ParameterError("code='vector' needs code_vector (the Fock amplitudes "
                                     "of |Theta_N>), or pass the ket as code=", "code")
            set_(self, "code_vector", _checked_vector(self.code_vector, self.n_components))
        elif self.code_vector is not None:
            raise ParameterError(f"code_vector is a code of its own; it does not go with "
                                 f"code={code!r}", "code_vector")
        if code != "squeezed-cat" and np.any(np.asarray(self.squeezing) != 0.0):
            raise ParameterError(f"squeezing applies to code='squeezed-cat' only, not to "
                                 f"code={code!r}", "squeezing")
        if code != "binomial" and self.binomial_m is not None:
            raise ParameterError(f"binomial_m applies to code='binomial' only, not to "
                                 f"code={code!r}", "binomial_m")
        if code in ALPHA_CODES and self.alpha is None:
            raise ParameterError(f"code={code!r} needs alpha (its displacement |alpha|)",
                                 "alpha")
        if code != "cat" and self.usd != "tub":
            raise ParameterError(
                f"usd={self.usd!r} is a cat-code scheme (docs/model.md 3.5); code={code!r} "
                "takes usd='tub' (the generalised optimal USD of docs/model.md 7)", "usd")
        if code not in ALPHA_CODES:
            if self.alpha is not None and np.any(np.asarray(self.alpha) != 1.0):
                raise ParameterError(f"alpha does not apply to code={code!r}: its photon "
                                     "numbers are fixed by the code itself", "alpha")
            set_(self, "alpha", None)

    # -- derived quantities -------------------------------------------------------------
    @staticmethod
    def numeric_fields() -> tuple[str, ...]:
        """The fields that may be arrays (batched and swept)."""
        return ARRAY_FIELDS

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
    def n_reflections(self) -> int:
        """Cavity reflections of one attempt: m + 2, plus m with the explicit encoder."""
        m = self.n_rounds
        return m + 2 + (m if self.encoder == "explicit" else 0)

    @property
    def eta_int_at_reflections(self):
        """The loss applied at each reflection: eta_int, or 1 when it is "lumped"."""
        return 1.0 if self.eta_int_placement == "lumped" else np.asarray(self.eta_int)

    @property
    def eta_fibre(self):
        """Fibre transmission 10^(-a_dB L / 10) (:func:`catbell_qutip.fibre.fibre_transmission`)."""
        return fibre_transmission(self.length_km, self.db_per_km)

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
        """Transmission of the single loss between Alice and Bob: eta * eta_c * eta_fibre,
        times eta_int^k (k = :attr:`n_reflections`) when eta_int is "lumped"."""
        eta = np.asarray(self.eta) * self.eta_conversion * self.eta_fibre
        if self.eta_int_placement == "lumped":
            eta = eta * np.asarray(self.eta_int) ** self.n_reflections
        return eta

    @property
    def travel_time_s(self):
        """One-way light travel time L / c_f in seconds."""
        return travel_time_s(self.length_km)

    @property
    def wait_time_s(self):
        """Alice's memory waiting time t_w in seconds, by ``wait_rule``."""
        return wait_time_s(self.length_km, self.wait_rule)

    @property
    def memory_factor(self):
        """d = exp(-t_w / t_c): the factor on Alice's atomic coherence (docs/model.md 3.7)."""
        return np.exp(-self.wait_time_s / np.asarray(self.t_c_s))

    @property
    def attempt_time_s(self):
        """The time one attempt takes, s: max(L / c_f, t0) (paper's eq. 8), or
        max(2 L / c_f, t0) with ``wait_rule="round-trip"`` (:mod:`catbell_qutip.fibre`)."""
        return attempt_time_s(self.length_km, self.t0_s, self.wait_rule)

    def replace(self, **changes) -> ProtocolParams:
        """A copy with some fields changed (validated again)."""
        for name, value in list(changes.items()):  # a side replaces the other one
            if value is not None:
                for other in CONVERSION_PARTNERS.get(name, ()):
                    changes.setdefault(other, None)
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """Plain-Python dictionary of the fields (arrays become lists; a code vector
        becomes {"real": [...], "imag": [...]})."""
        out = {}
        for f in fields(self):
            if f.name.startswith("_"):
                continue
            v = getattr(self, f.name)
            if f.name == "code_vector":
                if v is not None:
                    v = {"real": [float(z.real) for z in v], "imag": [float(z.imag) for z in v]}
            elif isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, float) and math.isinf(v):
                v = "inf"
            out[f.name] = v
        return out

    def flat_slice(self, sl: slice, shape: tuple | None = None) -> ProtocolParams:
        """Points ``sl`` of the batch broadcast to ``shape`` (default :attr:`batch_shape`)
        and flattened to one axis: a parameter object with batch shape ``(len(sl),)``."""
        shape = self.batch_shape if shape is None else tuple(shape)
        changes = {}
        for name in self.numeric_fields():
            v = getattr(self, name)
            if v is not None and np.ndim(v):
                changes[name] = np.broadcast_to(v, shape).reshape(-1)[sl]
        return self._sub_batch(changes)

    def take(self, indices) -> ProtocolParams:
        """Points ``indices`` (integers into the flattened batch) as a batch of shape
        ``(len(indices),)``."""
        indices = np.asarray(indices, dtype=int)
        changes = {}
        for name in self.numeric_fields():
            v = getattr(self, name)
            if v is not None and np.ndim(v):
                changes[name] = np.broadcast_to(v, self.batch_shape).reshape(-1)[indices]
        return self._sub_batch(changes)

    def _sub_batch(self, changes: dict) -> ProtocolParams:
        """A copy whose array fields are replaced by ``changes``: 1-D pieces, of one
        length, of this object's own (validated) arrays. Nothing new to check, so they are
        not validated again (a Fock batch takes a sub-batch per chunk of points)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name, value in changes.items():
            object.__setattr__(new, name, value)
        shape = np.shape(next(iter(changes.values()))) if changes else ()
        object.__setattr__(new, "_batch_shape", shape)
        return new

    def at(self, index) -> ProtocolParams:
        """The scalar point at ``index`` of the broadcast batch."""
        changes = {}
        for name in self.numeric_fields():
            v = getattr(self, name)
            if v is not None and np.ndim(v):
                changes[name] = float(np.broadcast_to(v, self.batch_shape)[index])
        return dataclasses.replace(self, **changes)


def _checked_vector(vector, n_comp: int) -> tuple:
    """A user's |Theta_N> as a normalised tuple of complex amplitudes, or ParameterError."""
    try:
        v = np.asarray(vector.full() if hasattr(vector, "full") else vector,
                       dtype=complex).ravel()
    except (TypeError, ValueError):
        raise ParameterError(f"code_vector must be Fock amplitudes (numbers) or a ket, got "
                             f"{type(vector).__name__}", "code_vector") from None
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ParameterError("code_vector must be a non-empty vector of finite amplitudes",
                             "code_vector")
    p = np.abs(v) ** 2
    total = float(p.sum())
    if not total > 0.0:
        raise ParameterError("code_vector is zero: it cannot be normalised", "code_vector")
    n = np.arange(v.size)
    off = float(p[n % n_comp != 0].sum()) / total
    if off > VECTOR_SUPPORT_TOL:
        bad = int(n[(n % n_comp != 0) & (p > 0)][0])
        raise ParameterError(
            f"code_vector is not supported on photon numbers n = 0 mod N = {n_comp} "
            f"(loss order {n_comp - 1}): probability {off:.3g} lies elsewhere (first at "
            f"n = {bad}); give a vector on n = 0, {n_comp}, {2 * n_comp}, ... or the loss "
            "order it is built for", "code_vector")
    v = np.where(n % n_comp == 0, v, 0.0)
    v = v / np.sqrt(np.sum(np.abs(v) ** 2))
    return tuple(complex(z) for z in v)


def _collect() -> dict[str, ParamInfo]:
    out = {}
    for f in fields(ProtocolParams):
        if f.name.startswith("_") or "info" not in f.metadata:
            continue
        meta = dict(f.metadata["info"])
        meta["flag"] = meta["flag"] or "--" + f.name.replace("_", "-")
        out[f.name] = ParamInfo(name=f.name, **meta)
    return out


#: field name -> :class:`ParamInfo`, in declaration order: the one home of parameter metadata
PARAM_INFO: dict[str, ParamInfo] = _collect()
PARAM_NAMES = tuple(PARAM_INFO)
#: fields that may be arrays
ARRAY_FIELDS = tuple(n for n, i in PARAM_INFO.items() if i.array and n != "loss_order")


def _preset_files() -> dict[str, Path]:
    root = resources.files("catbell_qutip") / "presets"
    return {p.name[:-5]: Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml")}


def read_toml_table(path, what: str) -> dict:
    """The TOML table of a file; ValueError naming ``what`` if it is not UTF-8 TOML text.

    The one reader of presets, config files and sweep specs.

    Parameters
    ----------
    path : str or os.PathLike
        The TOML file.
    what : str
        What the file is, for messages (``"sweep spec 's.toml'"``).

    Returns
    -------
    dict
        The file's top-level table.

    Raises
    ------
    catbell_qutip._checks.SourceError
        If the file is not valid UTF-8 TOML.
    OSError
        If the file cannot be opened.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = pathlib.Path(d, "p.toml")
    ...     _ = f.write_text("alpha = 1.5")
    ...     read_toml_table(f, "config")
    {'alpha': 1.5}
    """
    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise SourceError(f"{what}: not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise SourceError(f"{what}: not valid TOML: not UTF-8 text (a binary file?); "
                             "give a TOML text file") from None


_INF_WORDS = ("inf", "infinity")


def check_file_value(key: str, name: str, value):
    """One value of field ``name`` as a TOML file gives it, validated; errors name ``key``.

    The one check of parameter values read from files (presets, ``--config`` files, sweep
    specs): a number must be a TOML number (``eta = "0.5"`` and ``alpha = true`` are
    refused, ``"inf"`` is the one word accepted, for unbounded fields), an integer an
    integer, a choice a string, then :meth:`ParamInfo.check`. The message starts with
    ``key`` (``fixed.eta_int``, ``config file 'c.toml': loss_order``), never with a
    command-line flag: the value came from the file.

    Parameters
    ----------
    key : str
        Where the value came from, for messages (``"fixed.eta_int"``).
    name : str
        The :class:`ProtocolParams` field.
    value : object
        The value as TOML gives it (units of the field).

    Returns
    -------
    object
        The validated value (``"inf"`` becomes ``math.inf``; reals become float).

    Raises
    ------
    catbell_qutip._checks.SourceError
        If the value has the wrong type or is out of range; the message starts with
        ``key``.

    Examples
    --------
    >>> check_file_value("fixed.t_c_s", "t_c_s", "inf"), check_file_value("fixed.eta", "eta", 1)
    (inf, 1.0)
    >>> from catbell_qutip._checks import SourceError
    >>> try:
    ...     check_file_value("fixed.eta", "eta", "0.5")
    ... except SourceError as exc:
    ...     print(exc)
    fixed.eta must be a number, got '0.5'
    """
    info = PARAM_INFO[name]
    if info.kind == "real":
        if isinstance(value, str) and value.lower() in _INF_WORDS:
            value = math.inf
        elif isinstance(value, bool):
            raise SourceError(f"{key} = {str(value).lower()}: a boolean is not a number; "
                              "give a number")
        elif not isinstance(value, (int, float, np.integer, np.floating)):
            raise SourceError(f"{key} must be a number, got {value!r}")
        value = float(value)
    elif info.kind in ("loss_order", "int"):
        if isinstance(value, bool):
            raise SourceError(f"{key} = {str(value).lower()}: a boolean is not an integer; "
                              "give an integer")
        if not isinstance(value, (int, np.integer)):
            form = " of the form 2^m - 1 (0, 1, 3, 7, ...)" if info.kind == "loss_order" else ""
            raise SourceError(f"{key} must be an integer{form}, got {value!r}")
    elif not isinstance(value, str):
        raise SourceError(f"{key} must be a string, one of {list(info.choices)}, got "
                          f"{value!r}")
    try:
        return info.check(value)
    except ParameterError as exc:
        raise SourceError(f"{key}: {exc}") from None


def _read_toml(path: Path, what: str) -> dict:
    data = read_toml_table(path, what)
    unknown = sorted(set(data) - set(PARAM_NAMES))
    if unknown:
        raise SourceError(
            f"{what}: unknown parameter {unknown[0]!r}; known parameters are "
            f"{', '.join(PARAM_NAMES)}"
        )
    # every value checked here, named by file and key (also one a flag will override)
    return {key: check_file_value(f"{what}: {key}", key, value) for key, value in data.items()}


def PRESETS() -> tuple[str, ...]:  # noqa: N802 - reads like a constant at call sites
    """Names of the presets shipped with the package.

    Returns
    -------
    tuple of str
        Preset names, sorted (each usable with :func:`preset`).

    Examples
    --------
    >>> names = PRESETS()
    >>> "ideal" in names, "table1" in names, list(names) == sorted(names)
    (True, True, True)
    """
    return tuple(sorted(_preset_files()))


def preset(name: str) -> dict:
    """The parameter values of a named preset (a dict of field -> value).

    Parameters
    ----------
    name : str
        A preset's name, as ``catbell presets`` lists them (``"ideal"``, ``"table1"``, ...).

    Returns
    -------
    dict
        Field name -> value, only the fields the preset sets (units as in
        :class:`ProtocolParams`).

    Raises
    ------
    ValueError
        If no preset has that name (the message lists the available ones).

    Examples
    --------
    The paper's Table I hardware:

    >>> preset("table1")
    {'eta_int': 0.81, 'eta_dc': 0.8, 'eta_uc': 0.05, 'eta_d': 0.97}
    """
    files = _preset_files()
    if name not in files:
        raise SourceError(f"unknown preset {name!r}; available presets: {', '.join(sorted(files))}")
    return _read_toml(files[name], f"preset {name!r}")


def load_toml(path) -> dict:
    r"""Parameter values from a TOML file of ``field = value`` lines; unknown keys raise.

    Parameters
    ----------
    path : str or os.PathLike
        The config file.

    Returns
    -------
    dict
        Field name -> validated value (units as in :class:`ProtocolParams`).

    Raises
    ------
    catbell_qutip._checks.SourceError
        If the file does not exist, is not TOML, has an unknown key or a bad value.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = pathlib.Path(d, "c.toml")
    ...     _ = f.write_text("loss_order = 1\nt_c_s = 'inf'\n")
    ...     load_toml(f)
    {'loss_order': 1, 't_c_s': inf}
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"config file {str(path)!r} does not exist")
    return _read_toml(path, f"config file {str(path)!r}")


#: eta_c = eta_dc * eta_uc: the fields that a value of each of these replaces (the one home
#: of this rule: :class:`ProtocolParams` refuses both sides at once, :func:`merge_layers`
#: lets a later layer's side replace an earlier one's, map axes clear their partners)
CONVERSION_PARTNERS = {"eta_c": ("eta_dc", "eta_uc"), "eta_dc": ("eta_c",),
                       "eta_uc": ("eta_c",)}


def merge_layers(*layers: dict | None) -> dict:
    """Merge parameter layers (later beats earlier) into one dict of fields.

    A layer that sets ``eta_c`` clears ``eta_dc``/``eta_uc`` of earlier layers and vice
    versa, so ``--eta-c`` on the command line overrides a preset's conversion pair. The one
    place this rule lives: presets, config files, flags, panels and sweeps all merge here.

    Parameters
    ----------
    *layers : dict or None
        Field name -> value; None or an empty dict adds nothing.

    Returns
    -------
    dict
        The merged fields, not yet validated (:func:`resolve_params` validates them).

    Raises
    ------
    ValueError
        If a layer has a key that is not a :class:`ProtocolParams` field.

    Examples
    --------
    >>> merge_layers({"eta_dc": 0.9, "eta_uc": 0.8, "alpha": 1.0}, None, {"eta_c": 0.5})
    {'alpha': 1.0, 'eta_c': 0.5}
    """
    merged: dict = {}
    for layer in layers:
        if not layer:
            continue
        layer = {k: v for k, v in layer.items() if v is not None}
        unknown = sorted(set(layer) - set(PARAM_NAMES))
        if unknown:
            raise ValueError(f"unknown parameter {unknown[0]!r}")
        for name in layer:
            for other in CONVERSION_PARTNERS.get(name, ()):
                merged.pop(other, None)
        merged.update(layer)
    return merged


def resolve_params(*layers: dict | None) -> ProtocolParams:
    """Merge parameter layers (see :func:`merge_layers`) into validated :class:`ProtocolParams`.

    Parameters
    ----------
    *layers : dict or None
        Field name -> value (units as in :class:`ProtocolParams`), later beats earlier:
        e.g. a preset, a config file, then explicit values.

    Returns
    -------
    ProtocolParams
        The validated parameters.

    Raises
    ------
    ValueError
        For an unknown field, or (:class:`~catbell_qutip._checks.ParameterError`) a value
        out of range, naming the field.

    Examples
    --------
    Table I hardware with a lumped eta_c instead of its conversion pair:

    >>> p = resolve_params(preset("table1"), {"loss_order": 1, "alpha": 1.5, "eta_c": 0.8})
    >>> p.eta_c, p.eta_dc, p.eta_int
    (0.8, None, 0.81)
    """
    return ProtocolParams(**merge_layers(*layers))
