"""Parameter flags shared by the subcommands: preset < --config file < individual flags."""

from __future__ import annotations

import argparse
import math

from ..params import PRESETS, load_toml, preset, resolve_params

__all__ = ["add_param_flags", "params_from_args", "FLAG_TO_FIELD"]

#: command-line flag destination -> ProtocolParams field
FLAG_TO_FIELD = {
    "loss_order": "loss_order",
    "alpha": "alpha",
    "eta": "eta",
    "length_km": "length_km",
    "db_per_km": "db_per_km",
    "eta_int": "eta_int",
    "eta_c": "eta_c",
    "eta_dc": "eta_dc",
    "eta_uc": "eta_uc",
    "eta_d": "eta_d",
    "t_c": "t_c_s",
    "t0": "t0_s",
    "usd": "usd",
    "encoder": "encoder",
    "p_dark": "p_dark",
    "wait_rule": "wait_rule",
}


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def add_param_flags(p: argparse.ArgumentParser, *, point: bool = True) -> None:
    """Add --preset, --config and one flag per protocol parameter (defaults: unset)."""
    g = p.add_argument_group("protocol parameters (flag beats --config beats --preset)")
    g.add_argument("--preset", help=f"named preset: {', '.join(PRESETS())}")
    g.add_argument("--config", metavar="FILE.toml", help="TOML file of parameter = value lines")
    if point:
        g.add_argument("--loss-order", type=int, help="l = 2^m - 1: 0, 1, 3, 7, ...")
        g.add_argument("--alpha", type=_float, help="coherent amplitude |alpha| > 0")
    g.add_argument("--eta", type=_float, help="extra pure loss between Alice and Bob, [0, 1]")
    g.add_argument("--length-km", type=_float, help="fibre length L in km")
    g.add_argument("--db-per-km", type=_float, help="fibre attenuation in dB/km (default 0.2)")
    g.add_argument("--eta-int", type=_float, help="light-matter efficiency per reflection")
    g.add_argument("--eta-c", type=_float, help="lumped coupling/conversion efficiency")
    g.add_argument("--eta-dc", type=_float, help="down-conversion efficiency (Alice)")
    g.add_argument("--eta-uc", type=_float, help="up-conversion efficiency (Bob)")
    g.add_argument("--eta-d", type=_float, help="detector efficiency")
    g.add_argument("--t-c", type=_float, help="memory coherence time in s (inf: ideal)")
    g.add_argument("--t0", type=_float, help="repetition time of the slowest operation, s")
    g.add_argument("--usd", choices=["tub", "linear"], help="USD variant (default tub)")
    g.add_argument("--encoder", choices=["ideal", "explicit"], help="encoder (default ideal)")
    g.add_argument("--p-dark", type=_float, help="dark-click probability per detector, gate")
    g.add_argument("--wait-rule", choices=["one-way", "round-trip", "none"],
                   help="memory waiting time (default one-way: L / c_f)")


def layers_from_args(args) -> list[dict]:
    """The parameter layers (preset, config file, flags) in increasing priority."""
    layers = []
    if getattr(args, "preset", None):
        layers.append(preset(args.preset))
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
