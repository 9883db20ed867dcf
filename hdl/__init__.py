"""Gluon hardware: the core, the bus layer, the SoC and the coprocessors (Amaranth 0.5)."""
