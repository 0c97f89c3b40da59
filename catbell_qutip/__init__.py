"""catbell_qutip: Bell tests and DI-QKD between cavity atoms entangled through cat-code light.

The physics is specified in docs/model.md; the public entry points are :func:`simulate`
(one point, Fock or coherent-state engine) and :func:`evaluate` (vectorised grids).

The names below are loaded on first use (PEP 562): ``import catbell_qutip`` then costs
only this module, so the ``catbell`` command answers ``--help`` and ``--version`` without
importing SciPy, QuTiP or the engines.
"""

from __future__ import annotations

import importlib

__all__ = ["simulate", "evaluate", "ProtocolParams", "ProtocolResult", "preset",
           "resolve_params", "NoHeraldWarning", "UnreachableRateWarning", "__version__"]

#: the package version, the one home of it: pyproject.toml, ``catbell --version`` and the
#: documentation site read it from here
__version__ = "0.1.0"

#: public name -> module that defines it
_LAZY = {"simulate": "api", "evaluate": "api", "ProtocolParams": "params",
         "preset": "params", "resolve_params": "params", "ProtocolResult": "result",
         "NoHeraldWarning": "_checks", "UnreachableRateWarning": "_checks"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value  # the next access is a plain attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
