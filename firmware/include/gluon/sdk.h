/* Gluon SDK: UART, timer, CSR access, traps and the host interface.
 *
 * CSR names and bits follow the RISC-V privileged specification 20211203
 * (M and U modes) and the Zicsr/Zicntr chapters of the unprivileged
 * specification 20191213.
 */
#ifndef GLUON_SDK_H
#define GLUON_SDK_H

#include <stddef.h>
#include <stdint.h>

#include "gluon/regs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CSR access -------------------------------------------------------
 * `reg` is a CSR name the assembler knows (mstatus, mie, mtvec, mscratch,
 * mepc, mcause, mtval, mip, cycle, instret, ...) or a 12-bit number.
 */
#define GLUON_STR_(x) #x
#define GLUON_STR(x) GLUON_STR_(x)

#define read_csr(reg) __extension__({                                      \
        uint32_t __v;                                                      \
        __asm__ volatile("csrr %0, " GLUON_STR(reg) : "=r"(__v));          \
        __v; })

#define write_csr(reg, val) __extension__({                                \
        __asm__ volatile("csrw " GLUON_STR(reg) ", %0"                     \
                         :: "rK"((uint32_t)(val)) : "memory"); })

/* set_csr/clear_csr/swap_csr return the CSR's previous value. */
#define set_csr(reg, bits) __extension__({                                 \
        uint32_t __v;                                                      \
        __asm__ volatile("csrrs %0, " GLUON_STR(reg) ", %1"                \
                         : "=r"(__v) : "rK"((uint32_t)(bits)) : "memory"); \
        __v; })

#define clear_csr(reg, bits) __extension__({                               \
        uint32_t __v;                                                      \
        __asm__ volatile("csrrc %0, " GLUON_STR(reg) ", %1"                \
                         : "=r"(__v) : "rK"((uint32_t)(bits)) : "memory"); \
        __v; })

#define swap_csr(reg, val) __extension__({                                 \
        uint32_t __v;                                                      \
        __asm__ volatile("csrrw %0, " GLUON_STR(reg) ", %1"                \
                         : "=r"(__v) : "rK"((uint32_t)(val)) : "memory");  \
        __v; })

#define GLUON_MSTATUS_MIE       (1u << 3)
#define GLUON_MSTATUS_MPIE      (1u << 7)
#define GLUON_MSTATUS_MPP       (3u << 11)
#define GLUON_MSTATUS_MPRV      (1u << 17)
#define GLUON_MIE_MSIE          (1u << 3)   /* software (CLINT MSIP) */
#define GLUON_MIE_MTIE          (1u << 7)   /* timer (CLINT MTIMECMP) */
#define GLUON_MIE_MEIE          (1u << 11)  /* external */

#define GLUON_MCAUSE_INTERRUPT          (1u << 31)
#define GLUON_MCAUSE_INSN_MISALIGNED    0u
#define GLUON_MCAUSE_INSN_ACCESS        1u
#define GLUON_MCAUSE_ILLEGAL_INSN       2u
#define GLUON_MCAUSE_BREAKPOINT         3u
#define GLUON_MCAUSE_LOAD_MISALIGNED    4u
#define GLUON_MCAUSE_LOAD_ACCESS        5u
#define GLUON_MCAUSE_STORE_MISALIGNED   6u
#define GLUON_MCAUSE_STORE_ACCESS       7u
#define GLUON_MCAUSE_ECALL_U            8u
#define GLUON_MCAUSE_ECALL_M            11u
#define GLUON_MCAUSE_M_SOFTWARE_IRQ     (GLUON_MCAUSE_INTERRUPT | 3u)
#define GLUON_MCAUSE_M_TIMER_IRQ        (GLUON_MCAUSE_INTERRUPT | 7u)
#define GLUON_MCAUSE_M_EXTERNAL_IRQ     (GLUON_MCAUSE_INTERRUPT | 11u)

/* 64-bit cycle and retired-instruction counters (hi/lo/hi read, so a
 * carry between the two halves is never seen half-done). */
static inline uint64_t gluon_rdcycle(void)
{
    uint32_t hi, lo, hi2;
    do {
        hi = read_csr(cycleh);
        lo = read_csr(cycle);
        hi2 = read_csr(cycleh);
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t gluon_rdinstret(void)
{
    uint32_t hi, lo, hi2;
    do {
        hi = read_csr(instreth);
        lo = read_csr(instret);
        hi2 = read_csr(instreth);
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

/* ---- UART ------------------------------------------------------------- */
void gluon_uart_putc(char c);                 /* waits for TX FIFO room */
void gluon_uart_write(const char *s, size_t n);
int  gluon_uart_getc(void);                   /* waits for a byte; 0..255 */
int  gluon_uart_try_getc(void);               /* a byte 0..255, or -1 if none */

/* ---- Timer (CLINT mtime / mtimecmp) ----------------------------------
 * mtime is taken to count at the system clock, SYSINFO CLK_HZ.
 */
uint32_t gluon_timer_hz(void);
uint64_t gluon_mtime(void);
void     gluon_set_mtimecmp(uint64_t when);   /* never passes a spurious small value */
void     gluon_delay_ticks(uint64_t ticks);
void     gluon_delay_us(uint32_t us);

/* ---- Traps -------------------------------------------------------------
 * crt0 points mtvec at gluon_trap_entry, which saves the registers in a
 * frame on M-mode's stack (for a trap from U-mode: the M stack gluon_run_user
 * left in mscratch, never the task's sp) and calls gluon_trap_handler.  The
 * SDK's definition is weak: define your own to handle interrupts or ecalls.
 * On return the registers are written back from the frame and mret resumes
 * at mepc: change it in the frame (gluon_trap_skip() steps over the trapping
 * instruction) or write the mepc CSR (`write_csr(mepc, mepc + 4)`); a change
 * in the frame wins, and after a trap nested inside the handler only the
 * frame counts (that trap overwrote the CSR).  mstatus likewise.  Handlers
 * run with interrupts off; a trap inside a handler nests (its own frame) and
 * the handler then resumes unharmed.
 * gluon_trap_default prints mcause/mepc/mtval on the UART and ends the run
 * with exit(GLUON_EXIT_TRAP); the weak handler ends a U-mode task that traps
 * unexpectedly instead (gluon_run_user returns GLUON_USER_TRAPPED) and calls
 * gluon_trap_default for M-mode's own traps.
 */
struct gluon_trap_frame {
    uint32_t x[32];     /* x[i] = x_i at the trap; x[0] = 0; x[2] = sp at the trap */
    uint32_t mepc;      /* where mret resumes */
    uint32_t mstatus;   /* as at the trap: MPP = the privilege mret returns to, MIE = 0 */
    struct gluon_trap_frame *prev;  /* the handler's frame this trap interrupted, or NULL */
    uint32_t mcause;
    uint32_t epoch;            /* the trap's number (gluon_trap_epoch at its entry) */
    uint32_t mepc_at_trap;     /* mepc and mstatus as the trap left them */
    uint32_t mstatus_at_trap;
    uint32_t reserved;         /* keeps the frame a multiple of 16 bytes */
};

void gluon_trap_handler(uint32_t mcause, uint32_t mepc, uint32_t mtval);
__attribute__((noreturn))
void gluon_trap_default(uint32_t mcause, uint32_t mepc, uint32_t mtval);
void gluon_trap_entry(void);
const char *gluon_trap_cause_name(uint32_t mcause);

/* While a trap handler runs: the frame, as words (gluon_trap_regs[i] = x_i,
 * [2] is sp at the trap).  Changes are written back on return (x0 apart; for
 * a trap from M-mode leave [2] alone).  NULL outside a handler.  It lives in
 * M-mode's memory (.gluon_mdata), out of reach of U-mode tasks. */
extern uint32_t *volatile gluon_trap_regs;

static inline struct gluon_trap_frame *gluon_trap_frame(void)
{
    return (struct gluon_trap_frame *)gluon_trap_regs;
}

/* In a handler: resume after the trapping instruction (mepc + 4). */
static inline void gluon_trap_skip(void)
{
    gluon_trap_frame()->mepc += 4;
}

/* In a handler: the trap came from U-mode. */
static inline int gluon_trap_from_user(void)
{
    return (gluon_trap_frame()->mstatus & (3u << 11)) == 0;
}

/* The trap entry's fatal cases (kind 1: M-mode stack overflow, 2: a trap from U-mode entered
 * without gluon_run_user): report on the UART and end the run. Also called by
 * gluon_trap_default for a load/store access fault inside the stack guard (kind 1). */
__attribute__((noreturn))
void gluon_trap_fatal(uint32_t mcause, uint32_t mepc, uint32_t mtval, uint32_t sp, uint32_t kind);

/* The M-mode stack guard (link.ld): [__stack_guard_start, __stack_guard_end). */
extern char __stack_guard_start[], __stack_guard_end[], __stack_top[];

/* ---- Ending a run ------------------------------------------------------
 * exit(n) (or returning n from main) stores 1 to tohost for n == 0, else
 * (n << 1) | 1, with n taken modulo 256, then spins forever.
 */
#define GLUON_EXIT_TRAP 255   /* exit code of the default trap handler: tohost 0x1FF */
#define GLUON_EXIT_STACK_OVERFLOW 254   /* M-mode stack overflow: tohost 0x1FD */

extern volatile uint32_t tohost;
extern volatile uint32_t fromhost;

/* Store a raw tohost-style value to SIMCTRL EXIT (simulators only; M-mode only) and spin. */
__attribute__((noreturn)) void gluon_simctrl_exit(uint32_t value);

#ifdef __cplusplus
}
#endif

/* Coprocessor slots: per-slot DMA windows, wipe, lending to U-mode. */
#include "gluon/copro.h"

#endif /* GLUON_SDK_H */
