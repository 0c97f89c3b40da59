"""Parameter flags shared by the subcommands: preset < --config file < individual flags."""

from __future__ import annotations

import argparse
import math

from .._checks import check_out_dir
from ..params import (
    ALPHA_CODES,
    PARAM_INFO,
    PRESETS,
    ProtocolParams,
    load_toml,
    preset,
)

__all__ = ["check_out_dir", "positive_int", "add_param_flags", "FLAG_TO_FIELD", "code_engine"]

#: command-line flag destination -> ProtocolParams field (generated from PARAM_INFO)
FLAG_TO_FIELD = {info.flag[2:].replace("-", "_"): name for name, info in PARAM_INFO.items()}

#: fields that only a single-point command takes as flags (sweeps make them axes)
POINT_FIELDS = ("loss_order", "alpha")


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (workers, processes, counts)."""
    n = _int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _help(name: str, shown: dict) -> str:
    info = PARAM_INFO[name]
    unit = "" if info.unit == "1" else f", in {info.unit}"
    if name in shown:
        text = shown[name]
    else:
        default = ProtocolParams.__dataclass_fields__[name].default
        text = "" if default is None or name in POINT_FIELDS else f" (default {default})"
    return f"{info.help}{unit}{text}"


def _shown_defaults(defaults, defaults_from, preset_fields) -> dict:
    """field -> the " (default ...)" text of its help, for a command's own defaults."""
    shown = {}
    if defaults_from is not None:
        values = preset(defaults_from)
        for name in preset_fields if preset_fields is not None else values:
            if name in values:
                shown[name] = f" (default: preset {defaults_from}: {values[name]})"
            else:  # the preset leaves it to ProtocolParams
                default = ProtocolParams.__dataclass_fields__[name].default
                shown[name] = f" (default: preset {defaults_from}: {default})"
    for name, value in (defaults or {}).items():
        shown[name] = f" (default {value})"
    return shown


def add_param_flags(p: argparse.ArgumentParser, *, point: bool = True, exclude=(),
                    defaults: dict | None = None, defaults_from: str | None = None,
                    preset_fields=None) -> None:
    """Add --preset, --config and one flag per protocol parameter (defaults: unset).

    The flags, their types, choices and help texts come from
    :data:`catbell_qutip.params.PARAM_INFO`; ``point=False`` leaves out ``--loss-order``
    and ``--alpha`` (commands that scan or solve for them), ``exclude`` hides from
    ``--help`` further fields a command refuses (``exclude=("length_km",)``). The help
    shows each field's :class:`~catbell_qutip.params.ProtocolParams` default unless the
    command has its own:
    ``defaults`` (field -> value, e.g. ``{"length_km": 5.0}``) and ``defaults_from`` (a
    preset the command starts from, shown as "(default: preset repro-base: lumped)";
    ``preset_fields`` restricts it to the fields the command takes from it).
    """
    shown = _shown_defaults(defaults, defaults_from, preset_fields)
    g = p.add_argument_group("protocol parameters (flag beats --config beats --preset)")
    g.add_argument("--preset", action="append", metavar="NAME",
                   help=f"named preset: {', '.join(PRESETS())}; repeat to layer presets "
                        "(a later --preset beats an earlier one)")
    g.add_argument("--config", metavar="FILE.toml", help="TOML file of parameter = value lines")
    for name, info in PARAM_INFO.items():
        if name in POINT_FIELDS and not point:
            continue
        # an excluded flag is still parsed (hidden from --help), so that the command's
        # refusal can say what to give instead
        kw = {"help": argparse.SUPPRESS if name in exclude else _help(name, shown)}
        if info.kind == "choice":
            kw["choices"] = list(info.choices)
        else:
            kw["type"] = _int if info.kind in ("loss_order", "int") else _float
        g.add_argument(info.flag, dest=info.flag[2:].replace("-", "_"), **kw)


def layers_from_args(args) -> list[dict]:
    """The parameter layers (presets in the order given, config file, flags) in increasing
    priority, merged by :func:`catbell_qutip.params.merge_layers` (later beats earlier)."""
    layers = []
    for name in getattr(args, "preset", None) or ():
        layers.append(preset(name))
    if getattr(args, "config", None):
        layers.append(load_toml(args.config))
    flags = {}
    for dest, field in FLAG_TO_FIELD.items():
        v = getattr(args, dest, None)
        if v is not None:
            flags[field] = v
    if "t_c_s" in flags and math.isinf(flags["t_c_s"]):
        flags["t_c_s"] = math.inf
    layers.append(flags)
    return layers



def code_engine(engine, fields: dict, *, command: str, solves: str | None = None) -> str:
    """The engine a command runs for the code of ``fields`` (docs/model.md 7), or a
    one-line refusal in flags.

    ``engine`` is the command's --engine (None: not given). Cat codes default to the
    coherent engine, the other families run on the Fock engine only. ``solves`` names what
    the command solves the amplitude alpha for ("a common --rate-hz", ...): codes without
    an amplitude (binomial) are then refused, since they have nothing to solve.
    """
    code = fields.get("code", "cat")
    if code == "cat":
        return engine or "coherent"
    if solves and code not in ALPHA_CODES:
        raise ValueError(f"--code {code}: catbell {command} solves the amplitude --alpha for "
                         f"{solves}, and a {code} code has none (its P is fixed); compare "
                         "codes with catbell codes, or give --code squeezed-cat")
    if engine == "coherent":
        raise ValueError(f"--engine coherent computes cat codes only; --code {code} runs on "
                         "--engine fock")
    return "fock"
