"""Keccak-f[1600] engine: known permutation output, sponges built on it against hashlib,
24 cycles per permutation whatever the data."""
import hashlib
import random

from amaranth.sim import Simulator

from gluon.hdl.hash.keccak import KeccakF1600, ABSORB_WORDS


def run(body):
    dut = KeccakF1600()
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        await body(ctx, dut)
    sim.add_testbench(bench)
    sim.run()


async def clear(ctx, dut):
    ctx.set(dut.clear, 1)
    await ctx.tick()
    ctx.set(dut.clear, 0)


async def permute(ctx, dut, block=b""):
    """XOR ``block`` (at most 168 bytes) in and permute; returns cycles from start to idle."""
    block = block.ljust(4 * ABSORB_WORDS, b"\0")
    for i in range(ABSORB_WORDS):
        ctx.set(dut.absorb[i], int.from_bytes(block[4 * i:4 * i + 4], "little"))
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)
    for i in range(ABSORB_WORDS):
        ctx.set(dut.absorb[i], 0)
    cycles = 1
    while ctx.get(dut.busy):
        await ctx.tick()
        cycles += 1
    return cycles


def state_bytes(ctx, dut):
    return b"".join(ctx.get(dut.state[i]).to_bytes(8, "little") for i in range(25))


async def sponge(ctx, dut, msg, rate, dsbyte, outlen):
    """FIPS 202 sponge with the multi-rate padding pad10*1 and domain bits in ``dsbyte``."""
    await clear(ctx, dut)
    padded = bytearray(msg + bytes([dsbyte]) + b"\0" * (-(len(msg) + 1) % rate))
    padded[-1] |= 0x80
    for i in range(0, len(padded), rate):
        await permute(ctx, dut, bytes(padded[i:i + rate]))
    out = b""
    while True:
        out += state_bytes(ctx, dut)[:rate]
        if len(out) >= outlen:
            return out[:outlen]
        await permute(ctx, dut)


def test_permutation_of_zero_state():
    # Keccak team's reference "KeccakF-1600-IntermediateValues.txt": lane 0 after one
    # permutation of the all-zero state, and lane 0 after a second one.
    async def body(ctx, dut):
        await clear(ctx, dut)
        assert await permute(ctx, dut) == 24
        assert ctx.get(dut.state[0]) == 0xF1258F7940E1DDE7, hex(ctx.get(dut.state[0]))
        assert await permute(ctx, dut) == 24
        assert ctx.get(dut.state[0]) == 0x2D5C954DF96ECB3C, hex(ctx.get(dut.state[0]))
    run(body)


def test_sponges_vs_hashlib():
    rng = random.Random(202)

    async def body(ctx, dut):
        for n in [0, 1, 71, 72, 135, 136, 137, 167, 168, 300]:
            msg = rng.randbytes(n)
            assert await sponge(ctx, dut, msg, 136, 0x06, 32) == hashlib.sha3_256(msg).digest(), n
            assert await sponge(ctx, dut, msg, 72, 0x06, 64) == hashlib.sha3_512(msg).digest(), n
            assert await sponge(ctx, dut, msg, 168, 0x1F, 200) == hashlib.shake_128(msg).digest(200), n
            assert await sponge(ctx, dut, msg, 136, 0x1F, 300) == hashlib.shake_256(msg).digest(300), n
    run(body)


def test_constant_time_and_control():
    rng = random.Random(24)

    async def body(ctx, dut):
        seen = set()
        for _ in range(6):
            seen.add(await permute(ctx, dut, rng.randbytes(168)))
        assert seen == {24}, seen
        # start and clear during a permutation are ignored.
        await clear(ctx, dut)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.clear, 1)
        await ctx.tick().repeat(23)
        ctx.set(dut.start, 0)
        ctx.set(dut.clear, 0)
        assert not ctx.get(dut.busy)
        assert ctx.get(dut.state[0]) == 0xF1258F7940E1DDE7, hex(ctx.get(dut.state[0]))
    run(body)
