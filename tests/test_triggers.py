"""Sdtrig address-match triggers (hdl/triggers.py) on the default and the pipelined core: the cases of riscv-tests'
rv32mi breakpoint program (execute, load and store breakpoints with their exception, the
second trigger, stores that do not happen), the tdata1 WARL rules a debugger relies on,
tcontrol.mte, U-mode triggers, and action 1 (debug mode) through the Debug Module.
Reference: RISC-V External Debug Support 0.13.2, chapter 5."""

import pytest
from amaranth.back import rtlil

from asmprog import run_asm, assemble, symbol
from gluon.hdl.core import Core
from gluon.hdl.isa import Cause
from gluon.hdl.triggers import Triggers, TriggerCsr, MCONTROL_TYPE

T = MCONTROL_TYPE << 28
DMODE = 1 << 27
HIT = 1 << 20
ACTION1 = 1 << 12
M, U, EXEC, STORE, LOAD = 1 << 6, 1 << 3, 1 << 2, 1 << 1, 1 << 0
MTE, MPTE = 1 << 3, 1 << 7
TSELECT, TDATA1, TDATA2, TDATA3, TINFO, TCONTROL = (int(c) for c in TriggerCsr)

# every program runs on both cores (the same architectural results)
CORES = pytest.mark.parametrize("config", ["minimal", "pipelined"])

# A handler that logs (mcause, mepc, mtval, tcontrol) to the results array (via gp) and resumes
# at mepc + 4; an ecall from U-mode resumes in M-mode at the address in mscratch.
HANDLER = f"""
    la t0, trap
    csrw mtvec, t0
    j body
.align 2
trap:
    csrr t0, mcause
    sw t0, 0(gp)
    csrr t0, mepc
    sw t0, 4(gp)
    csrr t0, mtval
    sw t0, 8(gp)
    csrr t0, {TCONTROL:#x}
    sw t0, 12(gp)
    addi gp, gp, 16
    csrr t0, mcause
    li t1, 8
    beq t0, t1, 1f
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    mret
1:  csrr t0, mscratch
    jr t0
body:
"""


def logs(words, n):
    return [tuple(words[4 * i:4 * i + 4]) for i in range(n)]


@CORES
def test_tdata1_warl_tselect_tinfo(config):
    body = f"""
    la s0, results
    addi s0, s0, 1024
    li a0, 1
    csrw {TSELECT:#x}, a0
    csrr a1, {TSELECT:#x}
    sw a1, 0(s0)                  # 1: the second trigger exists
    li a0, 2
    csrw {TSELECT:#x}, a0
    csrr a1, {TSELECT:#x}
    sw a1, 4(s0)                  # still 1: there is no third
    csrr a1, {TINFO:#x}
    sw a1, 8(s0)
    csrw {TSELECT:#x}, x0
    li a0, {T | M | EXEC:#x}
    csrw {TDATA1:#x}, a0
    csrr a1, {TDATA1:#x}
    sw a1, 12(s0)                 # as written
    li a0, {T | DMODE | ACTION1 | M | U | LOAD:#x}
    csrw {TDATA1:#x}, a0
    csrr a1, {TDATA1:#x}
    sw a1, 16(s0)                 # dmode and action 1 dropped: M-mode cannot set them
    li a0, -1
    csrw {TDATA1:#x}, a0
    csrr a1, {TDATA1:#x}
    sw a1, 20(s0)                 # type 15, select, chain, match: disabled
    li a0, {T | HIT | (0x3F << 21) | (1 << 18) | (3 << 16) | (1 << 4) | STORE:#x}
    csrw {TDATA1:#x}, a0
    csrr a1, {TDATA1:#x}
    sw a1, 24(s0)                 # hit kept; maskmax, timing, sizelo, s read 0
    li a0, {T | (2 << 7) | M | STORE:#x}
    csrw {TDATA1:#x}, a0
    csrr a1, {TDATA1:#x}
    sw a1, 28(s0)                 # match 2 (napot) is not implemented: disabled
    li a0, 0x12345678
    csrw {TDATA2:#x}, a0
    csrr a1, {TDATA2:#x}
    sw a1, 32(s0)
    csrw {TDATA3:#x}, a0
    csrr a1, {TDATA3:#x}
    sw a1, 36(s0)
    li a0, -1
    csrw {TCONTROL:#x}, a0
    csrr a1, {TCONTROL:#x}
    sw a1, 40(s0)
    li a0, 1
    csrw {TSELECT:#x}, a0
    csrr a1, {TDATA2:#x}
    sw a1, 44(s0)                 # the second trigger's own tdata2
    csrr a1, {TDATA1:#x}
    sw a1, 48(s0)
    PASS
"""
    res, words = run_asm(body, config=config)
    assert res.passed, res
    got = words[256:256 + 13]
    want = [1, 1, 1 << MCONTROL_TYPE, T | M | EXEC, T | M | U | LOAD, T,
            T | HIT | STORE, T, 0x12345678, 0, MTE | MPTE, 0, T]
    assert [hex(w) for w in got] == [hex(w) for w in want]


@CORES
def test_execute_load_store_breakpoints(config):
    """The breakpoint cases: each fires before its instruction with cause 3 and mtval the
    address, stores do not happen, other access kinds pass, both triggers work at once, and
    tcontrol.mte gates M-mode and is saved in mpte by the trap."""
    body = HANDLER + f"""
    la s1, data1
    la s2, data2
    # mte = 0: an M-mode trigger does not fire
    la a2, e0
    csrw {TDATA2:#x}, a2
    li a0, {T | M | EXEC:#x}
    csrw {TDATA1:#x}, a0
e0: nop
    li a0, {MTE:#x}
    csrw {TCONTROL:#x}, a0
    la a2, e1
    csrw {TDATA2:#x}, a2
.align 2
e1: li a3, 7                      # execute breakpoint: skipped by the handler
    lw a0, 0(a2)                  # loading from the execute address does not fire
    sw a3, 0(gp)                  # 0 if e1 was skipped
    addi gp, gp, 16
    # load
    li a0, {T | M | LOAD:#x}
    csrw {TDATA1:#x}, a0
    csrw {TDATA2:#x}, s1
    li a4, 5
l1: lw a4, 0(s1)                  # breakpoint: a4 keeps 5
    sw a4, 0(gp)
    sw a4, 0(s1)                  # a store to the load address does not fire
    addi gp, gp, 16
    # store
    li a0, {T | M | STORE:#x}
    csrw {TDATA1:#x}, a0
    li a5, 9
st1: sw a5, 0(s1)                  # breakpoint: data1 keeps 5
sb a5, 1(s1)                 # another address: the store happens
    lw a6, 0(s1)
    sw a6, 0(gp)
    addi gp, gp, 16
    # the second trigger on data2's loads, the first still on data1's stores
    li a0, 1
    csrw {TSELECT:#x}, a0
    li a0, {T | M | LOAD:#x}
    csrw {TDATA1:#x}, a0
    csrw {TDATA2:#x}, s2
l2: lw a7, 0(s2)
st2: sh a5, 0(s1)
    # a misaligned load on a trigger's address: the breakpoint comes first
    addi a1, s2, 1
    csrw {TDATA2:#x}, a1
l3: lw a7, 0(a1)
    # the handler stores where the breakpoint watches: mte is 0 there, no second trap
    li a0, {T | M | LOAD | STORE:#x}
    csrw {TDATA1:#x}, a0
    csrw {TDATA2:#x}, gp
l4: lw a7, 0(gp)
    csrr a0, {TCONTROL:#x}
    sw a0, 0(gp)                  # mret restored mte
    PASS
.align 4
.data
.align 4
data1: .word 0
data2: .word 0x55
"""
    res, words = run_asm(body, config=config)
    assert res.passed, res
    elf = assemble(body)
    lab = {n: symbol(elf, n) for n in ("e1", "l1", "st1", "l2", "st2", "l3", "l4", "data1", "data2")}
    b = Cause.BREAKPOINT
    got = logs(words, 11)
    want = [
        (b, lab["e1"], lab["e1"], MPTE),
        (0, 0, 0, 0),                               # a3 (skipped li)
        (b, lab["l1"], lab["data1"], MPTE),
        (5, 0, 0, 0),                               # a4 kept
        (b, lab["st1"], lab["data1"], MPTE),
        (0x0905, 0, 0, 0),                          # only the sb happened
        (b, lab["l2"], lab["data2"], MPTE),
        (b, lab["st2"], lab["data1"], MPTE),
        (b, lab["l3"], lab["data2"] + 1, MPTE),
        (b, lab["l4"], 0, MPTE),                    # mtval checked below
        (MTE | MPTE, 0, 0, 0),                      # mret: mte = mpte (mpte kept)
    ]
    want[9] = (b, lab["l4"], got[9][2], MPTE)
    assert got[9][2] == symbol(elf, "results") + 9 * 16
    assert [tuple(hex(v) for v in t) for t in got] == [tuple(hex(v) for v in t) for t in want]


@CORES
def test_user_mode_trigger_ignores_mte(config):
    body = HANDLER + f"""
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f                   # PMP entry 0: NAPOT over everything, RWX for U-mode
    csrw pmpcfg0, t0
    la s1, data1
    csrw {TDATA2:#x}, s1
    li a0, {T | U | LOAD:#x}      # U only: M-mode loads pass, U-mode ones fire (mte = 0)
    csrw {TDATA1:#x}, a0
    lw a0, 0(s1)
    la t0, back
    csrw mscratch, t0
    li t0, 0x1800
    csrc mstatus, t0              # MPP = U
    la t0, user
    csrw mepc, t0
    mret
user:
u1: lw a0, 0(s1)
    ecall
back:
    PASS
.data
.align 4
data1: .word 0
"""
    res, words = run_asm(body, config=config)
    assert res.passed, res
    elf = assemble(body)
    got = logs(words, 2)
    assert got[0] == (Cause.BREAKPOINT, symbol(elf, "u1"), symbol(elf, "data1"), 0)
    assert got[1][0] == Cause.ECALL_U


IDLE_PROG = f"""
    {{arm}}
    li a0, 200
    la s1, data1
1:  lw a1, 0(s1)
    addi a1, a1, 3
    sw a1, 0(s1)
    mul a2, a1, a0
    div a3, a2, a0
    addi a0, a0, -1
    bnez a0, 1b
    PASS
.data
.align 4
data1: .word 0
"""


@CORES
def test_armed_triggers_that_never_match_add_no_cycle(config):
    """Triggers armed on every kind of access at addresses the program never uses: the same
    cycle count as with none armed (the match is decided beside the PMP's verdict)."""
    arm = f"""
    li t0, {MTE:#x}
    csrw {TCONTROL:#x}, t0
    li t0, 0x80010000
    csrw {TDATA2:#x}, t0
    li t0, {T | M | U | EXEC | LOAD | STORE:#x}
    csrw {TDATA1:#x}, t0
    li t0, 1
    csrw {TSELECT:#x}, t0
    li t0, 0x80010004
    csrw {TDATA2:#x}, t0
    li t0, {T | M | U | EXEC | LOAD | STORE:#x}
    csrw {TDATA1:#x}, t0
"""
    # the same instructions, with the triggers' mode bits clear (never matching)
    idle = arm.replace(f"{T | M | U | EXEC | LOAD | STORE:#x}", f"{T | EXEC | LOAD | STORE:#x}")
    assert idle != arm
    armed, _ = run_asm(IDLE_PROG.format(arm=arm), config=config)
    plain, _ = run_asm(IDLE_PROG.format(arm=idle), config=config)
    assert armed.passed and plain.passed
    assert armed.instret == plain.instret
    assert armed.cycles == plain.cycles, (armed.cycles, plain.cycles)


def test_core_parameter():
    with pytest.raises(ValueError, match="triggers"):
        Core(regfile_bram=True, triggers=2)
    with pytest.raises(ValueError, match="triggers"):
        Core(triggers=17)
    with pytest.raises(ValueError, match="count"):
        Triggers(0)
    assert Core().triggers == 2 and Core(regfile_bram=True).triggers == 0
    assert Core(pipeline=True).triggers == 2
    with pytest.raises(ValueError, match="block-RAM"):
        Core(regfile_bram=True, debug=True)
    # no trigger hardware at all with triggers=0
    assert "tdata1" not in rtlil.convert(Core(triggers=0))


@CORES
def test_action1_enters_debug_mode_from_execute_and_store(config):
    """dmode triggers set through the Debug Module: an execute trigger halts before the
    instruction, a store trigger halts before the store (memory unchanged), ``dcsr.cause`` = 2,
    ``hit`` set; M-mode cannot rewrite a dmode trigger; once firmware locks the Debug Module,
    an action-1 trigger no longer fires."""
    from test_debug_module import simulate, HALTREQ, DMACTIVE, NDMRESET, gpr, DEBUG_BASE
    from gluon.hdl.debug.dm import DMI
    from gluon.hdl.debug.hart import DCSR, DPC, DebugCause
    from gluon.hdl.soc import RAM_BASE

    body = f"""
    la s1, data1
    li a0, 7
x1: li a0, 8
    li a1, 3
st1: sw a1, 0(s1)
    lw a2, 0(s1)
    sw a2, 0(gp)
    csrw {TSELECT:#x}, x0
    csrw {TDATA1:#x}, x0          # ignored: trigger 0 belongs to debug mode
rd1: csrr a3, {TDATA1:#x}
    sw a3, 4(gp)
    li t0, {DEBUG_BASE:#x}
    li t1, 1
    sw t1, 0(t0)                  # DEBUG.LOCK
x2: li a4, 9                      # trigger 0 watches this: locked, it does not fire
    sw a4, 8(gp)
    PASS
"""
    extra = """
.data
.align 4
data1: .word 0
"""
    elf = assemble(body, nres=64, extra_sections=extra)
    x1, st1, rd1, x2, data1 = (symbol(elf, n) for n in ("x1", "st1", "rd1", "x2", "data1"))
    inert = T | DMODE | ACTION1

    async def bench(d, syms):
        await d.wr(DMI.DMCONTROL, HALTREQ | DMACTIVE | NDMRESET)
        await d.wr(DMI.DMCONTROL, HALTREQ | DMACTIVE)
        for _ in range(50):
            if await d.halted():
                break
        assert await d.read_reg(DPC) == RAM_BASE
        await d.wr(DMI.DMCONTROL, DMACTIVE)
        await d.write_reg(TSELECT, 0)
        await d.write_reg(TDATA1, T | DMODE | ACTION1 | M | EXEC)
        await d.write_reg(TDATA2, x1)
        assert await d.read_reg(TDATA1) == T | DMODE | ACTION1 | M | EXEC
        await d.write_reg(TSELECT, 1)
        await d.write_reg(TDATA1, T | DMODE | ACTION1 | M | STORE)
        await d.write_reg(TDATA2, data1)

        await d.resume()
        await d.wait(40)
        assert await d.halted()
        assert (await d.read_reg(DCSR)) >> 6 & 7 == DebugCause.TRIGGER
        assert await d.read_reg(DPC) == x1
        assert await d.read_reg(gpr(10)) == 7, "x1 did not execute"
        await d.write_reg(TSELECT, 0)
        assert await d.read_reg(TDATA1) & HIT
        await d.write_reg(TDATA1, T | DMODE | ACTION1 | M | EXEC)
        await d.write_reg(TDATA2, x2)

        await d.resume()
        await d.wait(40)
        assert await d.halted()
        assert (await d.read_reg(DCSR)) >> 6 & 7 == DebugCause.TRIGGER
        assert await d.read_reg(DPC) == st1
        assert await d.read_reg(gpr(11)) == 3
        assert await d.sb_read(data1) == 0, "the store did not happen"
        await d.write_reg(TSELECT, 1)
        assert await d.read_reg(TDATA1) == T | DMODE | ACTION1 | M | STORE | HIT
        await d.write_reg(TDATA1, inert)

        await d.resume()
        # x2 retires: the armed action-1 trigger did not fire once the firmware had locked
        ctx, retired, seen = d.ctx, False, None
        for _ in range(200):
            await ctx.tick()
            if ctx.get(d.soc.trace.valid) and ctx.get(d.soc.trace.pc) == rd1:
                seen = ctx.get(d.soc.trace.rd_data)
            if ctx.get(d.soc.trace.valid) and ctx.get(d.soc.trace.pc) == x2:
                retired = True
                break
        assert seen == T | DMODE | ACTION1 | M | EXEC, f"M-mode rewrote a dmode trigger: {seen}"
        assert retired, "x2 did not retire"
        assert not await d.halted()
        assert not (await d.status()) >> 7 & 1, "locked: dmstatus.authenticated = 0"
    simulate(body, bench, config=config, extra_sections=extra)
