"""User mode and PMP (RISC-V privileged spec 20211203, sections 3.1.6, 3.3, 3.7): an untrusted
U-mode task that touches what it must not gets an access fault (or an illegal-instruction trap)
each time and changes nothing; locked entries bind M-mode too; TOR/NA4/NAPOT matching."""

import pytest

from asmprog import TRAP_RECORDER as HANDLER, run_asm, assemble, symbol

NAPOT_RAM = (0x8000_0000 >> 2) | ((128 * 1024 >> 3) - 1)       # 128 KiB at 0x8000_0000


def test_untrusted_user_task_is_stopped():
    body = HANDLER + f"""
    # entry 0: NA4, no permissions, over the key word (lowest index wins over entry 2)
    la t0, key
    srli t0, t0, 2
    csrw pmpaddr0, t0
    # entry 1: NAPOT over the UART..COPROCTL pages 0x1000_0000-0x1000_3FFF, U may read/write
    li t0, (0x10000000 >> 2) | ((0x4000 >> 3) - 1)
    csrw pmpaddr1, t0
    # entry 2: NAPOT over all of RAM, RWX for U
    li t0, {NAPOT_RAM:#x}
    csrw pmpaddr2, t0
    li t0, (0x18 << 0) | (0x1B << 8) | (0x1F << 16)   # A=NA4 ---, A=NAPOT RW-, A=NAPOT RWX
    csrw pmpcfg0, t0
    la t0, user
    csrw mepc, t0
    li t0, 0x1800
    csrc mstatus, t0              # MPP = U
    la s0, key
    li s1, 0x20000000             # a coprocessor slot (no PMP entry: denied)
    li s2, 0x10003010             # COPROCTL: slot 0's WIN0_BASE (PMP allows, fixed rule denies)
    li s3, 0x10000000             # UART (PMP allows, mapped: works)
    li s4, 0x02000000             # CLINT (no PMP entry: denied)
    mret
.align 2
user:
u0: lw a1, 0(s0)                  # read the key -> load access fault
u1: sw a1, 0(s0)                  # overwrite the key -> store access fault
u2: sw zero, 0(s1)                # start a coprocessor -> store access fault
u3: sw s0, 0(s2)                  # move slot 0's DMA window 0 -> store access fault (M-only rule)
u4: sw zero, 0(s4)                # CLINT -> store access fault
u5: csrr a1, mstatus              # M-mode CSR -> illegal
u6: csrr a1, cycle                # counter not enabled by mcounteren -> illegal
u7: mret                          # -> illegal
u8: lw a1, 4(s3)                  # UART STATUS: allowed by entry 1
    sw a1, 0(gp)
    addi gp, gp, 16
    li a0, 0xDEAD
u9: ecall
finished:
    # back in M-mode: the key and the DMA window are unchanged, M can still read the key
    lw t0, 0(s0)
    sw t0, 0(gp)
    lw t0, 0(s2)
    sw t0, 4(gp)
    csrr t0, mcause
    sw t0, 8(gp)
    PASS
.section .data
.align 4
key: .word 0x5EC2E7
.section .text
"""
    res, w = run_asm(body, config="full")
    assert res.passed, res
    elf = assemble(body)
    lab = {n: symbol(elf, n) for n in [f"u{i}" for i in range(10)] + ["key"]}
    expect = [(5, "u0", lab["key"]), (7, "u1", lab["key"]), (7, "u2", 0x2000_0000),
              (7, "u3", 0x1000_3010), (7, "u4", 0x0200_0000), (2, "u5", None), (2, "u6", None),
              (2, "u7", 0x30200073)]
    for i, (cause, where, tval) in enumerate(expect):
        rec = w[4 * i:4 * i + 4]
        assert rec[0] == cause, f"{where}: mcause {rec[0]} != {cause}"
        assert rec[1] == lab[where], f"{where}: mepc {rec[1]:#x}"
        if tval is not None:
            assert rec[2] == tval, f"{where}: mtval {rec[2]:#x} != {tval:#x}"
        assert (rec[3] >> 11) & 3 == 0, f"{where}: MPP should say U"
    assert w[4 * 8] & 1 == 1                        # UART STATUS.TX_READY read from U-mode
    fin = 4 * 9
    assert w[fin] == 0x5EC2E7 and w[fin + 1] == 0 and w[fin + 2] == 8


def test_locked_entry_binds_machine_mode_and_cannot_change():
    body = HANDLER + """
    la t0, secret
    srli t0, t0, 2
    csrw pmpaddr3, t0
    li t0, (0x80 | 0x10 | 0x4) << 24      # entry 3: L, NA4, X only (no R, no W)
    csrw pmpcfg0, t0
m0: lw a1, secret                         # M-mode read of a locked no-R entry -> fault
m1: sw zero, secret, t1                   # and write
    li t0, 0x1F << 24
    csrs pmpcfg0, t0                      # try to unlock/grant: ignored
    csrw pmpaddr3, zero                   # try to move it: ignored
    csrr a2, pmpcfg0
    sw a2, 0(gp)
    csrr a2, pmpaddr3
    sw a2, 4(gp)
    csrr a2, pmpcfg2                      # unimplemented entries read as zero, no trap
    csrr a2, pmpaddr15
    PASS
finished:
    FAIL 9
.section .data
.align 4
secret: .word 0x1234
.section .text
"""
    res, w = run_asm(body)
    assert res.passed, res
    elf = assemble(body)
    sec = symbol(elf, "secret")
    assert (w[0], w[2]) == (5, sec)
    assert (w[4], w[6]) == (7, sec)
    assert w[8] == (0x80 | 0x10 | 0x4) << 24 and w[9] == sec >> 2


def test_tor_region_and_mprv():
    body = HANDLER + f"""
    la t0, lo_mark
    srli t0, t0, 2
    csrw pmpaddr0, t0
    la t0, hi_mark
    srli t0, t0, 2
    csrw pmpaddr1, t0                     # entry 1: TOR [lo_mark, hi_mark), R only
    li t0, {NAPOT_RAM:#x}
    csrw pmpaddr2, t0
    li t0, (0x09 << 8) | (0x1F << 16)     # entry 1 TOR R--, entry 2 NAPOT RWX
    csrw pmpcfg0, t0
    # MPRV=1, MPP=U: M-mode loads/stores are checked as U-mode
    li t0, 0x1800
    csrc mstatus, t0
    li t0, 1 << 17
    csrs mstatus, t0
    la s0, lo_mark
t0l: lw a1, 0(s0)                         # U may read inside TOR
t1s: sw a1, 0(s0)                         # U may not write inside TOR -> fault
t2s: sw a1, 4(s0)                         # second word inside TOR -> fault
t3s: sw a1, 8(s0)                         # hi_mark: outside TOR, entry 2 RWX -> ok
    li t0, 1 << 17
    csrc mstatus, t0
t4s: sw a1, 0(s0)                         # MPRV off: M-mode, unlocked entries don't apply
    PASS
finished:
    FAIL 9
.section .data
.align 4
lo_mark: .word 1, 2
hi_mark: .word 3
.section .text
"""
    res, w = run_asm(body)
    assert res.passed, res
    elf = assemble(body)
    assert [w[0], w[4]] == [7, 7]
    assert [w[1], w[5]] == [symbol(elf, "t1s"), symbol(elf, "t2s")]
    assert w[8] == 0, "no further traps expected"


def test_timer_interrupt_preempts_user_mode():
    # In U-mode, machine interrupts are taken even with mstatus.MIE = 0.
    body = """
    la t0, handler
    csrw mtvec, t0
    li t0, """ + f"{NAPOT_RAM:#x}" + """
    csrw pmpaddr0, t0
    li t0, 0x1F
    csrw pmpcfg0, t0
    li s1, 0x02004000
    li t0, 0x0200BFF8
    lw t2, 0(t0)
    addi t2, t2, 300
    sw zero, 4(s1)
    sw t2, 0(s1)
    li t0, 0x80
    csrs mie, t0
    la t0, spin
    csrw mepc, t0
    li t0, 0x1800
    csrc mstatus, t0
    mret
spin: j spin
.align 2
handler:
    csrr t0, mcause
    sw t0, 0(gp)
    csrr t0, mstatus
    sw t0, 4(gp)
    PASS
"""
    res, w = run_asm(body, max_cycles=20000)
    assert res.passed, res
    assert w[0] == 0x8000_0007
    assert (w[1] >> 11) & 3 == 0


def test_locked_dma_window_cannot_change_until_reset():
    body = """
    li s0, 0x10003010            # COPROCTL: slot 0's window registers (WIN0 at +0x10)
    li t0, 0x80010000
    sw t0, 0(s0)                 # WIN0_BASE
    li t0, 0x80011000
    sw t0, 4(s0)                 # WIN0_LIMIT
    li t0, 0x7                   # R | W | LOCK
    sw t0, 8(s0)
    li t0, 0x80000000
    sw t0, 0(s0)                 # try to widen: ignored
    sw zero, 4(s0)
    sw zero, 8(s0)               # try to unlock: ignored
    lw t0, 0(s0)
    sw t0, 0(gp)
    lw t0, 4(s0)
    sw t0, 4(gp)
    lw t0, 8(s0)
    sw t0, 8(gp)
    li t0, 0x80020000            # an unlocked window still changes
    sw t0, 16(s0)
    lw t0, 16(s0)
    sw t0, 12(gp)
    PASS
"""
    res, w = run_asm(body, config="full")
    assert res.passed, res
    assert w[:4] == [0x80010000, 0x80011000, 0x7, 0x80020000]


def test_sdk_user_task_example(tmp_path):
    """firmware/examples/user_task.c through the SDK's PMP/U-mode API (gluon/pmp.h)."""
    from pathlib import Path
    from gluon.firmware import cc
    from gluon.hdl.config import get_config
    from gluon.sim.verilator import run
    src = Path(cc.__file__).parent / "examples" / "user_task.c"
    elf = cc.compile([src], tmp_path / "user_task.elf")
    res = run(elf, get_config("minimal"), max_cycles=2_000_000)
    text = res.output.decode()
    assert res.passed, text
    assert text.count("M-mode: stopped the task") == 3
    assert "load access fault" in text and "address 0x10000010" in text and "address 0x20000008" in text
    assert "faults: 3, key intact, UART intact, coprocessor idle: PASS" in text


def test_perf_page_is_m_only_whatever_pmp_says():
    """PERF's counters (per-slot coprocessor busy and DMA cycles) reveal M-mode's activity: an
    access with effective privilege U faults even where a PMP entry allows the page; M reads it."""
    body = HANDLER + f"""
    # entry 0: NAPOT over 0x1000_0000-0x1000_7FFF (UART..PERF), U may read/write
    li t0, (0x10000000 >> 2) | ((0x8000 >> 3) - 1)
    csrw pmpaddr0, t0
    li t0, {NAPOT_RAM:#x}
    csrw pmpaddr1, t0
    li t0, (0x1B << 0) | (0x1F << 8)
    csrw pmpcfg0, t0
    la t0, user
    csrw mepc, t0
    li t0, 0x1800
    csrc mstatus, t0              # MPP = U
    li s2, 0x10004000             # PERF
    mret
.align 2
user:
p0: lw a1, 0(s2)                  # read PERF.CTRL -> load access fault (M-only rule)
p1: sw zero, 0(s2)                # write it -> store access fault
    li a0, 0xDEAD
    ecall
finished:
    lw t0, 4(s2)                  # M reads a PERF counter: no fault
    sw t0, 0(gp)
    csrr t0, mcause
    sw t0, 4(gp)
    PASS
"""
    res, w = run_asm(body)
    assert res.passed, res
    elf = assemble(body)
    for i, (cause, where) in enumerate([(5, "p0"), (7, "p1")]):
        rec = w[4 * i:4 * i + 4]
        assert rec[0] == cause and rec[1] == symbol(elf, where), (where, rec)
        assert rec[2] == 0x1000_4000 and (rec[3] >> 11) & 3 == 0, (where, rec)
    assert w[8 + 1] == 8                            # the last trap was the task's ecall


@pytest.mark.parametrize("config", ["minimal", "pipelined"])
def test_refused_store_to_tohost_does_not_end_the_run(config):
    """M-mode locks an entry with no write permission over ``tohost`` and stores "pass" (1)
    there: a store access fault, and the simulator's watch on ``tohost`` must not take it as
    the program's end (the pipelined core requests a store before W's PMP verdict and cancels
    it: sim/simtop.py reports a store a cycle late, once the cancel is known). The program
    then ends through SIMCTRL.EXIT with a code of its own."""
    body = HANDLER + """
    la t0, tohost
    srli t0, t0, 2
    csrw pmpaddr0, t0
    li t0, 0x80 | 0x10 | 0x1              # entry 0: L, NA4, R only
    csrw pmpcfg0, t0
    li t5, 1
    la t1, tohost
m0: sw t5, 0(t1)                          # "pass" over tohost -> store access fault
    li t0, 0x10002000                     # SIMCTRL.EXIT: the run ends here, with 0x55
    li t1, 0x55
    sw t1, 0(t0)
99: j 99b
finished:
    j finished
"""
    res, w = run_asm(body, config=config)
    elf = assemble(body)
    assert (res.reason, res.tohost) == ("simctrl", 0x55), res
    assert (w[0], w[1], w[2]) == (7, symbol(elf, "m0"), symbol(elf, "tohost")), w[:4]
