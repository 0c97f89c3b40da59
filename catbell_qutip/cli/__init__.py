"""The ``catbell`` command. Each subcommand lives in its own module of this package and
exposes ``add_parser(subparsers)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "SUBCOMMANDS"]

#: subcommand name -> module of this package
SUBCOMMANDS = {
    "simulate": "simulate",
    "sweep": "sweep",
    "thresholds": "thresholds",
    "reproduce": "reproduce",
    "bench": "bench",
    "repeater": "repeater",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="catbell",
        description="Bell tests and DI-QKD between cavity atoms entangled through cat-code "
                    "light pulses (docs/model.md).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        mod = importlib.import_module(f"{__name__}.{module}")
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    """Entry point. Bad input exits with code 2 and a one-line message on stderr."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except ValueError as exc:
        print(f"catbell {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
