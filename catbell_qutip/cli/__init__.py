"""The ``catbell`` command. Each subcommand lives in its own module of this package and
exposes ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

from ._common import cli_message, parser_flags

__all__ = ["main", "SUBCOMMANDS", "cli_message"]

#: subcommand name -> module of this package
SUBCOMMANDS = {
    "simulate": "simulate",
    "sweep": "sweep",
    "thresholds": "thresholds",
    "reproduce": "reproduce",
    "bench": "bench",
    "repeater": "repeater",
    "advantage": "advantage",
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
        msg = cli_message(exc, args.command, flags=parser_flags(args._parser),
                          sources=getattr(args, "_sources", None))
        print(f"catbell {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
