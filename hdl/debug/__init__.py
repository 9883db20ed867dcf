"""Debugging: a RISC-V Debug Module (External Debug Support 0.13.2), the hart's side of it
(debug mode, ``dcsr``/``dpc``) that the core instantiates, the system-bus share that gives the
Debug Module's memory accesses the core's data bus, and the lock firmware sets to turn it all
off. See docs/debugging.md."""

from .hart import DebugHartSignature, HartDebug
from .dm import DmiSignature, DebugModule
from .sba import BusShare
from .lock import DebugLock

__all__ = ["DebugHartSignature", "HartDebug", "DmiSignature", "DebugModule", "BusShare",
           "DebugLock"]
