"""Formal-check helpers: self-composition miters and a small SymbiYosys runner (pip only)."""
