/* mlp.c: the digits MLP (firmware/models/mlp_digits_model.h, 64-32-10, int8)
 * on its 256 test images, in batches of MLP_BATCH (bench workload).
 *
 * Per batch, as firmware/examples/mlp_digits.c: two matrix products
 *     hidden = requant(images · W1 + b1), ReLU     (int8, batch × 32)
 *     logits = hidden · W2 + b2                    (int32, batch × 10)
 * and the class = first index of the largest logit (on the core).  Region:
 * all batches, both layers and the argmax.  Coprocessor: the matrix driver;
 * -DGLUON_SOFTWARE: its software reference (gluon_matmul_force_software).
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

static struct {
    int8_t hidden[MLP_BATCH][MLP_HIDDEN];
    int32_t logits[MLP_BATCH][MLP_OUT];
} __attribute__((aligned(16))) work;

static uint8_t classes[MLP_IMAGES];

static int classify(int first, int n)
{
    const struct mlp_digits_model *md = &MLP_MODEL;
    gluon_requant rq = {MLP_L1_MULTIPLIER, MLP_L1_SHIFT, MLP_L1_ZERO_POINT, 1, md->b1};
    int err = gluon_matmul_i8(n, MLP_HIDDEN, MLP_IN, &md->images[first][0], MLP_IN,
                              &md->w1[0][0], MLP_HIDDEN, &work.hidden[0][0], MLP_HIDDEN, &rq);
    if (err)
        return err;
    err = gluon_matmul_i8_i32(n, MLP_OUT, MLP_HIDDEN, &work.hidden[0][0], MLP_HIDDEN,
                              &md->w2[0][0], MLP_OUT_PAD, &work.logits[0][0],
                              MLP_OUT * 4, md->b2);
    if (err)
        return err;
    for (int i = 0; i < n; i++) {
        const int32_t *l = work.logits[i];
        int best = 0;
        int32_t max = l[0];
        for (int j = 1; j < MLP_OUT; j++) {
            /* branch-free argmax: the first index of the largest logit */
            int32_t gt = -(int32_t)(l[j] > max);
            max = (l[j] & gt) | (max & ~gt);
            best = (j & gt) | (best & ~gt);
        }
        classes[first + i] = (uint8_t)best;
    }
    return 0;
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
    int err = 0;
    gluon_perf_start();
    for (int first = 0; first < MLP_IMAGES && !err; first += MLP_BATCH) {
        int n = MLP_IMAGES - first < MLP_BATCH ? MLP_IMAGES - first : MLP_BATCH;
        err = classify(first, n);
    }
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
