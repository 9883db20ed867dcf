/* mlp.c: the digits MLP (firmware/models/mlp_digits_model.h, 64-32-10, int8)
 * on its 256 test images, in batches of MLP_BATCH (bench workload).
 *
 * Per batch, as firmware/examples/mlp_digits.c: two matrix products
 *     hidden = requant(images · W1 + b1), ReLU     (int8, batch × 32)
 *     logits = hidden · W2 + b2                    (int32, batch × 10)
 * and the class = first index of the largest logit (on the core).  Region:
 * all batches, both layers and the argmax.  Coprocessor: the matrix driver's
 * non-blocking calls (gluon_matmul_start_* / gluon_matmul_wait), two calls
 * always started so that the driver starts the next one the moment the
 * previous one ends; while a layer runs, the core computes the argmax of images
 * whose logits are ready, one image at a time as long as gluon_matmul_poll()
 * says the coprocessor is still busy.  The second layer of the last batch runs
 * in pieces of MLP_TAIL images, so that less argmax is left once the
 * coprocessor is done (see plan()).
 * -DGLUON_SOFTWARE: the driver's software reference (gluon_matmul_force_software;
 * the start calls then run to their end at once).
 *
 * Prints how many classes differ from the integer reference's (`expected`
 * in the model header, computed by numpy), the accuracy, and the 256 classes
 * as the digest.
 */
#include <stdint.h>
#include <stdio.h>

#include "gluon/matmul.h"
#include "gluon/sdk.h"
#include "bench.h"
#include "../models/mlp_digits_model.h"

#ifndef MLP_TAIL
#define MLP_TAIL 32     /* images per layer-2 piece of the last batch */
#endif

static struct {
    int8_t hidden[MLP_BATCH][MLP_HIDDEN];
    int32_t logits[MLP_IMAGES][MLP_OUT];
} __attribute__((aligned(16))) work;

static uint8_t classes[MLP_IMAGES];
static int n_classified;        /* images whose class is known */
static int n_logits;            /* images whose logits are in work.logits */

static void argmax_one(void)
{
    const int32_t *l = work.logits[n_classified];
    int best = 0;
    int32_t max = l[0];
    for (int j = 1; j < MLP_OUT; j++) {
        /* the first index of the largest logit (selects; clang may use branches) */
        int32_t gt = -(int32_t)(l[j] > max);
        max = (l[j] & gt) | (max & ~gt);
        best = (j & gt) | (best & ~gt);
    }
    classes[n_classified++] = (uint8_t)best;
}

/* The core's share while the coprocessor runs: argmax of ready images. */
static int overlap_and_wait(void)
{
    while (n_classified < n_logits && !gluon_matmul_poll())
        argmax_one();
    return gluon_matmul_wait();
}

static int start_layer1(int first, int n)
{
    const struct mlp_digits_model *md = &MLP_MODEL;
    static gluon_requant rq = {MLP_L1_MULTIPLIER, MLP_L1_SHIFT, MLP_L1_ZERO_POINT, 1, NULL};
    rq.bias = md->b1;
    return gluon_matmul_start_i8(n, MLP_HIDDEN, MLP_IN, &md->images[first][0], MLP_IN,
                                 &md->w1[0][0], MLP_HIDDEN, &work.hidden[0][0], MLP_HIDDEN,
                                 &rq);
}

/* Layer 2 for images first..first+n-1 of the batch starting at `batch`. */
static int start_layer2(int batch, int first, int n)
{
    const struct mlp_digits_model *md = &MLP_MODEL;
    return gluon_matmul_start_i8_i32(n, MLP_OUT, MLP_HIDDEN, &work.hidden[first - batch][0],
                                     MLP_HIDDEN, &md->w2[0][0], MLP_OUT_PAD,
                                     &work.logits[first][0], MLP_OUT * 4, md->b2);
}

/* The operations in order: per batch layer 1, then layer 2, the last batch's
 * layer 2 in pieces of MLP_TAIL images, so that the argmax left for the core
 * after the last operation is one piece.  (Measured on the SoC: pieces of 32
 * give the shortest run; smaller pieces, or the last batch as two half
 * batches, lower the glue cycles a little but add more coprocessor cycles.) */
static struct { uint8_t layer; uint16_t batch, first, n; } ops[2 * MLP_IMAGES / MLP_BATCH + 2
                                                              + MLP_BATCH / MLP_TAIL];

static int plan(void)
{
    int k = 0;
    for (int b = 0; b < MLP_IMAGES;) {
        int left = MLP_IMAGES - b;
        int n = left > MLP_BATCH ? MLP_BATCH : left;
        ops[k].layer = 1; ops[k].batch = b; ops[k].first = b; ops[k++].n = n;
        int step = b + n == MLP_IMAGES ? MLP_TAIL : n;
        for (int f = b; f < b + n; f += step) {
            ops[k].layer = 2; ops[k].batch = b; ops[k].first = f;
            ops[k++].n = b + n - f < step ? b + n - f : step;
        }
        b += n;
    }
    return k;
}

static int issue(int i)
{
    if (ops[i].layer == 1)
        return start_layer1(ops[i].first, ops[i].n);
    return start_layer2(ops[i].batch, ops[i].first, ops[i].n);
}

/* Every operation; two are always started, so the driver starts the next one the
 * moment the previous one ends (it was programmed while that one ran). */
static int classify_all(void)
{
    int n_ops = plan();
    int err = issue(0);
    if (!err && n_ops > 1)
        err = issue(1);
    for (int i = 0; i < n_ops && !err; i++) {
        err = overlap_and_wait();               /* operation i done, i + 1 runs */
        if (!err && ops[i].layer == 2)
            n_logits = ops[i].first + ops[i].n;
        if (!err && i + 2 < n_ops)
            err = issue(i + 2);                 /* starts when i + 1 ends */
    }
    while (!err && n_classified < n_logits)
        argmax_one();
    return err;
}

int main(void)
{
    bench_header("mlp_digits");
#ifdef GLUON_SOFTWARE
    gluon_matmul_force_software(1);
#else
    if (!gluon_matmul_present()) {
        printf("no matrix coprocessor\n");
        return 2;
    }
    gluon_matmul_window(0, &MLP_MODEL, sizeof MLP_MODEL);
    gluon_matmul_window(1, &work, sizeof work);
#endif
    gluon_perf_start();
    int err = classify_all();
    gluon_perf_stop();
    bench_print_perf();
    int correct = 0, differ = 0;
    for (int i = 0; i < MLP_IMAGES; i++) {
        correct += classes[i] == MLP_MODEL.labels[i];
        differ += classes[i] != MLP_MODEL.expected[i];
    }
    printf("images: %d\ncorrect: %d\ndiffer: %d\n", MLP_IMAGES, correct, differ);
    printf("digest: ");
    for (int i = 0; i < MLP_IMAGES; i++)
        printf("%u", (unsigned)classes[i]);
    printf("\n");
    if (err)
        printf("error: %d\n", err);
    return err || differ ? 1 : 0;
}
