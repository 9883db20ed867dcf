/* Gluon C runtime start-up: reset vector, trap entry, host interface.
 *
 * RV32IM + Zicsr, machine mode only (RISC-V privileged spec 1.12:
 * mtvec direct mode, mcause/mepc/mtval, mret).
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

    /* Zero .bss; link.ld aligns both ends to 4 bytes. */
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:
    li      a0, 0               /* argc */
    li      a1, 0               /* argv */
    call    main
    /* main's return value is already in a0 */
    call    exit
3:  j       3b
    .size _start, . - _start


/* Trap entry (mtvec, direct mode).  Saves every integer register in a
 * 32-word frame on the current stack (frame[i] holds x_i; frame[0] = 0,
 * frame[2] = sp at the trap), points gluon_trap_regs at it, calls
 * gluon_trap_handler(mcause, mepc, mtval), restores the registers from the
 * frame (so a handler may change them, except sp) and returns with mret to
 * whatever mepc holds then: a handler that wants to skip the trapping
 * instruction writes mepc + 4 to mepc.
 */
    .section .text.gluon_trap_entry, "ax", @progbits
    .balign 4                   /* mtvec direct mode: 4-byte aligned */
    .globl gluon_trap_entry
    .type gluon_trap_entry, @function
gluon_trap_entry:
    addi    sp, sp, -128
    sw      x1,    4(sp)
    sw      x3,   12(sp)
    sw      x4,   16(sp)
    sw      x5,   20(sp)
    sw      x6,   24(sp)
    sw      x7,   28(sp)
    sw      x8,   32(sp)
    sw      x9,   36(sp)
    sw      x10,  40(sp)
    sw      x11,  44(sp)
    sw      x12,  48(sp)
    sw      x13,  52(sp)
    sw      x14,  56(sp)
    sw      x15,  60(sp)
    sw      x16,  64(sp)
    sw      x17,  68(sp)
    sw      x18,  72(sp)
    sw      x19,  76(sp)
    sw      x20,  80(sp)
    sw      x21,  84(sp)
    sw      x22,  88(sp)
    sw      x23,  92(sp)
    sw      x24,  96(sp)
    sw      x25, 100(sp)
    sw      x26, 104(sp)
    sw      x27, 108(sp)
    sw      x28, 112(sp)
    sw      x29, 116(sp)
    sw      x30, 120(sp)
    sw      x31, 124(sp)
    sw      zero,  0(sp)
    addi    t0, sp, 128
    sw      t0,    8(sp)

    /* Keep the previous frame pointer so nested traps restore it. */
    la      t0, gluon_trap_regs
    lw      s0, 0(t0)
    sw      sp, 0(t0)

    csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    call    gluon_trap_handler

    la      t0, gluon_trap_regs
    sw      s0, 0(t0)

    lw      x1,    4(sp)
    lw      x3,   12(sp)
    lw      x4,   16(sp)
    lw      x5,   20(sp)
    lw      x6,   24(sp)
    lw      x7,   28(sp)
    lw      x8,   32(sp)
    lw      x9,   36(sp)
    lw      x10,  40(sp)
    lw      x11,  44(sp)
    lw      x12,  48(sp)
    lw      x13,  52(sp)
    lw      x14,  56(sp)
    lw      x15,  60(sp)
    lw      x16,  64(sp)
    lw      x17,  68(sp)
    lw      x18,  72(sp)
    lw      x19,  76(sp)
    lw      x20,  80(sp)
    lw      x21,  84(sp)
    lw      x22,  88(sp)
    lw      x23,  92(sp)
    lw      x24,  96(sp)
    lw      x25, 100(sp)
    lw      x26, 104(sp)
    lw      x27, 108(sp)
    lw      x28, 112(sp)
    lw      x29, 116(sp)
    lw      x30, 120(sp)
    lw      x31, 124(sp)
    addi    sp, sp, 128
    mret
    .size gluon_trap_entry, . - gluon_trap_entry


/* riscv-tests host interface.  A store to tohost ends a simulation:
 * 1 = pass, any other odd value (code << 1) | 1 = fail with that code.
 * Both words are 8-byte aligned 64-bit slots, as in riscv-tests; only the
 * low 32 bits of tohost are used.
 */
    .section .tohost, "aw", @progbits
    .balign 8
    .globl tohost
    .type tohost, @object
    .size tohost, 4
tohost:
    .word 0
    .word 0
    .balign 8
    .globl fromhost
    .type fromhost, @object
    .size fromhost, 4
fromhost:
    .word 0
    .word 0
