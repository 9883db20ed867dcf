/* sort.c: sort 1024 pseudo-random 32-bit words (benchmark).
 *
 * Input, for a test to recompute: x starts at SEED = 12345; for i = 0..1023,
 * x = (1664525 * x + 1013904223) mod 2^32 and data[i] = x (the value after
 * the step).  The array is sorted ascending (quicksort, median of three,
 * insertion sort below 16 elements) and checked.
 *
 * Output (all values unsigned 32-bit, hex with 8 digits):
 *   sort: n=1024 seed=12345
 *   sorted: yes
 *   min=0x........ median=0x........ max=0x........     (data[0], data[512], data[1023])
 *   checksum=0x........   h = 0; for each v in sorted order: h = (h * 31 + v) mod 2^32
 * Returns 0 if the result is sorted, 1 if not.
 */
#include <stdint.h>
#include <stdio.h>

#define N 1024
#define SEED 12345u

static uint32_t data[N];

static uint32_t lcg_next(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x;
}

static void swap(uint32_t *a, uint32_t *b)
{
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

static void insertion_sort(uint32_t *a, int n)
{
    for (int i = 1; i < n; i++) {
        uint32_t v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

/* Quicksort on a[lo..hi] (inclusive), recursing into the smaller side only
 * so the stack stays O(log n) deep. */
static void quicksort(uint32_t *a, int lo, int hi)
{
    while (hi - lo >= 16) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swap(&a[mid], &a[lo]);
        if (a[hi] < a[lo]) swap(&a[hi], &a[lo]);
        if (a[hi] < a[mid]) swap(&a[hi], &a[mid]);
        uint32_t pivot = a[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                swap(&a[i], &a[j]);
                i++;
                j--;
            }
        }
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
    insertion_sort(a + lo, hi - lo + 1);
}

int main(void)
{
    uint32_t x = SEED;
    for (int i = 0; i < N; i++)
        data[i] = lcg_next(&x);

    quicksort(data, 0, N - 1);

    int sorted = 1;
    uint32_t h = 0;
    for (int i = 0; i < N; i++) {
        if (i > 0 && data[i - 1] > data[i])
            sorted = 0;
        h = h * 31u + data[i];
    }
    printf("sort: n=%d seed=%u\n", N, SEED);
    printf("sorted: %s\n", sorted ? "yes" : "no");
    printf("min=0x%08x median=0x%08x max=0x%08x\n",
           (unsigned)data[0], (unsigned)data[N / 2], (unsigned)data[N - 1]);
    printf("checksum=0x%08x\n", (unsigned)h);
    return sorted ? 0 : 1;
}
