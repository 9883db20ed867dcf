"""The hash coprocessor's wipe (the coprocessor contract): after random real hashes and with
an operation running, a wipe through the control section leaves every flip-flop of the block
and of its DMA engine at its reset value and every memory word zero, the list of state taken
from the netlist (tests/wipecheck.py), in a fixed number of cycles; a block whose datapath
the wipe does not reset is caught. The engine works normally afterwards and holds nothing
of the wiped message (CONT is refused)."""
import hashlib
import random

import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

import gluon.hdl.hash.coprocessor as hash_coprocessor
from gluon.hdl.coproctl import CONTROL_REGS
from gluon.hdl.dma import DMAEngine
from gluon.hdl.hash import Mode, Cause, MODE_PARAMS
from gluon.hdl.hash.coprocessor import WIPE_CYCLES

from test_hash import Harness, Bench, RAM_BASE, SRC, DST, field, reference, _expect_error
from wbmodel import wishbone_ram
from wipecheck import state_elements, dirty_state


def _field_c(reg, value, name):
    f = next(f for f in CONTROL_REGS[reg].fields if f.name == name)
    return (value >> f.offset) & ((1 << f.width) - 1)


def _simulate(body, **kwargs):
    h = Harness(**kwargs)
    frag = Fragment.get(h, None)
    mem = {}
    sim = Simulator(frag)
    sim.add_clock(1e-6)

    def load(byte):
        return mem.get(byte, 0) if RAM_BASE <= byte < RAM_BASE + 0x10_0000 else None

    def store(byte, data):
        if not RAM_BASE <= byte < RAM_BASE + 0x10_0000:
            return False
        mem[byte] = data
        return True

    sim.add_process(wishbone_ram(h.ram_bus, load, store))

    async def bench(ctx):
        b = Bench(ctx, h, mem)
        await b.wait_ready()
        await b.window(0, RAM_BASE, RAM_BASE + 0x10_0000)
        await body(b, frag)
    sim.add_testbench(bench)
    sim.run()


def _state(frag):
    flops, mems = [], []
    for sub, name, *_ in frag.subfragments:
        if name in ("copro", "dma"):
            f, mm = state_elements(sub)
            flops += [(s, f"{name}:{p}") for s, p in f]
            mems += [(d, f"{name}:{p}") for d, p in mm]
    return flops, mems


def _wipe_body(seed, *, expect_dirty=None):
    async def body(b, frag):
        flops, mems = _state(frag)
        rng = random.Random(seed)
        for _ in range(3):
            mode = rng.choice(list(MODE_PARAMS))
            msg = rng.randbytes(rng.randrange(0, 300))
            outlen = 4 * rng.randrange(1, 60) if MODE_PARAMS[mode].out_words is None else 0
            got, _ = await b.hash(mode, msg, outlen)
            assert got == reference(mode, msg, outlen), mode
        # Leave an unfinished message in the engine (MORE), then start another chunk and
        # wipe while it runs: reading, computing or writing, depending on the delay.
        mode = rng.choice([Mode.SHA256, Mode.SHA3_256, Mode.SHAKE128])
        bb = MODE_PARAMS[mode].block_bytes
        b.put(SRC, rng.randbytes(4 * bb))
        status, _ = await b.run(mode, SRC, 2 * bb, DST, more=1)
        assert not field("STATUS", "ERROR", status)
        await b.start(mode, SRC, 2 * bb, DST, outlen=64, cont=1)
        await b.ctx.tick().repeat(rng.randrange(1, 120))
        assert await b.cwrite("CTRL", _wipe_word())
        while _field_c("STATUS", await b.cread("STATUS"), "WIPING"):
            pass
        await b.ctx.tick()              # the control bank drops the read's response
        bad = dirty_state(b.ctx, flops, mems, exclude=b.h.copro.retained)
        if expect_dirty is None:
            assert not bad, "state left after a wipe:\n" + "\n".join(bad)
            # the list is the netlist's: sponge lanes, block buffer, SHA-256 state, the
            # latched addresses and streaming state, splitter, remainder, the engine's FIFOs
            paths = " ".join(p for _, p in flops + mems)
            for name in ("lane24", "buf41", "H7", "held_valid", "src", "dst", "mv_addr",
                         "rem_bits", "dma:top/rfifo"):
                assert name in paths, name
            assert sum(len(sig) for sig, _ in flops) > 4000
        else:
            assert any(expect_dirty in x for x in bad), bad
            return
        # The engine holds nothing of the wiped message: CONT is refused; a new one is right.
        status, _ = await b.run(mode, SRC, 0, DST, outlen=32, cont=1)
        _expect_error(status, Cause.SEQ, "CONT after a wipe")
        msg = rng.randbytes(100)
        got, _ = await b.hash(Mode.SHA256, msg)
        assert got == hashlib.sha256(msg).digest()
    return body


def _wipe_word():
    f = next(f for f in CONTROL_REGS["CTRL"].fields if f.name == "WIPE")
    return 1 << f.offset


@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow),
                                  pytest.param(3, marks=pytest.mark.slow)])
def test_wipe_leaves_every_flop_at_reset(seed):
    _simulate(_wipe_body(seed))


def test_wipe_check_catches_a_datapath_left_out_of_the_wipe(monkeypatch):
    # The mutant: the datapath's reset is not applied (the register bank is still cleared).
    monkeypatch.setattr(hash_coprocessor, "ResetInserter", lambda ctl: (lambda e: e))
    _simulate(_wipe_body(1, expect_dirty="datapath.src ="))


@pytest.mark.parametrize("register", [False, True], ids=["direct", "request_register"])
def test_wipe_takes_a_fixed_number_of_cycles(register):
    """``wipe`` is held, and STATUS.WIPING reads 1, for the same number of cycles whatever
    the block was doing: the DMA engine's fixed wipe (its responses due come in the cycle
    the wipe starts; behind the pipelined SoC's request register within one more cycle,
    which the engine always waits) bounds it; the block's own part is WIPE_CYCLES."""
    lengths = set()

    async def body(b, frag):
        wipe, done = b.h.copro.ctl.block.wipe, b.h.copro.ctl.block.wipe_done
        rng = random.Random(4)
        for delay in [None, 3, 40, 90, 200]:
            if delay is not None:
                b.put(SRC, rng.randbytes(1000))
                await b.start(Mode.SHA256, SRC, 1000, DST)
                await b.ctx.tick().repeat(delay)
            assert await b.cwrite("CTRL", _wipe_word())
            n = block = 0
            while b.ctx.get(wipe):
                n += 1
                block += not b.ctx.get(done)
                await b.ctx.tick()
            assert block == WIPE_CYCLES, block
            lengths.add(n)
            await b.wait_ready()
    _simulate(body, request_register=register)
    # the engine's wipe (11 cycles for its 8-word FIFO, 12 behind the request register), then
    # one cycle for the control component to see both done
    latency = 2 if register else 1
    assert lengths == {DMAEngine(latency=latency).wipe_cycles + 1} == {11 + latency}, lengths
