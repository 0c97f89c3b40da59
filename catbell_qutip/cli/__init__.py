"""The ``catbell`` command. Each subcommand lives in its own module of this package and
exposes ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from importlib.metadata import PackageNotFoundError, version

from .._checks import ParameterError
from ..params import PARAM_INFO

__all__ = ["main", "SUBCOMMANDS"]

#: subcommand name -> module of this package
SUBCOMMANDS = {
    "simulate": "simulate",
    "sweep": "sweep",
    "thresholds": "thresholds",
    "reproduce": "reproduce",
    "bench": "bench",
    "repeater": "repeater",
    "advantage": "advantage",
    "codes": "codes",
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``catbell CMD: error: MSG (see catbell CMD --help)``
    and exit 2, without the usage block (the subcommands' parsers are of this class too)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} "
                     f"(see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="catbell",
        description="Bell tests and DI-QKD between cavity atoms entangled through cat-code "
                    "light pulses (docs/model.md).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        mod = importlib.import_module(f"{__name__}.{module}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run, _parser=p)
    return parser


def _version() -> str:
    try:
        return version("catbell_qutip")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "unknown"


#: API spellings in messages that the command line spells differently
_API_WORDS = {"cutoff=None": "no --cutoff", "a lower loss_order": "a lower loss order"}
#: per-command spellings (a flag that only one command has)
_COMMAND_WORDS = {
    "simulate": {"evaluate fewer points per call, a lower loss_order or a smaller alpha":
                 "give a lower --loss-order or a smaller --alpha"},
}
_API_ARG = re.compile(r"\b([a-z][a-z0-9_]*)=(?:'([^']*)'|([-+0-9.e]+|None)(?![-+0-9.e:,]))")


def _flag(name: str) -> str:
    info = PARAM_INFO.get(name)
    return info.flag if info is not None else "--" + name.replace("_", "-")


def cli_message(exc: ValueError, command: str | None = None) -> str:
    """An API error message in command-line terms, on one line (the one place this happens).

    ``engine='coherent'`` becomes ``--engine coherent``, ``cutoff >= 12`` becomes
    ``--cutoff >= 12``, and a message about a parameter (:class:`ParameterError` with a
    ``field``) names its flag: ``--alpha = -1 is outside ...``.
    """
    msg = " ".join(str(exc).split())
    for api, cli in [*_COMMAND_WORDS.get(command, {}).items(), *_API_WORDS.items()]:
        msg = msg.replace(api, cli)
    msg = _API_ARG.sub(lambda m: f"{_flag(m[1])} {m[2] if m[2] is not None else m[3]}", msg)
    msg = re.sub(r"\buse (cutoff|tol) ", lambda m: f"use {_flag(m[1])} ", msg)
    field = getattr(exc, "field", None) if isinstance(exc, ParameterError) else None
    if field and msg.startswith(field + " "):
        msg = _flag(field) + msg[len(field):]
    return msg


def main(argv=None) -> int:
    """Entry point. Bad input exits with code 2 and a one-line message on stderr, in the
    command line's own terms (:func:`cli_message`)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named by the subcommand that refuses them, not by the top-level parser
        args._parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args._run(args) or 0)
    except ValueError as exc:
        print(f"catbell {args.command}: error: {cli_message(exc, args.command)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
