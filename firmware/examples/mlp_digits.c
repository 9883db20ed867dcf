/* mlp_digits.c: classify handwritten digits with an int8 MLP on the matrix
 * coprocessor.
 *
 * The model (64-32-10, trained on scikit-learn's 8x8 digits and quantized by
 * `python -m gluon.sim.quantize_mlp`) and MLP_IMAGES test images are in
 * firmware/models/mlp_digits_model.h.  Per batch of MLP_BATCH images, two
 * coprocessor calls:
 *     hidden = requant(images . W1 + b1), ReLU     (int8, MLP_BATCH x 32)
 *     logits = hidden . W2 + b2                    (int32, MLP_BATCH x 10)
 * and the class is the first index of the largest logit.  The batches are
 * pipelined with the driver's non-blocking calls: while the first layer of
 * batch b runs on the coprocessor, the core computes the classes of batch b-1
 * (its logits are double-buffered).  The first batch is also run with blocking
 * calls on the software reference and on the hardware, for the cycle comparison
 * and as a check.
 *
 * Output:
 *   batch <b>: <correct>/<n> correct, layer cycles <l1> + <l2>
 *   software batch 0: <cycles> cycles, hardware <cycles> cycles
 *   mlp_digits: <n> images, <c> correct (<pp.pp> %), <d> differ from the integer reference
 * Returns 0 if every class equals the numpy integer reference's, else 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/matmul.h"
#include "gluon/sdk.h"
#include "../models/mlp_digits_model.h"

static struct {
    int8_t hidden[MLP_BATCH][MLP_HIDDEN];
    int32_t logits[2][MLP_BATCH][MLP_OUT];
} __attribute__((aligned(16))) work;

static uint8_t classes[MLP_BATCH];

/* classes[i] = first index of the largest of logits[i][0..MLP_OUT-1]. */
static void argmax(int32_t (*logits)[MLP_OUT], int n)
{
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < MLP_OUT; j++)
            if (logits[i][j] > logits[i][best])
                best = j;
        classes[i] = (uint8_t)best;
    }
}

/* Both layers for n images starting at image `first`, blocking; classes[] gets
 * the argmax. */
static int classify(int first, int n, uint32_t cycles[2])
{
    const struct mlp_digits_model *md = &MLP_MODEL;
    gluon_requant rq = {MLP_L1_MULTIPLIER, MLP_L1_SHIFT, MLP_L1_ZERO_POINT, 1, md->b1};
    int err = gluon_matmul_i8(n, MLP_HIDDEN, MLP_IN, &md->images[first][0], MLP_IN,
                              &md->w1[0][0], MLP_HIDDEN, &work.hidden[0][0], MLP_HIDDEN, &rq);
    cycles[0] = gluon_matmul_last_cycles();
    if (err)
        return err;
    err = gluon_matmul_i8_i32(n, MLP_OUT, MLP_HIDDEN, &work.hidden[0][0], MLP_HIDDEN,
                              &md->w2[0][0], MLP_OUT_PAD, &work.logits[0][0][0],
                              MLP_OUT * 4, md->b2);
    cycles[1] = gluon_matmul_last_cycles();
    if (err)
        return err;
    argmax(work.logits[0], n);
    return 0;
}

static int correct, differ;

/* Classes of the batch at `first` (n images, logits in work.logits[buf]). */
static void report(int first, int n, int buf, const uint32_t cycles[2])
{
    argmax(work.logits[buf], n);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        ok += classes[i] == MLP_MODEL.labels[first + i];
        differ += classes[i] != MLP_MODEL.expected[first + i];
    }
    correct += ok;
    printf("batch %d: %d/%d correct, layer cycles %u + %u\n", first / MLP_BATCH, ok, n,
           (unsigned)cycles[0], (unsigned)cycles[1]);
}

int main(void)
{
    if (!gluon_matmul_present())
        printf("mlp_digits: no matrix coprocessor, running the software reference\n");
    gluon_matmul_window(0, &MLP_MODEL, sizeof MLP_MODEL);
    gluon_matmul_window(1, &work, sizeof work);

    const struct mlp_digits_model *md = &MLP_MODEL;
    gluon_requant rq = {MLP_L1_MULTIPLIER, MLP_L1_SHIFT, MLP_L1_ZERO_POINT, 1, md->b1};
    uint32_t cycles[2], prev_cycles[2];
    int prev = -1, prev_n = 0;
    for (int first = 0; first < MLP_IMAGES; first += MLP_BATCH) {
        int n = MLP_IMAGES - first < MLP_BATCH ? MLP_IMAGES - first : MLP_BATCH;
        int buf = (first / MLP_BATCH) & 1;
        /* Layer 1 of this batch on the coprocessor, the previous batch's classes on
         * the core meanwhile. */
        int err = gluon_matmul_start_i8(n, MLP_HIDDEN, MLP_IN, &md->images[first][0], MLP_IN,
                                        &md->w1[0][0], MLP_HIDDEN, &work.hidden[0][0],
                                        MLP_HIDDEN, &rq);
        if (!err && prev >= 0)
            report(prev, prev_n, buf ^ 1, prev_cycles);
        if (!err)
            err = gluon_matmul_wait();
        cycles[0] = gluon_matmul_last_cycles();
        if (!err)
            err = gluon_matmul_i8_i32(n, MLP_OUT, MLP_HIDDEN, &work.hidden[0][0], MLP_HIDDEN,
                                      &md->w2[0][0], MLP_OUT_PAD, &work.logits[buf][0][0],
                                      MLP_OUT * 4, md->b2);
        cycles[1] = gluon_matmul_last_cycles();
        if (err) {
            printf("batch %d: coprocessor error %d\n", first / MLP_BATCH, err);
            return 1;
        }
        prev = first;
        prev_n = n;
        prev_cycles[0] = cycles[0];
        prev_cycles[1] = cycles[1];
    }
    report(prev, prev_n, ((prev / MLP_BATCH) & 1), prev_cycles);

    /* The first batch again: software reference, then hardware, timed around the calls. */
    uint8_t hw_classes[MLP_BATCH];
    int n0 = MLP_IMAGES < MLP_BATCH ? MLP_IMAGES : MLP_BATCH;
    uint64_t t0 = gluon_rdcycle();
    classify(0, n0, cycles);
    uint64_t t1 = gluon_rdcycle();
    memcpy(hw_classes, classes, sizeof classes);
    gluon_matmul_force_software(1);
    uint64_t t2 = gluon_rdcycle();
    classify(0, n0, cycles);
    uint64_t t3 = gluon_rdcycle();
    gluon_matmul_force_software(0);
    int sw_same = memcmp(hw_classes, classes, (size_t)n0) == 0;
    printf("software batch 0: %u cycles, hardware %u cycles, same classes: %s\n",
           (unsigned)(t3 - t2), (unsigned)(t1 - t0), sw_same ? "yes" : "NO");

    uint32_t pct = (uint32_t)correct * 10000u / MLP_IMAGES;
    printf("mlp_digits: %d images, %d correct (%u.%02u %%), %d differ from the integer "
           "reference\n", MLP_IMAGES, correct, (unsigned)(pct / 100), (unsigned)(pct % 100),
           differ);
    return differ == 0 && sw_same ? 0 : 1;
}
