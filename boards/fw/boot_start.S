/* Start-up of the UART boot loader: the reset vector jumps to the loader at the top of RAM,
 * which sets its stack (also at the top), zeroes its .bss and runs boot_main(). boot_main()
 * returns only the entry point of a loaded program: a fence.i makes the loaded code visible
 * to instruction fetch, and the registers the program could see are cleared before the jump. */
    .section .reset, "ax", @progbits
    .globl _reset
_reset:
    j       _start

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
2:  call    boot_main
    fence.i
    mv      t0, a0
    li      ra, 0
    li      sp, 0
    li      a0, 0
    li      a1, 0
    jr      t0

    .section .tohost, "aw", @progbits
    .align  3
    .globl  tohost
tohost:
    .word   0
    .word   0
