"""The Debug Module at the DMI level (amaranth.sim, a small SoC with the Debug Module): halt,
resume, step, abstract register access and its cmderr cases, system bus access, ebreak into
debug mode, halt in WFI and during a coprocessor's DMA, the lock across every kind of reset.
Reference: RISC-V External Debug Support 0.13.2."""

import pytest
from amaranth import Elaboratable, Module, ClockDomain, Signal
from amaranth.sim import Simulator

from gluon.hdl.config import get_config
from gluon.hdl.soc import GluonSoC, RAM_BASE, ADDRESS_MAP
from gluon.hdl.debug.dm import DMI, CmdErr
from gluon.hdl.debug.hart import DCSR, DPC, DebugCause
from gluon.hdl.isa import Csr
from gluon.boards.firmware import ram_init_from_elf

from asmprog import assemble, symbol

RAM = 8192
# both cores; the pipelined one's variant of the longer tests in -m slow
CORES = pytest.mark.parametrize("config", ["minimal", "pipelined"])
CORES_SLOW = pytest.mark.parametrize("config", ["minimal",
                                                pytest.param("pipelined", marks=pytest.mark.slow)])
DEBUG_BASE = next(d.base for d in ADDRESS_MAP if d.name == "DEBUG")
HALTREQ, RESUMEREQ, ACKHAVERESET, NDMRESET, DMACTIVE = 1 << 31, 1 << 30, 1 << 28, 1 << 1, 1


def gpr(n):
    return 0x1000 + n


def access(regno, *, write=False, transfer=True, size=2, postinc=False, postexec=False):
    return (size << 20) | (postinc << 19) | (postexec << 18) | (transfer << 17) | (write << 16) | regno


class Dbg:
    """DMI accesses from a testbench."""

    def __init__(self, ctx, soc):
        self.ctx, self.soc = ctx, soc

    async def xfer(self, addr, wdata=None):
        ctx, dmi = self.ctx, self.soc.dmi
        ctx.set(dmi.req, 1)
        ctx.set(dmi.we, wdata is not None)
        ctx.set(dmi.addr, addr)
        ctx.set(dmi.wdata, wdata or 0)
        await ctx.tick()
        ctx.set(dmi.req, 0)
        assert ctx.get(dmi.ack)
        return ctx.get(dmi.rdata)

    async def rd(self, addr):
        return await self.xfer(addr)

    async def wr(self, addr, value):
        await self.xfer(addr, value)

    async def status(self):
        return await self.rd(DMI.DMSTATUS)

    async def halted(self):
        return bool(await self.status() >> 9 & 1)

    async def wait(self, cycles):
        await self.ctx.tick().repeat(cycles)

    async def halt(self):
        await self.wr(DMI.DMCONTROL, HALTREQ | DMACTIVE)
        for _ in range(200):
            if await self.halted():
                break
        else:
            raise AssertionError("the hart did not halt")
        await self.wr(DMI.DMCONTROL, DMACTIVE)

    async def resume(self):
        await self.wr(DMI.DMCONTROL, RESUMEREQ | DMACTIVE)
        for _ in range(20):
            if await self.status() >> 17 & 1:
                return
        raise AssertionError("no resumeack")

    async def cmd(self, command):
        await self.wr(DMI.COMMAND, command)
        for _ in range(20):
            cs = await self.rd(DMI.ABSTRACTCS)
            if not cs >> 12 & 1:
                return cs >> 8 & 7
        raise AssertionError("abstract command stuck busy")

    async def clear_cmderr(self):
        await self.wr(DMI.ABSTRACTCS, 7 << 8)

    async def read_reg(self, regno):
        err = await self.cmd(access(regno))
        assert err == 0, f"reading {regno:#x}: cmderr {err}"
        return await self.rd(DMI.DATA0)

    async def write_reg(self, regno, value):
        await self.wr(DMI.DATA0, value)
        err = await self.cmd(access(regno, write=True))
        assert err == 0, f"writing {regno:#x}: cmderr {err}"

    async def sb_read(self, addr):
        await self.wr(DMI.SBCS, (1 << 20) | (2 << 17))
        await self.wr(DMI.SBADDRESS0, addr)
        await self.wait(6)
        assert (await self.rd(DMI.SBCS)) >> 12 & 7 == 0
        return await self.rd(DMI.SBDATA0)

    async def sb_write(self, addr, value, size=2):
        await self.wr(DMI.SBCS, size << 17)
        await self.wr(DMI.SBADDRESS0, addr)
        await self.wr(DMI.SBDATA0, value)
        await self.wait(6)
        return (await self.rd(DMI.SBCS)) >> 12 & 7


def simulate(body, bench, *, config="minimal", cycles=None, extra_sections=""):
    elf = assemble(body, nres=64, extra_sections=extra_sections)
    cfg = get_config(config).with_debug().with_(ram_size=RAM)
    words, _ = ram_init_from_elf(elf, ram_size=RAM)
    soc = GluonSoC(cfg, ram_init=words)
    sim = Simulator(soc)
    sim.add_clock(1e-6)
    syms = {n: symbol(elf, n) for n in ("results", "tohost")}

    async def tb(ctx):
        await bench(Dbg(ctx, soc), syms)
    sim.add_testbench(tb)
    sim.run()


COUNT_LOOP = """
    li a0, 0
loop:
    addi a0, a0, 1
    sw a0, 0(gp)
    j loop
"""


@CORES_SLOW
def test_halt_read_write_resume_step(config):
    async def bench(d, syms):
        await d.wr(DMI.DMCONTROL, DMACTIVE)
        st = await d.status()
        assert st & 0xF == 2 and st >> 7 & 1, f"dmstatus {st:#x}: version 2, authenticated"
        assert st >> 11 & 1, "running"
        await d.wait(100)
        await d.halt()
        dcsr = await d.read_reg(DCSR)
        assert dcsr >> 6 & 7 == DebugCause.HALTREQ and dcsr >> 28 == 4 and dcsr & 3 == 3
        a0 = await d.read_reg(gpr(10))
        mem = await d.sb_read(syms["results"])
        assert a0 > 3 and mem in (a0, a0 - 1), (a0, mem)
        await d.wait(50)
        assert await d.read_reg(gpr(10)) == a0, "halted: a0 stays"
        pc = await d.read_reg(DPC)
        assert RAM_BASE <= pc < RAM_BASE + 0x100
        # write a register, resume, see the program continue from it
        await d.write_reg(gpr(10), 1000)
        assert await d.read_reg(gpr(10)) == 1000
        await d.resume()
        await d.wait(40)
        await d.halt()
        assert await d.sb_read(syms["results"]) > 1000
        # single step: exactly one instruction
        await d.write_reg(DCSR, dcsr | 4)
        pcs = []
        for _ in range(4):
            pcs.append(await d.read_reg(DPC))
            await d.resume()
            for _ in range(20):
                if await d.halted():
                    break
            assert (await d.read_reg(DCSR)) >> 6 & 7 == DebugCause.STEP
        pcs.append(await d.read_reg(DPC))
        loop = [pcs[0]]
        for a, b in zip(pcs, pcs[1:]):
            assert b != a
        assert len(set(pcs)) == 3, f"a 3-instruction loop stepped: {[hex(p) for p in pcs]}"
        # x0 stays 0, mscratch is reachable, a missing CSR is an exception
        await d.write_reg(gpr(0), 5)
        assert await d.read_reg(gpr(0)) == 0
        await d.write_reg(Csr.MSCRATCH, 0x1234)
        assert await d.read_reg(Csr.MSCRATCH) == 0x1234
        assert await d.cmd(access(0x7C0)) == CmdErr.EXCEPTION
        await d.clear_cmderr()
        assert await d.cmd(access(gpr(1), size=3)) == CmdErr.NOT_SUPPORTED
        await d.clear_cmderr()
        assert await d.cmd(access(gpr(1), postexec=True)) == CmdErr.NOT_SUPPORTED
        await d.clear_cmderr()
        assert await d.cmd(1 << 24) == CmdErr.NOT_SUPPORTED       # quick access
        await d.clear_cmderr()
        # with cmderr set, commands are ignored until it is cleared
        assert await d.cmd(access(0x7C0)) == CmdErr.EXCEPTION
        assert await d.cmd(access(gpr(10))) == CmdErr.EXCEPTION
        await d.clear_cmderr()
        assert await d.cmd(access(gpr(10))) == 0
        # postincrement
        await d.write_reg(gpr(5), 55)
        await d.write_reg(gpr(6), 66)
        await d.cmd(access(gpr(5), postinc=True))
        assert await d.rd(DMI.DATA0) == 55
        await d.cmd(access(gpr(6)))
        assert await d.rd(DMI.DATA0) == 66
        # commands while running: halt/resume error
        await d.write_reg(DCSR, dcsr & ~4)
        await d.resume()
        assert await d.cmd(access(gpr(10))) == CmdErr.HALT_RESUME
        await d.clear_cmderr()
    simulate(COUNT_LOOP, bench, config=config)


@CORES_SLOW
def test_cmderr_busy(config):
    async def bench(d, syms):
        await d.wr(DMI.DMCONTROL, DMACTIVE)
        await d.halt()
        # a command takes a few cycles: a second one (and data0 access) while busy -> busy
        ctx, dmi = d.ctx, d.soc.dmi
        await d.wr(DMI.COMMAND, access(gpr(1)))
        await d.wr(DMI.COMMAND, access(gpr(2)))
        await d.wait(10)
        assert (await d.rd(DMI.ABSTRACTCS)) >> 8 & 7 == CmdErr.BUSY
        await d.clear_cmderr()
        await d.wr(DMI.COMMAND, access(gpr(1)))
        await d.rd(DMI.DATA0)
        await d.wait(10)
        assert (await d.rd(DMI.ABSTRACTCS)) >> 8 & 7 == CmdErr.BUSY
    simulate(COUNT_LOOP, bench, config=config)


@CORES
def test_ebreak_enters_debug_mode_only_with_ebreakm(config):
    body = """
    li a0, 7
    ebreak
    li a0, 8
    PASS
"""
    async def bench(d, syms):
        await d.wr(DMI.DMCONTROL, HALTREQ | DMACTIVE | NDMRESET)
        await d.wr(DMI.DMCONTROL, HALTREQ | DMACTIVE)
        for _ in range(50):
            if await d.halted():
                break
        assert await d.read_reg(DPC) == RAM_BASE, "reset-halt: at the reset vector"
        await d.wr(DMI.DMCONTROL, DMACTIVE)
        await d.write_reg(DCSR, 1 << 15)
        await d.resume()
        await d.wait(40)
        assert await d.halted()
        dcsr = await d.read_reg(DCSR)
        assert dcsr >> 6 & 7 == DebugCause.EBREAK
        pc = await d.read_reg(DPC)
        assert await d.sb_read(pc) == 0x00100073, "dpc at the ebreak"
        assert await d.read_reg(gpr(10)) == 7
        await d.write_reg(DPC, pc + 4)
        await d.resume()
        await d.wait(60)
        assert await d.sb_read(syms["tohost"]) == 1
    simulate(body, bench, config=config)


@CORES
def test_step_over_trapping_instruction_and_halt_in_wfi(config):
    body = """
    la t0, handler
    csrw mtvec, t0
    li a0, 1
    ecall
    wfi
    j .
.align 2
handler:
    li a1, 2
    csrr t1, mepc
    addi t1, t1, 4
    csrw mepc, t1
    mret
"""
    async def bench(d, syms):
        await d.wr(DMI.DMCONTROL, DMACTIVE)
        await d.halt()
        # run to the ecall by stepping, then step over it: halt at the handler's first insn
        dcsr = await d.read_reg(DCSR)
        await d.write_reg(DCSR, dcsr | 4)
        for _ in range(40):
            pc = await d.read_reg(DPC)
            if await d.sb_read(pc) == 0x00000073:
                break
            await d.resume()
            await d.wait(5)
        else:
            raise AssertionError("no ecall reached")
        ecall_pc = pc
        await d.resume()
        await d.wait(10)
        handler = await d.read_reg(DPC)
        assert handler == await d.read_reg(Csr.MTVEC), (hex(handler), hex(ecall_pc))
        assert await d.read_reg(Csr.MCAUSE) == 11
        assert await d.read_reg(Csr.MEPC) == ecall_pc
        # run on into the WFI (no interrupt enabled: it waits forever), halt there
        await d.write_reg(DCSR, dcsr & ~4)
        await d.resume()
        await d.wait(40)
        await d.halt()
        assert await d.read_reg(DPC) == ecall_pc + 4, "halted in the WFI"
        assert await d.read_reg(gpr(11)) == 2
    simulate(body, bench, config=config)


LOCK_PROGRAM = f"""
    la t0, handler
    csrw mtvec, t0
    la t0, user
    csrw mepc, t0
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0            # U may touch everything PMP decides on (NAPOT, RWX)
    li t0, 0x1800
    csrc mstatus, t0            # MPP = U
    mret
user:
    li t1, {DEBUG_BASE:#x}
    li t2, 1
    sw t2, 0(t1)                # refused: the lock page is M-only
    j .
.align 2
handler:
    csrr t0, mcause
    sw t0, 0(gp)
wait:
    lw t0, 4(gp)                # the debugger says go
    beqz t0, wait
    li t1, {DEBUG_BASE:#x}
    li t2, 1
    sw t2, 0(t1)                # lock
    lw t3, 0(t1)
    sw t3, 8(gp)
spin:
    addi a0, a0, 1
    j spin
"""


class ResettableSoC(Elaboratable):
    """The SoC with its ``sync`` domain's reset exposed (a board's reset button)."""

    def __init__(self, soc):
        self.soc = soc
        self.rst = Signal()
        self._cd = ClockDomain("sync")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self._cd
        m.d.comb += self._cd.rst.eq(self.rst)
        m.submodules.soc = self.soc
        return m


@CORES_SLOW
def test_lock_refuses_everything_and_survives_every_reset_but_power_on(config):
    elf = assemble(LOCK_PROGRAM, nres=64)
    cfg = get_config(config).with_debug().with_(ram_size=RAM)
    words, _ = ram_init_from_elf(elf, ram_size=RAM)
    soc = GluonSoC(cfg, ram_init=words)
    top = ResettableSoC(soc)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    results = symbol(elf, "results")

    async def bench(ctx):
        d = Dbg(ctx, soc)
        await d.wr(DMI.DMCONTROL, DMACTIVE)
        await d.wait(150)
        assert (await d.status()) >> 7 & 1, "authenticated before the lock"
        assert await d.sb_read(results) == 7, "U-mode store to DEBUG.LOCK: store access fault"
        assert await d.sb_write(results + 4, 1) == 0
        await d.wait(100)

        async def refused(what):
            st = await d.status()
            assert not st >> 7 & 1, f"{what}: dmstatus.authenticated must read 0 ({st:#x})"
            await d.wr(DMI.DMCONTROL, HALTREQ | DMACTIVE)
            await d.wait(50)
            assert not await d.halted(), f"{what}: halted while locked"
            await d.wr(DMI.DMCONTROL, DMACTIVE)
            await d.wr(DMI.DATA0, 0x55)
            assert await d.rd(DMI.DATA0) == 0
            await d.wr(DMI.COMMAND, access(gpr(10)))
            await d.wait(5)
            assert (await d.rd(DMI.ABSTRACTCS)) >> 8 & 7 == 0 and await d.rd(DMI.DATA0) == 0
            await d.wr(DMI.SBCS, (1 << 20) | (2 << 17))
            await d.wr(DMI.SBADDRESS0, results)
            await d.wait(6)
            assert await d.rd(DMI.SBDATA0) == 0
            # the hart runs on (its trace shows retirements)
            seen = 0
            for _ in range(20):
                await ctx.tick()
                seen |= ctx.get(soc.trace.valid)
            assert seen, f"{what}: the hart must keep running"

        await refused("locked")
        # ndmreset: refused too (and the lock stays)
        await d.wr(DMI.DMCONTROL, HALTREQ | NDMRESET | DMACTIVE)
        await d.wait(20)
        await d.wr(DMI.DMCONTROL, DMACTIVE)
        await refused("after ndmreset")
        # the simulator's hold (the core and devices in reset, RAM kept): the program restarts,
        # finds the go flag set, and locks again anyway; the lock itself never cleared
        ctx.set(soc.hold, 1)
        for _ in range(5):
            await ctx.tick()
            assert not (await d.status()) >> 7 & 1, "hold must not clear the lock"
        ctx.set(soc.hold, 0)
        await refused("after hold")
        # the sync domain's reset (a board's reset button)
        ctx.set(top.rst, 1)
        await ctx.delay(3.2e-6)                 # (a tick() would raise DomainReset)
        ctx.set(top.rst, 0)
        await ctx.delay(1e-6)
        assert not (await d.status()) >> 7 & 1, "the reset button must not clear the lock"
        await refused("after the reset button")

    sim.add_testbench(bench)
    sim.run()

    # power-on (a new simulation: the flip-flop's initial value) is unlocked
    async def fresh(d, syms):
        await d.wr(DMI.DMCONTROL, DMACTIVE)
        assert (await d.status()) >> 7 & 1
    simulate(LOCK_PROGRAM, fresh, config=config)


@pytest.mark.parametrize("pipeline", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_halt_during_coprocessor_dma(tmp_path, pipeline):
    """The hart halts while the hash coprocessor's DMA runs; the coprocessor carries on and
    finishes while the hart is halted; the digest is right after resuming."""
    import hashlib
    from pathlib import Path
    from gluon.firmware.cc import compile as cc
    from gluon.hdl.config import SocConfig
    from gluon.firmware.elf import load_elf
    ram = 32 * 1024
    src = Path(__file__).resolve().parent / "fw" / "debug_hash_dma.c"
    elf = cc([str(src)], str(tmp_path / "dma.elf"), opt="-O2", ram_size=ram)
    cfg = SocConfig("debug-hash", ("hash",), ram_size=ram, debug=True, pipeline=pipeline)
    words, _ = ram_init_from_elf(elf, ram_size=ram)
    soc = GluonSoC(cfg, ram_init=words)
    syms = load_elf(elf, ram_size=ram).symbols
    sim = Simulator(soc)
    sim.add_clock(1e-6)

    async def bench(ctx):
        d = Dbg(ctx, soc)
        await d.wr(DMI.DMCONTROL, DMACTIVE)
        for _ in range(200_000):
            await ctx.tick()
            if ctx.get(soc.dma_req) & 1:
                break
        else:
            raise AssertionError("no DMA seen")
        await d.halt()
        assert ctx.get(soc.copro_busy) & 1, "halted while the coprocessor works"
        for n in range(100_000):
            if not ctx.get(soc.copro_busy) & 1:
                break
            await ctx.tick()
        assert await d.halted(), "still halted"
        assert not ctx.get(soc.copro_busy) & 1, "the coprocessor finished while halted"
        await d.resume()
        for _ in range(100):
            await d.wait(1000)
            if await d.sb_read(syms["tohost"]):
                break
        assert await d.sb_read(syms["tohost"]) == 1, "the program passed"
        got = b""
        for i in range(8):
            got += (await d.sb_read(syms["result"] + 4 * i)).to_bytes(4, "little")
        assert got == hashlib.sha256(bytes(i * 7 & 0xFF for i in range(512))).digest()

    sim.add_testbench(bench)
    sim.run()


@CORES_SLOW
def test_debug_mode_not_reachable_from_software(config):
    """dcsr, dpc, dscratch0 and dret are illegal instructions outside debug mode (the core's
    CSR decode does not know them), in a SoC with the Debug Module."""
    from gluon.sim.verilator import run
    body = """
    la t0, handler
    csrw mtvec, t0
    li s0, 0
    csrr t1, 0x7b0              # dcsr
    csrr t1, 0x7b1              # dpc
    csrw 0x7b2, t1              # dscratch0
    .word 0x7b200073            # dret
    ebreak                      # no debugger: an ordinary breakpoint exception
    PASS
.align 2
handler:
    csrr t0, mcause
    slli t2, s0, 2
    add t2, t2, gp
    sw t0, 0(t2)
    addi s0, s0, 1
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    mret
"""
    elf = assemble(body, nres=64)
    res = run(elf, get_config(config).with_debug(), dumps=[(symbol(elf, "results"), 64)])
    raw = res.dumps[0]
    words = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]
    assert res.passed
    assert words[:5] == [2, 2, 2, 2, 3], words[:5]


# Every kind of wait and redirect the cores have: a load-use wait, MUL, DIV, a load behind a
# store, branches taken and not, JAL/JALR, an ecall trap and its MRET, a misaligned load's trap.
EXACT_PROGRAM = """
    la t0, handler
    csrw mtvec, t0
    la s1, data
    li a0, 0
    li a1, {iterations}
    li s2, 0
loop:
    lw a2, 0(s1)
ldu: add a3, a2, a1                 # load-use
mul: mul a4, a3, a1
div: div a5, a4, a1
st: sw a5, 4(s1)
stl: lw a6, 4(s1)                   # behind a store
    beq a6, a5, 1f                  # taken
    li a0, 99
1:  bne a6, a5, 2f                  # not taken
    addi a0, a0, 1
2:  jal ra, func
ec: ecall
mis: lw t2, 2(s1)                   # load address misaligned
    sw a0, 0(s1)
    addi a1, a1, -1
    bnez a1, loop
done:
    PASS
func:
    addi a7, a7, 3
    ret
.align 2
handler:
    csrr t1, mepc
    addi t1, t1, 4
    csrw mepc, t1
    addi s2, s2, 1
    mret
"""
EXACT_DATA = """
.data
.align 4
data: .word 3, 0
"""
# the registers the program body writes (the short run compares these, the long one x1-x31)
EXACT_REGS = (1, 10, 11, 12, 13, 14, 15, 16, 17, 18)


def _exact(config, *, iterations, steps, regs, halt_to_end):
    """Single steps (dcsr.step) from the reset vector, halts 0, 1, 2... cycles after resuming
    at two points of the next iteration, then (``halt_to_end``) halts every few cycles until
    the end: each time, dpc is the next instruction the undisturbed run (recorded first, in
    the same simulation) retires after ``minstret`` instructions, or the instruction that
    traps just before it, and the registers are that run's at that point. Finally the
    program passes with that run's registers."""
    body = EXACT_PROGRAM.format(iterations=iterations)
    elf = assemble(body, nres=64, extra_sections=EXACT_DATA)
    lab = {n: symbol(elf, n) for n in ("loop", "ldu", "mul", "div", "st", "stl", "ec", "mis",
                                       "handler", "done", "data")}

    async def bench(d, syms):
        ctx, soc = d.ctx, d.soc
        # the reference: the program from power-on (registers 0), the Debug Module idle
        ref, x = [], [0] * 32
        for _ in range(5000):
            await ctx.tick()
            if ctx.get(soc.trace.valid):
                ref.append((ctx.get(soc.trace.pc), list(x)))
                if ref[-1][0] == lab["done"]:
                    break
                if ctx.get(soc.trace.rd_we):
                    x[ctx.get(soc.trace.rd)] = ctx.get(soc.trace.rd_data)
        else:
            raise AssertionError("the program did not reach 'done'")
        # again under the debugger: reset-halt, the same memory and registers as at power-on
        await d.wr(DMI.DMCONTROL, HALTREQ | DMACTIVE | NDMRESET)
        await d.wr(DMI.DMCONTROL, HALTREQ | DMACTIVE)
        for _ in range(50):
            if await d.halted():
                break
        await d.wr(DMI.DMCONTROL, DMACTIVE)
        assert await d.read_reg(DPC) == RAM_BASE
        for a, v in ((lab["data"], 3), (lab["data"] + 4, 0), (syms["tohost"], 0)):
            assert await d.sb_write(a, v) == 0
        for i in range(1, 32):
            await d.write_reg(gpr(i), 0)
        n0 = await d.read_reg(Csr.MINSTRET)

        async def check(what):
            n = await d.read_reg(Csr.MINSTRET) - n0
            pc = await d.read_reg(DPC)
            assert n < len(ref), f"{what}: minstret {n} past the program"
            # a trapping instruction does not retire: the next to retire is the handler's
            ok = pc == ref[n][0] or ref[n][0] == lab["handler"] and pc in (lab["ec"], lab["mis"])
            assert ok, f"{what}: dpc {pc:#x}, the next to retire {ref[n][0]:#x}"
            got = {i: await d.read_reg(gpr(i)) for i in regs}
            bad = [(i, hex(got[i]), hex(ref[n][1][i])) for i in regs if got[i] != ref[n][1][i]]
            assert not bad, f"{what} at {pc:#x} after {n} instructions: (x, got, want) {bad}"
            return pc

        dcsr = await d.read_reg(DCSR)
        await d.write_reg(DCSR, dcsr | 4)
        stepped = []
        for i in range(steps):
            stepped.append(await check(f"step {i}"))
            await d.resume()
            for _ in range(60):
                if await d.halted():
                    break
            assert (await d.read_reg(DCSR)) >> 6 & 7 == DebugCause.STEP
        for name in ("ldu", "div", "stl", "ec", "handler", "mis"):
            assert lab[name] in stepped, f"no step at {name}"

        async def step_to(label):
            while await d.read_reg(DPC) != lab[label]:
                await d.resume()
                for _ in range(60):
                    if await d.halted():
                        break

        async def sweep(start, k_max):
            # halts 0, 1, 2... cycles after resuming at ``start`` (a one-cycle wait is hit at
            # one offset only): each time the state is checked, then put back as at start
            saved = {i: await d.read_reg(gpr(i)) for i in (1, 10, 12, 13, 14, 15, 16, 17)}
            instret = await d.read_reg(Csr.MINSTRET)
            await d.write_reg(DCSR, dcsr & ~4)
            hits = set()
            for k in range(k_max):
                await d.resume()
                if k:
                    await d.wait(k)
                await d.halt()
                hits.add(await check(f"{k} cycles after {start}"))
                await d.write_reg(DPC, lab[start])
                for i, v in saved.items():
                    await d.write_reg(gpr(i), v)
                await d.write_reg(Csr.MINSTRET, instret)
            await d.write_reg(DCSR, dcsr | 4)
            return hits

        # the second iteration: halts during the load-use wait, the MUL and the DIV, and on
        # the load behind a store
        await step_to("loop")
        hits = await sweep("loop", 10)
        await step_to("st")
        hits |= await sweep("st", 4)
        for name in ("ldu", "mul", "div", "stl"):
            assert lab[name] in hits, f"no halt at {name}: {sorted(map(hex, hits))}"
        # then on to the end, halting every few cycles (the long version)
        await d.write_reg(DCSR, dcsr & ~4)
        pc = None
        for j in range(1000 if halt_to_end else 0):
            await d.resume()
            # a halt during a DIV abandons it: let the next one finish
            await d.wait(40 if pc == lab["div"] else j % 10 + 1)
            await d.halt()
            if await d.read_reg(Csr.MINSTRET) - n0 >= len(ref) - 1:
                break                                   # at 'done' or past it
            pc = await check(f"halt {j}")
        await d.resume()
        await d.wait(300)
        assert await d.sb_read(syms["tohost"]) == 1
        await d.halt()
        assert await d.read_reg(Csr.MINSTRET) - n0 >= len(ref) - 1
        final = [i for i in regs if i < 30]                 # PASS itself writes t5 and t6
        assert [await d.read_reg(gpr(i)) for i in final] == [ref[-1][1][i] for i in final]
    simulate(body, bench, config=config, extra_sections=EXACT_DATA)


def test_steps_and_halts_leave_the_architectural_state_exact():
    """On the pipelined core: steps over the first iteration (branches, a load-use wait, MUL,
    DIV, a load behind a store, ecall and a misaligned load's traps), then halts during every
    kind of wait of the second (the long version below: both cores, more of it)."""
    _exact("pipelined", iterations=2, steps=36, regs=EXACT_REGS, halt_to_end=False)


@pytest.mark.slow
@pytest.mark.parametrize("config", ["minimal", "pipelined"])
def test_steps_and_halts_leave_the_architectural_state_exact_long(config):
    _exact(config, iterations=5, steps=100, regs=range(1, 32), halt_to_end=True)
