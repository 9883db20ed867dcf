/* Gluon C runtime start-up: reset vector, trap entry, host interface.
 *
 * RV32IM + Zicsr, M and U modes (RISC-V privileged spec 20211203: mtvec
 * direct mode, mscratch, mcause/mepc/mtval, mret; PMP, section 3.7).
 *
 * The ELF is loaded into RAM as-is, so nothing is copied here: .data already
 * sits at its run address.  Reset enters _start at the RAM base
 * (0x8000_0000); link.ld puts .text.init first to make that so.
 */

    .section .text.init, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    /* gp must be loaded without relaxation, or the linker would turn
       this very instruction into a gp-relative one. */
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop

    la      sp, __stack_top

    la      t0, gluon_trap_entry
    csrw    mtvec, t0
    csrw    mscratch, zero      /* 0: the hart is in M-mode (see the trap entry) */

    /* The SDK's PMP entries (gluon/pmp.h), addresses first:
     *   0  OFF, pmpaddr0 = the guard's bottom (the base of entry 1's range)
     *   1  TOR [guard bottom, guard top), locked, no permission: the M-stack
     *      guard; locking it also locks pmpaddr0
     *   2  TOR [guard top, RAM top), no permission, unlocked: U-mode gets
     *      nothing of M's stack, the SDK's M-mode state and tohost
     * On a core without PMP these CSRs read zero and the writes do nothing. */
    la      t0, __stack_guard_start
    srli    t0, t0, 2
    csrw    pmpaddr0, t0
    la      t0, __stack_guard_end
    srli    t0, t0, 2
    csrw    pmpaddr1, t0
    la      t0, __ram_end
    srli    t0, t0, 2
    csrw    pmpaddr2, t0
    li      t0, (0x08 << 16) | (0x88 << 8)     /* entry 2: A=TOR; entry 1: L, A=TOR */
    csrw    pmpcfg0, t0

    /* Zero .bss and the SDK's M-mode words; link.ld aligns the ends to 4 bytes. */
    la      t0, __bss_start
    la      t1, __bss_end
    call    .Lzero
    la      t0, __mdata_start
    la      t1, __mdata_end
    call    .Lzero
    li      a0, 0               /* argc */
    li      a1, 0               /* argv */
    call    main
    /* main's return value is already in a0 */
    call    exit
3:  j       3b

.Lzero:                         /* zero the words of [t0, t1) */
    bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       .Lzero
2:  ret
    .size _start, . - _start


/* Trap entry (mtvec, direct mode).
 *
 * Every trap is handled in M-mode on M-mode's own stack; the stack pointer a
 * trap arrives with is never written through when it came from U-mode.
 * mscratch says where the trap came from, the standard RISC-V way: it is 0
 * while the hart runs in M-mode, and holds M's stack pointer (gluon_run_user's
 * saved context) while a U-mode task runs.  `csrrw sp, mscratch, sp` then
 * swaps in M's stack, or (from M) yields 0 and is undone.
 *
 * The frame (struct gluon_trap_frame, gluon/sdk.h; 160 bytes on the M stack)
 * holds x1..x31 (x[2] = sp at the trap), mepc, mstatus, the interrupted
 * handler's frame, mcause, the trap's number (gluon_trap_epoch) and mepc and
 * mstatus as the trap left them.  gluon_trap_regs points at it while
 * gluon_trap_handler(mcause, mepc, mtval) runs.  On return the registers are
 * written back from the frame, and mepc/mstatus are taken:
 *  - from the frame, if the handler changed them there (gluon_trap_skip(), or
 *    frame->mstatus for MPP), or if another trap was taken while the handler
 *    ran (its entry overwrote the CSRs; the frame kept this trap's values);
 *  - from the CSRs otherwise, so `write_csr(mepc, mepc + 4)` in a handler
 *    works as on any RISC-V M-mode runtime.
 * Either way MIE is 0 until mret.
 *
 * Nesting: handlers run with interrupts off (the hardware clears MIE; the
 * entry does not set it).  A trap inside a handler (an exception, or an
 * interrupt if the handler enabled MIE) nests: it pushes another frame on
 * the M stack, and the outer handler resumes with its own mepc and mstatus.
 *
 * Fatal, reported by gluon_trap_fatal() from the top of the M stack:
 *  - no room for a frame above the stack guard: M-mode's stack overflowed
 *    (exit code GLUON_EXIT_STACK_OVERFLOW);
 *  - a trap from U-mode with mscratch = 0: U was entered some other way than
 *    gluon_run_user, and no M stack is known (exit code GLUON_EXIT_TRAP).
 */
    .equ FRAME, 160
    .equ F_MEPC, 128
    .equ F_MSTATUS, 132
    .equ F_PREV, 136
    .equ F_MCAUSE, 140
    .equ F_EPOCH, 144
    .equ F_MEPC0, 148
    .equ F_MSTATUS0, 152

    .macro SAVE_REGS              /* x1, x3..x31 (sp and x0 apart) */
    sw      x1,    4(sp)
    .irp r, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sw      x\r, \r*4(sp)
    .endr
    .endm

    .macro RESTORE_REGS
    lw      x1,    4(sp)
    .irp r, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    lw      x\r, \r*4(sp)
    .endr
    .endm

    .section .text.gluon_trap_entry, "ax", @progbits
    .balign 4                   /* mtvec direct mode: 4-byte aligned */
    .globl gluon_trap_entry
    .type gluon_trap_entry, @function
gluon_trap_entry:
    csrrw   sp, mscratch, sp    /* from U: sp = M stack, mscratch = U's sp; from M: sp = 0 */
    beqz    sp, .Lfrom_m

    /* From U-mode: the frame goes just below gluon_run_user's context (it
     * checked there is room above the guard). */
    addi    sp, sp, -FRAME
    SAVE_REGS
    csrrw   t0, mscratch, zero  /* U's sp into the frame; mscratch = 0: in M from here */
    sw      t0, 8(sp)
    .option push
    .option norelax
    la      gp, __global_pointer$   /* U may have changed gp; M's code relies on it */
    .option pop
    j       .Lsaved

.Lfrom_m:
    csrrw   sp, mscratch, sp    /* sp back, mscratch = 0 */
    csrw    mscratch, t0        /* park t0 (nothing here can trap) */
    csrr    t0, mstatus
    srli    t0, t0, 11
    andi    t0, t0, 3
    beqz    t0, .Lstray_u       /* MPP = U, yet no M stack was set for U */
    la      t0, __stack_guard_end + FRAME
    bltu    sp, t0, .Loverflow  /* the frame would not fit above the guard */
    csrrw   t0, mscratch, zero  /* t0 back, mscratch = 0 again */
    addi    sp, sp, -FRAME
    SAVE_REGS
    addi    t0, sp, FRAME
    sw      t0, 8(sp)

.Lsaved:
    sw      zero, 0(sp)
    csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    csrr    t0, mstatus
    sw      a1, F_MEPC(sp)
    sw      t0, F_MSTATUS(sp)
    sw      a0, F_MCAUSE(sp)
    sw      a1, F_MEPC0(sp)
    sw      t0, F_MSTATUS0(sp)
    la      t1, gluon_trap_epoch    /* this trap's number: a later one changes it */
    lw      t2, 0(t1)
    addi    t2, t2, 1
    sw      t2, 0(t1)
    sw      t2, F_EPOCH(sp)
    la      t1, gluon_trap_regs /* the interrupted handler's frame (or NULL) */
    lw      t2, 0(t1)
    sw      t2, F_PREV(sp)
    sw      sp, 0(t1)
    call    gluon_trap_handler

    lw      t0, F_PREV(sp)
    la      t1, gluon_trap_regs
    sw      t0, 0(t1)
    la      t1, gluon_trap_epoch
    lw      t1, 0(t1)
    lw      t2, F_EPOCH(sp)
    sub     t2, t1, t2          /* 0: no trap was taken while the handler ran */
    lw      t0, F_MEPC(sp)
    bnez    t2, 3f
    lw      t1, F_MEPC0(sp)
    bne     t0, t1, 3f          /* the handler changed the frame's mepc */
    csrr    t0, mepc            /* else the CSR, as the trap or the handler left it */
3:  csrw    mepc, t0
    lw      t0, F_MSTATUS(sp)
    bnez    t2, 4f
    lw      t1, F_MSTATUS0(sp)
    bne     t0, t1, 4f
    csrr    t0, mstatus
4:  andi    t0, t0, ~8          /* MIE = 0: no interrupt until mret */
    csrw    mstatus, t0
    srli    t0, t0, 11
    andi    t0, t0, 3
    bnez    t0, 1f
    addi    t0, sp, FRAME       /* back to U: its next trap finds this M stack */
    csrw    mscratch, t0
1:  RESTORE_REGS
    lw      sp, 8(sp)
    mret

.Loverflow:
    li      a4, 1               /* gluon_trap_fatal's kind: M stack overflow */
    j       .Lfatal
.Lstray_u:
    li      a4, 2               /* kind: a trap from U with no M stack */
.Lfatal:
    mv      a3, sp              /* sp at the trap, reported, never written through */
    csrw    mscratch, zero
    la      sp, __stack_top     /* the run ends: report from the top of the M stack */
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      t0, gluon_trap_regs
    sw      zero, 0(t0)
    csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    call    gluon_trap_fatal
2:  j       2b
    .size gluon_trap_entry, . - gluon_trap_entry


/* riscv-tests host interface.  A store to tohost ends a simulation:
 * 1 = pass, any other odd value (code << 1) | 1 = fail with that code.
 * Both words are 8-byte aligned 64-bit slots, as in riscv-tests; only the
 * low 32 bits of tohost are used.  link.ld puts them at the top of RAM
 * (NOLOAD: not in the image; nothing reads them before a store).
 */
    .section .tohost, "aw", @nobits
    .balign 8
    .globl tohost
    .type tohost, @object
    .size tohost, 4
tohost:
    .zero 8
    .globl fromhost
    .type fromhost, @object
    .size fromhost, 4
fromhost:
    .zero 8
