"""UART (hdl/uart.py): 8N1 framing and bit timing on the pin, the transmit strobe the
simulator prints from, reception sampled mid-bit with false-start and bad-stop rejection, the
receive FIFO (16 bytes, overrun flag cleared by reading STATUS), the interrupt, the divisor."""

import random

import pytest
from amaranth import *
from amaranth.sim import Simulator

from gluon.hdl.uart import UART
from wbmodel import wb_access, wb_read, wb_write

REGS = UART.REGS
TXDATA, STATUS, RXDATA, CTRL, DIVISOR = (REGS[n].offset for n in
                                         ("TXDATA", "STATUS", "RXDATA", "CTRL", "DIVISOR"))
TX_READY, RX_VALID, TX_EMPTY, RX_OVERRUN = 1, 2, 4, 8


def _run(dut, *tbs):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for tb in tbs:
        sim.add_testbench(tb)
    sim.run()


async def _frame_on_pin(ctx, dut, div, timeout=2000):
    """Wait for a start bit on ``tx``; return (byte, bit lengths in cycles of start, data bits
    and stop bit) measured on the pin."""
    for _ in range(timeout):
        if not ctx.get(dut.tx):
            break
        await ctx.tick()
    else:
        raise AssertionError("no start bit")
    levels = []
    for _ in range(10 * div):
        levels.append(ctx.get(dut.tx))
        await ctx.tick()
    bits = [levels[i * div:(i + 1) * div] for i in range(10)]
    for i, b in enumerate(bits):
        assert len(set(b)) == 1, f"bit {i} not steady for {div} cycles: {b}"
    assert bits[0][0] == 0 and bits[9][0] == 1, "start bit 0, stop bit 1"
    return sum(b[0] << i for i, b in enumerate(bits[1:9]))


@pytest.mark.parametrize("div", [4, 7])
def test_transmit_framing_and_timing(div):
    dut = UART(divisor=div)
    sent = [0x55, 0x00, 0xFF, 0xA3]
    strobes = []

    async def writer(ctx):
        assert await wb_read(ctx, dut.bus, STATUS) & (TX_READY | TX_EMPTY) == TX_READY | TX_EMPTY
        for b in sent:
            await wb_write(ctx, dut.bus, TXDATA, 0xFFFF_FF00 | b, sel=0x1)   # a byte store
        assert not await wb_read(ctx, dut.bus, STATUS) & TX_EMPTY

    async def pin(ctx):
        got = [await _frame_on_pin(ctx, dut, div) for _ in sent]
        assert got == sent
        for _ in range(2 * div):
            assert ctx.get(dut.tx) == 1                # idle high after the last stop bit
            await ctx.tick()

    async def strobe(ctx):
        async for _clk, _rst, stb, byte in ctx.tick().sample(dut.tx_stb, dut.tx_byte):
            if stb:
                strobes.append(byte)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(writer)
    sim.add_testbench(pin)
    sim.add_process(strobe)
    sim.run()
    assert strobes == sent


def test_transmit_fifo_full_drops_and_status():
    div = 64                                           # slow: the FIFO fills before a byte leaves
    dut = UART(divisor=div)

    async def tb(ctx):
        n = 0
        while await wb_read(ctx, dut.bus, STATUS) & TX_READY:
            await wb_write(ctx, dut.bus, TXDATA, n)
            n += 1
            assert n < 40
        # the FIFO holds 16, one byte more is in the shifter by now
        assert 16 <= n <= 18, n
        ack, err, _, _ = await wb_access(ctx, dut.bus, TXDATA, we=True, data=0x99)
        assert ack and not err                         # a write when full is accepted, dropped
        for _ in range((n + 1) * 10 * div + 50):
            await ctx.tick()
        assert await wb_read(ctx, dut.bus, STATUS) & TX_EMPTY
    _run(dut, tb)


async def _send_on_pin(ctx, dut, byte, div, stop=1, glitch=False):
    """Drive one 8N1 frame into ``rx``. ``glitch``: only a start-bit glitch shorter than half
    a bit (a false start)."""
    if glitch:
        ctx.set(dut.rx, 0)
        for _ in range(div // 2 - 1):
            await ctx.tick()
        ctx.set(dut.rx, 1)
        for _ in range(10 * div):
            await ctx.tick()
        return
    for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [stop]:
        ctx.set(dut.rx, bit)
        for _ in range(div):
            await ctx.tick()
    ctx.set(dut.rx, 1)
    for _ in range(div):
        await ctx.tick()


def test_receive_fifo_overrun_and_irq():
    div = 6
    dut = UART(divisor=div)
    rng = random.Random(3)
    data = [rng.randrange(256) for _ in range(17)]

    async def tb(ctx):
        ctx.set(dut.rx, 1)
        rx = await wb_read(ctx, dut.bus, RXDATA)
        assert rx >> 31 == 0                           # VALID clear: nothing received
        await wb_write(ctx, dut.bus, CTRL, 1)          # RX_IRQ_EN
        assert not ctx.get(dut.irq)
        await _send_on_pin(ctx, dut, 0x5A, div, glitch=True)
        await _send_on_pin(ctx, dut, 0x33, div, stop=0)    # bad stop bit: dropped
        assert not await wb_read(ctx, dut.bus, STATUS) & RX_VALID
        assert not ctx.get(dut.irq)
        for b in data:                                 # 17 bytes into a 16-byte FIFO
            await _send_on_pin(ctx, dut, b, div)
        assert ctx.get(dut.irq)
        status = await wb_read(ctx, dut.bus, STATUS)
        assert status & (RX_VALID | RX_OVERRUN) == RX_VALID | RX_OVERRUN
        assert not await wb_read(ctx, dut.bus, STATUS) & RX_OVERRUN   # cleared by the read
        got = []
        while True:
            rx = await wb_read(ctx, dut.bus, RXDATA)
            if not rx >> 31:
                break
            got.append(rx & 0xFF)
        assert got == data[:16]                        # the 17th was lost
        assert not ctx.get(dut.irq)
    _run(dut, tb)


def test_divisor_register():
    dut = UART(divisor=9)

    async def tb(ctx):
        assert await wb_read(ctx, dut.bus, DIVISOR) == 9
        await wb_write(ctx, dut.bus, DIVISOR, 1)       # below 2: ignored
        assert await wb_read(ctx, dut.bus, DIVISOR) == 9
        await wb_write(ctx, dut.bus, DIVISOR, 3)
        assert await wb_read(ctx, dut.bus, DIVISOR) == 3
        await wb_write(ctx, dut.bus, TXDATA, 0xC4)
        assert await _frame_on_pin(ctx, dut, 3) == 0xC4
        ctx.set(dut.rx, 1)
        await _send_on_pin(ctx, dut, 0x3C, 3)
        assert await wb_read(ctx, dut.bus, RXDATA) == (1 << 31) | 0x3C
    _run(dut, tb)


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_construction_errors():
    with pytest.raises(ValueError, match="divisor"):
        UART(divisor=1)
    with pytest.raises(ValueError, match="divisor"):
        UART(divisor=1 << 16)
