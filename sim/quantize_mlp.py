"""Integer reference of the MATMUL coprocessor, and the int8 MLP for the 8×8 digits.

Two parts:

* The numpy *integer reference* of what the coprocessor computes (:func:`matmul_ref`,
  :func:`requantize`, with gemmlowp's ``SaturatingRoundingDoublingHighMul`` and
  ``RoundingDivideByPOT`` written literally from their C++ definitions: 64-bit product, nudge,
  division truncating toward zero). Tests compare the hardware against it bit for bit.
* ``python -m gluon.sim.quantize_mlp``: trains a small MLP (64 → hidden → 10) on scikit-learn's
  bundled 8×8 digits (no download), quantizes it to int8 (per-tensor symmetric weights, int32
  biases, gemmlowp-style requantization) and writes ``firmware/models/mlp_digits_model.h``:
  weights, biases, requantization constants, a batch of test images, their labels and the
  classes the integer reference predicts.

Quantization follows B. Jacob et al., "Quantization and training of neural networks for
efficient integer-arithmetic-only inference", CVPR 2018.
"""

import argparse
import math
import os

import numpy as np


__all__ = ["INT32_MIN", "INT32_MAX", "wrap32", "srdhm", "rounding_divide_by_pot",
           "requantize", "matmul_ref", "quantize_multiplier", "MLP", "train_mlp",
           "integer_forward", "main"]


INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


# ---- the integer reference -------------------------------------------------------------

def wrap32(x):
    """Two's complement wrap of int64 values to int32 (as int64)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFF_FFFF) - (1 << 31)


def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul(int32 a, int32 b), elementwise over a."""
    a = np.asarray(a, dtype=np.int64)
    b = np.int64(b)
    overflow = (a == b) & (a == INT32_MIN)
    ab = a * b                                  # |ab| <= 2**62: exact in int64
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    v = ab + nudge
    # C++ integer division truncates toward zero.
    q = np.where(v >= 0, v // (1 << 31), -((-v) // (1 << 31)))
    return np.where(overflow, np.int64(INT32_MAX), q)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp RoundingDivideByPOT(int32 x, int exponent): x / 2**exponent, ties away from 0."""
    x = np.asarray(x, dtype=np.int64)
    assert 0 <= exponent <= 31
    mask = np.int64((1 << exponent) - 1)
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0).astype(np.int64)
    return (x >> exponent) + (remainder > threshold).astype(np.int64)


def requantize(acc, multiplier, shift, zero_point, relu=False):
    """int32 accumulators → int8, exactly as the coprocessor's output stage."""
    y = srdhm(acc, multiplier)
    q = rounding_divide_by_pot(y, shift) + zero_point
    lo = zero_point if relu else -128
    return np.clip(q, lo, 127).astype(np.int8)


def matmul_ref(a, b, *, acc=None, bias=None, store="int8", multiplier=1 << 30, shift=0,
               zero_point=0, relu=False):
    """What one operation leaves in C. ``acc``: accumulators to add onto (OP.ACC).

    Returns ``(c, accumulators)``: ``c`` int8 or int32 per ``store`` (None for "none")."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    s = a @ b
    if acc is not None:
        s = s + acc
    s = wrap32(s)
    if store == "none":
        return None, s
    x = s if bias is None else wrap32(s + np.asarray(bias, dtype=np.int64)[None, :])
    if store == "int32":
        return x.astype(np.int32), s
    return requantize(x, multiplier, shift, zero_point, relu), s


def quantize_multiplier(real):
    """A real multiplier in (0, 1) → (QMUL, QSHIFT): real ≈ QMUL · 2**-31 · 2**-QSHIFT."""
    if not 0 < real < 1:
        raise ValueError(f"multiplier {real} must be in (0, 1)")
    mant, exp = math.frexp(real)                # real = mant · 2**exp, mant in [0.5, 1)
    q = round(mant * (1 << 31))
    if q == 1 << 31:
        q //= 2
        exp += 1
    shift = -exp
    if not 0 <= shift <= 31:
        raise ValueError(f"multiplier {real} needs shift {shift}, outside 0..31")
    return q, shift
