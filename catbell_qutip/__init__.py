"""catbell_qutip: Bell tests and DI-QKD between cavity atoms entangled through cat-code light.

The physics is specified in docs/model.md (see docs/model.md); the public entry points are
:func:`simulate` (one point, Fock or coherent-state engine) and :func:`evaluate`
(vectorised grids).

The public names are loaded on first use (PEP 562), so that ``import catbell_qutip.cli``
is light and the ``catbell`` command handles Ctrl-C from its first instant, QuTiP's import
included, with one line instead of a traceback.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers and editors; at run time see __getattr__
    from .api import evaluate, simulate
    from .params import ProtocolParams, preset, resolve_params
    from .result import ProtocolResult

__all__ = ["simulate", "evaluate", "ProtocolParams", "ProtocolResult", "preset",
           "resolve_params", "__version__"]

__version__ = "0.1.0"

#: public name -> the module of this package that defines it
_PUBLIC = {"simulate": "api", "evaluate": "api", "ProtocolParams": "params",
           "preset": "params", "resolve_params": "params", "ProtocolResult": "result"}


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_PUBLIC})
