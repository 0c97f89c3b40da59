"""`catbell bench` (not yet implemented)."""

from __future__ import annotations

import sys


def add_parser(sub):
    p = sub.add_parser("bench", help="(not yet implemented)")
    return p


def run(args) -> int:
    print("catbell bench: not implemented yet", file=sys.stderr)
    return 1
