"""QuTiP, imported on first use.

``import qutip`` takes 1-4 s (it imports matplotlib and IPython), and most runs of the
package never build a Qobj: the engines work on NumPy arrays and only results, the
operation builders and the tests hand out Qobj. Modules that need QuTiP write
``from ._qutip import qutip`` and use ``qutip.Qobj`` as usual; the module is imported the
first time an attribute is read. This keeps ``catbell --help`` and ``import catbell_qutip``
fast (docs: README, "Run times").
"""

from __future__ import annotations

import importlib

__all__ = ["qutip"]


class _LazyModule:
    """Stands in for a module until an attribute is first read."""

    def __init__(self, name: str):
        self._name = name
        self._module = None

    def __getattr__(self, attr):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


qutip = _LazyModule("qutip")
