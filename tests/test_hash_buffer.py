"""BlockBuffer (hdl/hash/buffer.py): the blocks the filler hands to the engines equal the
padded message blocks written out in Python from FIPS 180-4 5.1.1 (SHA-256: 0x80, zeros,
64-bit big-endian bit length; big-endian words) and FIPS 202 5.1 (pad10*1 after the mode's
domain bits; little-endian words), for lengths around every block boundary."""

import random

import pytest
from amaranth.sim import Simulator

from gluon.hdl.hash import Mode, MODE_PARAMS
from gluon.hdl.hash.buffer import BlockBuffer


def padded_blocks(mode, msg):
    pp = MODE_PARAMS[mode]
    if pp.sha:
        data = msg + b"\x80" + b"\x00" * ((55 - len(msg)) % 64) + (8 * len(msg)).to_bytes(8, "big")
        order = "big"
    else:
        rate = pp.block_bytes
        data = bytearray(msg + bytes([pp.pad]) + b"\x00" * ((rate - len(msg) - 1) % rate))
        data[-1] |= 0x80
        order = "little"
    bs = pp.block_bytes
    return [[int.from_bytes(data[i + 4 * w:i + 4 * w + 4], order) for w in range(bs // 4)]
            for i in range(0, len(data), bs)]


def filled_blocks(mode, msg):
    pp = MODE_PARAMS[mode]
    dut = BlockBuffer()
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    words = [int.from_bytes(msg[i:i + 4].ljust(4, b"\xAA"), "little")     # bytes past LEN: junk
             for i in range(0, len(msg), 4)]
    blocks = []

    async def bench(ctx):
        p = dut.params
        ctx.set(p.sha, pp.sha); ctx.set(p.more, 0); ctx.set(p.pad, pp.pad)
        ctx.set(p.thresh, pp.last_threshold); ctx.set(p.last_fi, pp.block_words - 1)
        ctx.set(dut.total, len(msg)); ctx.set(dut.length, len(msg)); ctx.set(dut.setup, 1)
        await ctx.tick()
        ctx.set(dut.setup, 0)
        ctx.set(dut.absorbing, 1)
        i = 0
        for _ in range(40 * (len(msg) // 4 + 50)):
            ctx.set(dut.rd.valid, i < len(words))
            ctx.set(dut.rd.payload, words[i] if i < len(words) else 0)
            if ctx.get(dut.handoff):
                blocks.append([ctx.get(dut.words[w]) for w in range(pp.block_words)])
            if not ctx.get(dut.active) and not ctx.get(dut.full):
                break
            if ctx.get(dut.rd.valid) and ctx.get(dut.rd.ready):
                i += 1
            await ctx.tick()
        assert i == len(words), "every message word taken"
    sim.add_testbench(bench)
    sim.run()
    return blocks


@pytest.mark.parametrize("mode", [Mode.SHA256, Mode.SHA3_512, Mode.SHAKE128])
def test_blocks_are_the_padded_message(mode):
    bs = MODE_PARAMS[mode].block_bytes
    rng = random.Random(mode.value)
    for n in sorted({0, 3, 4, bs - 9, bs - 8, bs - 1, bs, bs + 1, 2 * bs + 3}):
        msg = bytes(rng.getrandbits(8) for _ in range(max(n, 0)))
        assert filled_blocks(mode, msg) == padded_blocks(mode, msg), (mode, n)


def test_input_register_one_word_per_cycle_and_flushed():
    """The filler's input register: taken whenever empty (one word of slack while the filler
    waits), one word per cycle while the filler takes them, and a word left in it by an
    abandoned chunk (flush) never reaches the next chunk's block."""
    mode = Mode.SHA3_512
    pp = MODE_PARAMS[mode]
    dut = BlockBuffer()
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    msg = bytes(range(1, 1 + pp.block_bytes))
    words = [int.from_bytes(msg[i:i + 4], "little") for i in range(0, len(msg), 4)]

    async def bench(ctx):
        p = dut.params
        ctx.set(p.sha, pp.sha); ctx.set(p.more, 0); ctx.set(p.pad, pp.pad)
        ctx.set(p.thresh, pp.last_threshold); ctx.set(p.last_fi, pp.block_words - 1)

        async def setup(n):
            ctx.set(dut.total, n); ctx.set(dut.length, n); ctx.set(dut.setup, 1)
            await ctx.tick()
            ctx.set(dut.setup, 0)

        # A chunk whose filler does not run yet: one word is taken, then no more.
        await setup(8)
        ctx.set(dut.rd.valid, 1); ctx.set(dut.rd.payload, 0xDEAD_BEEF)
        assert ctx.get(dut.rd.ready)
        await ctx.tick()
        assert not ctx.get(dut.rd.ready), "one word of slack only"
        ctx.set(dut.rd.valid, 0)
        ctx.set(dut.flush, 1)
        await ctx.tick()
        ctx.set(dut.flush, 0)
        # The next chunk: its words stream in at one per cycle, the stale word is gone.
        await setup(len(msg))
        ctx.set(dut.absorbing, 1)
        i, cycles, blocks = 0, 0, []
        while cycles < 200:
            ctx.set(dut.rd.valid, i < len(words))
            ctx.set(dut.rd.payload, words[i] if i < len(words) else 0)
            if i < len(words):
                assert ctx.get(dut.rd.ready), f"cycle {cycles}: word {i} refused"
            if ctx.get(dut.handoff):
                blocks.append([ctx.get(dut.words[w]) for w in range(pp.block_words)])
                break
            if ctx.get(dut.rd.valid) and ctx.get(dut.rd.ready):
                i += 1
            await ctx.tick()
            cycles += 1
        assert blocks and blocks[0] == padded_blocks(mode, msg)[0], blocks
        # 18 words, one per cycle, then one cycle in the register: full after 19 cycles.
        assert cycles == len(words) + 1, cycles
    sim.add_testbench(bench)
    sim.run()
