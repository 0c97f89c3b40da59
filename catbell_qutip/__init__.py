"""catbell_qutip: Bell tests and DI-QKD between cavity atoms entangled through cat-code light.

The physics is specified in docs/model.md (see docs/model.md); the public entry points are
:func:`simulate` (one point, Fock or coherent-state engine) and :func:`evaluate`
(vectorised grids).
"""

from ._checks import NoHeraldWarning, UnreachableRateWarning
from .api import evaluate, simulate
from .params import ProtocolParams, preset, resolve_params
from .result import ProtocolResult

__all__ = ["simulate", "evaluate", "ProtocolParams", "ProtocolResult", "preset",
           "resolve_params", "NoHeraldWarning", "UnreachableRateWarning", "__version__"]

__version__ = "0.1.0"
