/* Start-up code for the bare board firmware: stack, zeroed .bss, main, then report the
 * return value through tohost (riscv-tests convention: 1 = pass, (n << 1) | 1 = fail n),
 * which the board top shows on its LEDs. No trap handler: this firmware takes no traps.
 *
 * Built with -DBOOT_LOADER for the UART boot loader (boot.c, boot.ld): one jump at the reset
 * vector leads up to the loader at the top of RAM, and main() returns the entry point of the
 * program it loaded: fence.i makes the loaded code visible to instruction fetch, and the
 * registers the program could see are cleared before the jump. */
#ifdef BOOT_LOADER
    .section .reset, "ax", @progbits
    .globl _reset
_reset:
    j       _start
#endif

    .section .text.init, "ax", @progbits
    .globl _start
_start:
    la      sp, __stack_top
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:  call    main
#ifdef BOOT_LOADER
    fence.i
    mv      t0, a0
    li      ra, 0
    li      sp, 0
    li      a0, 0
    li      a1, 0
    jr      t0
#else
    andi    a0, a0, 0xff            /* exit code n -> (n << 1) | 1; 0 -> 1 */
    slli    a0, a0, 1
    ori     a0, a0, 1
    la      t0, tohost
    sw      a0, 0(t0)
4:  wfi
    j       4b
#endif

    .section .tohost, "aw", @progbits
    .align  3
    .globl  tohost
tohost:
    .word   0
    .word   0
