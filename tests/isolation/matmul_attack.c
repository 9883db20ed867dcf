/* matmul_attack.c: an untrusted U-mode task given the matrix coprocessor's slot tries to get
 * at M-mode's data through it, and to leave state behind for M (issue 17, tests/
 * test_isolation_matmul.py).  One line per case:
 *
 *   case acc: ...            M's accumulators: U's MAC with A = 0 after the grant
 *   case requant: ...        M's requantizer parameters: U's INT8 operation without its own
 *   case regs: ...           M's parameter registers (addresses, sizes, QMUL...) read by U
 *   case dma-read-m: ...     U's descriptor reading M's secret
 *   case dma-write-m: ...    U's descriptor writing over M's data
 *   case ctl-page: ...       U writing the M-only control section (windows, owner, wipe)
 *   case irq: ...            U's DONE raising M's interrupt line
 *   case revoke-mid-op: ...  M takes the slot back while U's operation streams
 *   case u-leftovers: ...    U's accumulators and registers left for M's next operations
 *   done secret=ok
 *
 * First a control: M's own MAC with A = 0 right after its work (no wipe) returns its
 * products, so the "acc" case's zeros come from the grant's wipe.
 *
 * Before each case M uses the coprocessor itself on its secret (leaving accumulators,
 * buffers and parameters), then lends the slot: OWNER = U (the hardware aborts, closes the
 * windows and wipes), one window over the task's own region, a PMP entry giving U the slot
 * page.  Afterwards it takes the slot back (OWNER = M: abort, close, wipe) and checks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/copro.h"
#include "gluon/matmul.h"
#include "gluon/pmp.h"
#include "gluon/regs.h"
#include "gluon/sdk.h"

#define SLOT GLUON_MATMUL_SLOT
#define DIM 16

/* M-mode's data: a secret A, its B, its C and a canary; no PMP access for U. */
static struct {
    int8_t a[DIM * DIM];
    int8_t b[DIM * DIM];
    int32_t c[DIM * DIM];
    int8_t c8[DIM * DIM];
    int32_t canary[64];
} msec __attribute__((aligned(4096)));

/* The task's region (its buffers and its stack): read/write for U, its DMA window. */
static struct {
    int8_t a[256];
    int8_t b[256];
    int32_t c[256];
    uint32_t regs[16];
    uint32_t status[4];
    uint32_t stack[512];
    uint8_t pad[4096 - 256 - 256 - 1024 - 64 - 16 - 2048];   /* one NAPOT region */
} ureg __attribute__((aligned(4096)));

static volatile int ucase;
static int faults;
static uint32_t secret_sum;

enum { ACC = 1, REQUANT, DMA_READ_M, DMA_WRITE_M, CTL_PAGE, IRQ, REVOKE_MID, LEFTOVERS };

void gluon_trap_handler(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    (void)mepc; (void)mtval;
    gluon_user_check_exit(mcause);
    faults++;
    gluon_trap_skip();
}

static uint32_t sum_secret(void)
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < sizeof msec.a; i++)
        h = (h ^ (uint8_t)msec.a[i]) * 16777619u;
    for (unsigned i = 0; i < 64; i++)
        h = (h ^ (uint32_t)msec.canary[i]) * 16777619u;
    return h;
}

/* ---- the task (U-mode): the slot page only ---------------------------------------------- */

static void u_program(const void *a, uint32_t lda, const void *b, uint32_t ldb, void *c,
                      uint32_t ldc, uint32_t m, uint32_t n, uint32_t k, uint32_t mode)
{
    GLUON_MATMUL_A_ADDR = (uint32_t)(uintptr_t)a;
    GLUON_MATMUL_B_ADDR = (uint32_t)(uintptr_t)b;
    GLUON_MATMUL_C_ADDR = (uint32_t)(uintptr_t)c;
    GLUON_MATMUL_A_STRIDE = lda;
    GLUON_MATMUL_B_STRIDE = ldb;
    GLUON_MATMUL_C_STRIDE = ldc;
    GLUON_MATMUL_M = m;
    GLUON_MATMUL_N = n;
    GLUON_MATMUL_K = k;
    GLUON_MATMUL_MODE = mode;
}

static uint32_t u_run(uint32_t op)
{
    GLUON_MATMUL_START = op << GLUON_MATMUL_START_OP_SHIFT;
    uint32_t st;
    while ((st = GLUON_MATMUL_STATUS) & GLUON_MATMUL_STATUS_BUSY_MASK)
        ;
    return st;
}

static void task(void)
{
    const uint32_t i32 = GLUON_MATMUL_MODE_STORE_INT32 << GLUON_MATMUL_MODE_STORE_SHIFT;
    const uint32_t i8 = GLUON_MATMUL_MODE_STORE_INT8 << GLUON_MATMUL_MODE_STORE_SHIFT;
    switch (ucase) {
    case ACC:       /* every block register, then C += 0·B on whatever accumulators it finds */
        for (unsigned i = 0; i < 16; i++)
            ureg.regs[i] = *(volatile uint32_t *)(GLUON_MATMUL_BASE + GLUON_MATMUL_A_ADDR_OFFSET + 4 * i);
        u_program(ureg.a, DIM, ureg.b, DIM, ureg.c, 4 * DIM, DIM, DIM, DIM, i32);
        ureg.status[0] = u_run(GLUON_MATMUL_START_OP_MAC);
        break;
    case REQUANT:   /* INT8 output with the requantizer parameters it finds */
        u_program(ureg.a, DIM, ureg.b, DIM, ureg.c, DIM, DIM, DIM, DIM, i8);
        ureg.status[0] = u_run(GLUON_MATMUL_START_OP_MUL);
        break;
    case DMA_READ_M:    /* A = M's secret, C into its own buffer */
        u_program(msec.a, DIM, ureg.b, DIM, ureg.c, 4 * DIM, DIM, DIM, DIM, i32);
        ureg.status[0] = u_run(GLUON_MATMUL_START_OP_MUL);
        u_program(ureg.a, DIM, msec.b, DIM, ureg.c, 4 * DIM, DIM, DIM, DIM, i32);
        ureg.status[1] = u_run(GLUON_MATMUL_START_OP_MUL);
        break;
    case DMA_WRITE_M:   /* C over M's data */
        u_program(ureg.a, DIM, ureg.b, DIM, msec.canary, 4 * DIM, 4, DIM, DIM, i32);
        ureg.status[0] = u_run(GLUON_MATMUL_START_OP_MUL);
        break;
    case CTL_PAGE:      /* open a window over M's secret, take the owner, wipe, ask the irq */
        GLUON_COPROCTL_WIN1_BASE(SLOT) = (uint32_t)(uintptr_t)&msec;
        GLUON_COPROCTL_WIN1_LIMIT(SLOT) = (uint32_t)(uintptr_t)&msec + sizeof msec;
        GLUON_COPROCTL_WIN1_CTRL(SLOT) = GLUON_COPROCTL_WIN1_CTRL_R_MASK;
        GLUON_COPROCTL_OWNER(SLOT) = 0;
        GLUON_COPROCTL_CTRL(SLOT) = GLUON_COPROCTL_CTRL_WIPE_MASK;
        ureg.regs[0] = GLUON_COPROCTL_WIN0_BASE(SLOT);
        /* then read the secret through the window it hoped to open */
        u_program(msec.a, DIM, ureg.b, DIM, ureg.c, 4 * DIM, DIM, DIM, DIM, i32);
        ureg.status[0] = u_run(GLUON_MATMUL_START_OP_MUL);
        break;
    case IRQ:           /* an operation of its own: DONE stays set */
        u_program(ureg.a, DIM, ureg.b, DIM, ureg.c, 4 * DIM, DIM, DIM, DIM, i32);
        ureg.status[0] = u_run(GLUON_MATMUL_START_OP_MUL);
        break;
    case REVOKE_MID:    /* a long operation (K = 256, every row of C at the same place), left running */
        u_program(ureg.a, 0, ureg.b, 0, ureg.c, 0, 64, 64, 256, i32);
        GLUON_MATMUL_START = GLUON_MATMUL_START_OP_MUL << GLUON_MATMUL_START_OP_SHIFT;
        break;
    case LEFTOVERS:     /* big accumulators (no store), then registers aimed at M's data */
        u_program(ureg.a, DIM, ureg.b, DIM, ureg.c, 4 * DIM, DIM, DIM, DIM, 0);
        ureg.status[0] = u_run(GLUON_MATMUL_START_OP_MUL);
        u_program(msec.a, DIM, msec.b, DIM, msec.canary, 4 * DIM, DIM, DIM, DIM, i32);
        GLUON_MATMUL_BIAS_ADDR = (uint32_t)(uintptr_t)msec.canary;
        GLUON_MATMUL_QMUL = 0x7fffffff;
        GLUON_MATMUL_QZP = 0x55;
        break;
    }
    gluon_user_exit(0);
}

/* ---- M-mode ----------------------------------------------------------------------------- */

static void lend(void)
{
    GLUON_COPROCTL_OWNER(SLOT) = GLUON_COPROCTL_OWNER_U_MASK;   /* abort, close, wipe */
    while (GLUON_COPROCTL_STATUS(SLOT) & GLUON_COPROCTL_STATUS_WIPING_MASK)
        ;
    gluon_copro_window(SLOT, 0, &ureg, sizeof ureg, GLUON_COPRO_R | GLUON_COPRO_W);
}

static void take_back(void)
{
    GLUON_COPROCTL_OWNER(SLOT) = 0;                               /* abort, close, wipe */
    while (GLUON_COPROCTL_STATUS(SLOT) & GLUON_COPROCTL_STATUS_WIPING_MASK)
        ;
    gluon_matmul_window(0, &msec, sizeof msec);
}

/* M's own work on its secret: leaves its products in the accumulators, its addresses and
 * requantizer parameters in the registers. */
static int m_work(void)
{
    gluon_requant rq = {0x7ffffff0, 0, 5, 0, NULL};
    int e1 = gluon_matmul_i8_i32(DIM, DIM, DIM, msec.a, DIM, msec.b, DIM, msec.c, 4 * DIM, NULL);
    int e2 = gluon_matmul_i8(DIM, DIM, DIM, msec.a, DIM, msec.b, DIM, msec.c8, DIM, &rq);
    return e1 | e2 | !gluon_matmul_last_was_hw();
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static uint32_t cause(uint32_t st)
{
    return (st & GLUON_MATMUL_STATUS_CAUSE_MASK) >> GLUON_MATMUL_STATUS_CAUSE_SHIFT;
}

/* M's work, the grant, the task's case c; the task's A is a_fill, its B a pattern (or b_fill). */
static int run_case(int c, int a_fill, int b_fill)
{
    memset(&ureg, 0, offsetof(__typeof__(ureg), stack));
    memset(ureg.a, a_fill, sizeof ureg.a);
    for (unsigned i = 0; i < sizeof ureg.b; i++)
        ureg.b[i] = b_fill ? (int8_t)b_fill : (int8_t)(i * 7 + 3);
    if (m_work())
        printf("M's own work failed\n");
    lend();
    ucase = c;
    faults = 0;
    return gluon_run_user(task, ureg.stack + 512);
}

static int m_mac_zero(void)
{
    /* M: C += 0·B directly on the registers; nonzero C means accumulators were inherited. */
    static const int8_t zero_row[DIM] __attribute__((aligned(4)));
    static int32_t out[DIM * DIM] __attribute__((aligned(4)));
    gluon_matmul_window(1, zero_row, sizeof zero_row);
    gluon_matmul_window(2, out, sizeof out);
    memset(out, 0x5a, sizeof out);
    GLUON_MATMUL_A_ADDR = (uint32_t)(uintptr_t)zero_row;
    GLUON_MATMUL_A_STRIDE = 0;
    GLUON_MATMUL_B_ADDR = (uint32_t)(uintptr_t)msec.b;
    GLUON_MATMUL_B_STRIDE = DIM;
    GLUON_MATMUL_C_ADDR = (uint32_t)(uintptr_t)out;
    GLUON_MATMUL_C_STRIDE = 4 * DIM;
    GLUON_MATMUL_M = DIM;
    GLUON_MATMUL_N = DIM;
    GLUON_MATMUL_K = DIM;
    GLUON_MATMUL_MODE = GLUON_MATMUL_MODE_STORE_INT32 << GLUON_MATMUL_MODE_STORE_SHIFT;
    __asm__ volatile("fence" ::: "memory");
    GLUON_MATMUL_START = GLUON_MATMUL_START_OP_MAC << GLUON_MATMUL_START_OP_SHIFT;
    uint32_t st;
    while ((st = GLUON_MATMUL_STATUS) & GLUON_MATMUL_STATUS_BUSY_MASK)
        ;
    GLUON_MATMUL_STATUS = GLUON_MATMUL_STATUS_DONE_MASK | GLUON_MATMUL_STATUS_ERROR_MASK;
    __asm__ volatile("fence" ::: "memory");
    return !(st & GLUON_MATMUL_STATUS_ERROR_MASK) && all_zero(out, sizeof out);
}

static int block_regs_zero(void)
{
    for (unsigned i = 0; i < 16; i++)
        if (*(volatile uint32_t *)(GLUON_MATMUL_BASE + GLUON_MATMUL_A_ADDR_OFFSET + 4 * i))
            return 0;
    return GLUON_MATMUL_STATUS == 0 && GLUON_MATMUL_CYCLES == 0;
}

int main(void)
{
    if (!gluon_matmul_present()) {
        printf("matmul_attack: no matrix coprocessor\n");
        return 1;
    }
    uint32_t x = 0x5EC2E7u;
    for (unsigned i = 0; i < sizeof msec.a; i++) {
        x = x * 1664525u + 1013904223u;
        msec.a[i] = (int8_t)(x >> 24);
        msec.b[i] = (int8_t)(x >> 16);
    }
    for (unsigned i = 0; i < 64; i++)
        msec.canary[i] = (int32_t)(0xC0DE0000u + i);
    secret_sum = sum_secret();

    /* PMP (the SDK owns 0-2): 3 M's data, no access; 4 the task's region; 5 the slot page;
     * 6 RAM read/execute (the task's code). */
    if (gluon_pmp_napot(3, (uintptr_t)&msec, sizeof msec, 0) ||
        gluon_pmp_napot(4, (uintptr_t)&ureg, sizeof ureg, GLUON_PMP_R | GLUON_PMP_W) ||
        gluon_pmp_napot(5, GLUON_MATMUL_BASE, GLUON_MATMUL_SIZE, GLUON_PMP_R | GLUON_PMP_W) ||
        gluon_pmp_napot(6, GLUON_SYSINFO_RAM_BASE, GLUON_SYSINFO_RAM_SIZE,
                        GLUON_PMP_R | GLUON_PMP_X)) {
        printf("PMP set-up failed\n");
        return 1;
    }
    GLUON_COPROCTL_CTRL(SLOT) = GLUON_COPROCTL_CTRL_IRQ_EN_MASK;
    gluon_matmul_window(0, &msec, sizeof msec);

    /* Control: without a wipe, M's accumulators are there for the next MAC to return. */
    int held = !m_work() && !m_mac_zero();
    printf("control: MAC after M's work without a wipe returns M's products: %s\n",
           held ? "yes" : "NO");

    /* acc: U's C = the accumulators it found + 0: zeros, not M's products. */
    int code = run_case(ACC, 0, 0);
    int regs_zero = all_zero(ureg.regs, sizeof ureg.regs);
    printf("case acc: code=%d status=0x%x zeros=%s\n", code, (unsigned)ureg.status[0],
           all_zero(ureg.c, DIM * DIM * 4) ? "yes" : "NO");
    printf("case regs: %s\n", regs_zero ? "all zero" : "M'S VALUES");
    take_back();

    /* requant: with M's QMUL = 0x7ffffff0, QZP = 5 left, every byte would be nonzero. */
    code = run_case(REQUANT, 0, 0);
    printf("case requant: code=%d status=0x%x zeros=%s\n", code, (unsigned)ureg.status[0],
           all_zero(ureg.c, DIM * DIM) ? "yes" : "NO");
    take_back();

    code = run_case(DMA_READ_M, 0, 0);
    printf("case dma-read-m: code=%d cause=%u,%u c_untouched=%s secret=%s\n", code,
           (unsigned)cause(ureg.status[0]), (unsigned)cause(ureg.status[1]),
           all_zero(ureg.c, sizeof ureg.c) ? "yes" : "NO",
           sum_secret() == secret_sum ? "ok" : "CHANGED");
    take_back();

    code = run_case(DMA_WRITE_M, 0, 0);
    printf("case dma-write-m: code=%d cause=%u secret=%s\n", code,
           (unsigned)cause(ureg.status[0]), sum_secret() == secret_sum ? "ok" : "CHANGED");
    take_back();

    code = run_case(CTL_PAGE, 0, 0);
    uint32_t win1 = GLUON_COPROCTL_WIN1_CTRL(SLOT), owner = GLUON_COPROCTL_OWNER(SLOT);
    printf("case ctl-page: code=%d faults=%d win1=%u owner=%u cause=%u c_untouched=%s\n", code,
           faults, (unsigned)win1, (unsigned)owner, (unsigned)cause(ureg.status[0]),
           all_zero(ureg.c, sizeof ureg.c) ? "yes" : "NO");
    take_back();

    code = run_case(IRQ, 0, 0);
    uint32_t st = GLUON_MATMUL_STATUS;
    int mip = (read_csr(mip) >> GLUON_MATMUL_MIP_BIT) & 1;
    take_back();
    int mip_after = (read_csr(mip) >> GLUON_MATMUL_MIP_BIT) & 1;
    printf("case irq: code=%d done=%u mip=%d after_revoke done=%u mip=%d\n", code,
           (unsigned)((st & GLUON_MATMUL_STATUS_DONE_MASK) != 0), mip,
           (unsigned)((GLUON_MATMUL_STATUS & GLUON_MATMUL_STATUS_DONE_MASK) != 0), mip_after);

    /* revoke-mid-op: U's 64x64x256 operation runs when M takes the slot back; from the
     * acknowledge of M's store on, the task's C does not change. */
    code = run_case(REVOKE_MID, 1, 0);
    int streaming = 0;
    for (int i = 0; i < 100000 && !streaming; i++)     /* until the store writes C */
        streaming = ((volatile int32_t *)ureg.c)[0] != 0;
    int busy = (GLUON_MATMUL_STATUS & GLUON_MATMUL_STATUS_BUSY_MASK) != 0;
    GLUON_COPROCTL_OWNER(SLOT) = 0;
    (void)GLUON_COPROCTL_OWNER(SLOT);
    memset(ureg.c, 0, sizeof ureg.c);
    __asm__ volatile("fence" ::: "memory");
    while (GLUON_COPROCTL_STATUS(SLOT) & GLUON_COPROCTL_STATUS_WIPING_MASK)
        ;
    for (volatile int i = 0; i < 3000; i++)
        ;
    int unchanged = all_zero((const void *)ureg.c, sizeof ureg.c);
    gluon_matmul_window(0, &msec, sizeof msec);
    printf("case revoke-mid-op: code=%d streaming=%d busy=%d c_unchanged=%s wiped=%s\n", code,
           streaming, busy, unchanged ? "yes" : "NO", block_regs_zero() ? "yes" : "NO");

    /* u-leftovers: U's accumulators (127·127·16) and registers aimed at M's data; after the
     * revoke M's MAC starts from zero and M's driver calls are exact. */
    code = run_case(LEFTOVERS, 127, 127);
    take_back();
    int wiped = block_regs_zero();
    int mac_zero = m_mac_zero();
    static int8_t hw[DIM * DIM], sw[DIM * DIM];
    gluon_requant rq = {1518500250, 8, -3, 1, NULL};
    gluon_matmul_window(1, hw, sizeof hw);
    int e = gluon_matmul_i8(DIM, DIM, DIM, msec.a, DIM, msec.b, DIM, hw, DIM, &rq);
    gluon_matmul_i8_sw(DIM, DIM, DIM, msec.a, DIM, msec.b, DIM, sw, DIM, &rq);
    printf("case u-leftovers: code=%d status=0x%x wiped=%s m_mac_zero=%s m_exact=%s secret=%s\n",
           code, (unsigned)ureg.status[0], wiped ? "yes" : "NO", mac_zero ? "yes" : "NO",
           e == 0 && memcmp(hw, sw, sizeof hw) == 0 ? "yes" : "NO",
           sum_secret() == secret_sum ? "ok" : "CHANGED");

    printf("done secret=%s\n", sum_secret() == secret_sum ? "ok" : "CHANGED");
    return 0;
}

_Static_assert(sizeof ureg == 4096 && sizeof msec == 2048, "PMP NAPOT regions");
