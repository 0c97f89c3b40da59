"""The two state representations behind the one protocol of :mod:`catbell_qutip.protocol`."""

from .base import LightAtomState
from .coherent import CoherentState
from .fock import FockState

__all__ = ["LightAtomState", "FockState", "CoherentState", "ENGINES"]

#: engine name -> state class
ENGINES = {"fock": FockState, "coherent": CoherentState}
