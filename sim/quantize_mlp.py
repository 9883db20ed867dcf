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
           "requantize", "matmul_ref", "quantize_multiplier", "MLP", "quantize_images",
           "train_mlp", "integer_forward", "header_text", "main"]


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


# ---- the MLP ----------------------------------------------------------------------------

HEADER = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                      "firmware", "models", "mlp_digits_model.h"))


class MLP:
    """An int8 two-layer perceptron: hidden = relu(requant(x·W1 + b1)), logits = h·W2 + b2.

    ``x`` int8 in 0..127 (pixel·127/16), weights int8 symmetric per tensor, biases int32 in
    the accumulator scale, ``h`` int8 with zero point 0, logits raw int32 (argmax only)."""

    def __init__(self, w1, b1, q1, w2, b2, scales):
        self.w1, self.b1, self.q1, self.w2, self.b2 = w1, b1, q1, w2, b2
        self.scales = scales

    @property
    def hidden(self):
        return self.w1.shape[1]


def quantize_images(pixels):
    """8×8 digits pixels 0..16 → int8 0..127, zero point 0, scale 1/127 of pixel/16."""
    return np.clip(np.rint(np.asarray(pixels, dtype=np.float64) * 127 / 16), 0, 127).astype(np.int8)


def train_mlp(*, hidden=32, seed=0):
    """Train on scikit-learn's bundled digits (1797 images, no download); quantize.

    Returns ``(mlp, float_model, (x_train, y_train, x_test, y_test))``; images are pixels 0..16."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(digits.data, digits.target, test_size=0.3,
                                              random_state=seed, stratify=digits.target)
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu", alpha=1e-3,
                        max_iter=600, random_state=seed)
    clf.fit(x_tr / 16.0, y_tr)
    w1, w2 = clf.coefs_
    b1, b2 = clf.intercepts_

    s_x = 1 / 127                                   # x_real = x_q · s_x (= pixel / 16)
    s_w1 = np.abs(w1).max() / 127
    w1_q = np.clip(np.rint(w1 / s_w1), -127, 127).astype(np.int8)
    b1_q = np.rint(b1 / (s_x * s_w1)).astype(np.int64)
    # Hidden activation scale from the training set (float model), zero point 0 (ReLU).
    h_tr = np.maximum(x_tr / 16.0 @ w1 + b1, 0)
    s_h = np.percentile(h_tr, 99.9) / 127
    qmul1, shift1 = quantize_multiplier(s_x * s_w1 / s_h)
    s_w2 = np.abs(w2).max() / 127
    w2_q = np.clip(np.rint(w2 / s_w2), -127, 127).astype(np.int8)
    b2_q = np.rint(b2 / (s_h * s_w2)).astype(np.int64)
    mlp = MLP(w1_q, b1_q, (qmul1, shift1, 0), w2_q, b2_q,
              {"x": s_x, "w1": s_w1, "h": s_h, "w2": s_w2})
    return mlp, clf, (x_tr, y_tr, x_te, y_te)


def integer_forward(mlp, x_q):
    """The integer reference: exactly what the coprocessor computes. Returns (hidden, logits)."""
    qmul, shift, zp = mlp.q1
    h, _ = matmul_ref(x_q, mlp.w1, bias=mlp.b1, store="int8", multiplier=qmul, shift=shift,
                      zero_point=zp, relu=True)
    logits, _ = matmul_ref(h, mlp.w2, bias=mlp.b2, store="int32")
    return h, logits


def _c_array(values, per_line=16):
    """A C initializer: flat for 1-D, one braced row per line group for 2-D."""
    a = np.asarray(values)
    if a.ndim == 2:
        rows = ["{" + ", ".join(str(int(v)) for v in row) + "}" for row in a]
        return "{\n        " + ",\n        ".join(rows) + "\n    }"
    vals = [str(int(v)) for v in a.ravel()]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    return "{\n        " + ",\n        ".join(lines) + "\n    }"


def header_text(mlp, x_q, labels, predicted, *, float_acc, int_acc, batch):
    n, n_in = x_q.shape
    hid, n_out = mlp.hidden, mlp.w2.shape[1]
    out_pad = (n_out + 3) & ~3                     # W2 rows padded to whole words
    w2p = np.zeros((hid, out_pad), dtype=np.int8)
    w2p[:, :n_out] = mlp.w2
    qmul, shift, zp = mlp.q1
    return f"""/* GENERATED by `python -m gluon.sim.quantize_mlp`; do not edit.
 *
 * A {n_in}-{hid}-{n_out} MLP for scikit-learn's 8x8 handwritten digits, int8:
 *   x  = pixel * 127 / 16 (0..127), zero point 0
 *   h  = requant(x . W1 + b1), multiplier {qmul}, shift {shift}, zero point {zp}, ReLU
 *   logits = h . W2 + b2 (int32); class = first index of the largest logit
 * W1 is {n_in}x{hid}, W2 {hid}x{n_out} stored with rows padded to {out_pad} bytes.
 * {n} test images (not used in training).  Accuracy on them: float model
 * {100 * float_acc:.2f} %, integer reference {100 * int_acc:.2f} %.
 * `expected` is the integer reference's class for each image (numpy, the same
 * arithmetic as the coprocessor): the firmware must reproduce it exactly.
 */
#ifndef MLP_DIGITS_MODEL_H
#define MLP_DIGITS_MODEL_H

#include <stdint.h>

#define MLP_IN {n_in}
#define MLP_HIDDEN {hid}
#define MLP_OUT {n_out}
#define MLP_OUT_PAD {out_pad}
#define MLP_IMAGES {n}
#define MLP_BATCH {batch}
#define MLP_L1_MULTIPLIER {qmul}
#define MLP_L1_SHIFT {shift}
#define MLP_L1_ZERO_POINT {zp}
#define MLP_INT_CORRECT {int(round(int_acc * n))}   /* of MLP_IMAGES, integer reference */
#define MLP_FLOAT_CORRECT {int(round(float_acc * n))} /* of MLP_IMAGES, float model */

/* One object, so one DMA window covers the whole model. */
struct mlp_digits_model {{
    int8_t w1[MLP_IN][MLP_HIDDEN];
    int8_t w2[MLP_HIDDEN][MLP_OUT_PAD];
    int32_t b1[MLP_HIDDEN];
    int32_t b2[MLP_OUT];
    int8_t images[MLP_IMAGES][MLP_IN];
    uint8_t labels[MLP_IMAGES];
    uint8_t expected[MLP_IMAGES];
}};

static const struct mlp_digits_model MLP_MODEL __attribute__((aligned(16))) = {{
    {_c_array(mlp.w1)},
    {_c_array(w2p)},
    {_c_array(mlp.b1, 8)},
    {_c_array(mlp.b2, 8)},
    {_c_array(x_q)},
    {_c_array(labels, 32)},
    {_c_array(predicted, 32)},
}};

#endif /* MLP_DIGITS_MODEL_H */
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default=HEADER, help="header to write")
    ap.add_argument("--hidden", type=int, default=32, help="hidden units")
    ap.add_argument("--images", type=int, default=256, help="test images in the header")
    ap.add_argument("--batch", type=int, default=64, help="images per layer call in firmware")
    args = ap.parse_args(argv)

    mlp, clf, (_x_tr, _y_tr, x_te, y_te) = train_mlp(hidden=args.hidden)
    x_te, y_te = x_te[:args.images], y_te[:args.images]
    x_q = quantize_images(x_te)
    _h, logits = integer_forward(mlp, x_q)
    predicted = np.argmax(logits, axis=1)           # first maximum, as the firmware does
    float_acc = float(np.mean(clf.predict(x_te / 16.0) == y_te))
    int_acc = float(np.mean(predicted == y_te))
    text = header_text(mlp, x_q, y_te, predicted, float_acc=float_acc, int_acc=int_acc,
                       batch=args.batch)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        f.write(text)
    print(f"{args.output}: {len(y_te)} images, float accuracy {100 * float_acc:.2f} %, "
          f"int8 accuracy {100 * int_acc:.2f} %, L1 multiplier {mlp.q1[0]} shift {mlp.q1[1]}")


if __name__ == "__main__":
    main()
