"""Parameter flags shared by the subcommands: preset < --config file < individual flags."""

from __future__ import annotations

import argparse
import math

from .._checks import check_out_dir
from ..params import PARAM_INFO, PRESETS, ProtocolParams, load_toml, preset, resolve_params

__all__ = ["check_out_dir", "positive_int", "add_param_flags", "params_from_args", "FLAG_TO_FIELD"]

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


def _help(name: str) -> str:
    info = PARAM_INFO[name]
    unit = "" if info.unit == "1" else f", in {info.unit}"
    default = ProtocolParams.__dataclass_fields__[name].default
    shown = "" if default is None or name in POINT_FIELDS else f" (default {default})"
    return f"{info.help}{unit}{shown}"


def add_param_flags(p: argparse.ArgumentParser, *, point: bool = True) -> None:
    """Add --preset, --config and one flag per protocol parameter (defaults: unset).

    The flags, their types, choices and help texts come from
    :data:`catbell_qutip.params.PARAM_INFO`; ``point=False`` leaves out ``--loss-order``
    and ``--alpha`` (commands that scan or solve for them).
    """
    g = p.add_argument_group("protocol parameters (flag beats --config beats --preset)")
    g.add_argument("--preset", action="append", metavar="NAME",
                   help=f"named preset: {', '.join(PRESETS())}; repeat to layer presets "
                        "(a later --preset beats an earlier one)")
    g.add_argument("--config", metavar="FILE.toml", help="TOML file of parameter = value lines")
    for name, info in PARAM_INFO.items():
        if name in POINT_FIELDS and not point:
            continue
        kw = {"help": _help(name)}
        if info.kind == "choice":
            kw["choices"] = list(info.choices)
        else:
            kw["type"] = _int if info.kind == "loss_order" else _float
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


def params_from_args(args, **defaults):
    """Resolve ProtocolParams from ``defaults`` < preset < config < flags."""
    return resolve_params(defaults, *layers_from_args(args))
