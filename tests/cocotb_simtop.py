"""cocotb test bench for the SoC's simulation top (sim/simtop.py), run by tests/test_cocotb.py.

The same Verilog the C++ harness uses: the bench loads an ELF image through the debug
handshake while ``hold`` is high, releases the core, collects UART bytes from the UART's own
``tx_stb``/``tx_byte`` ports and stops at the store to ``tohost``. Python awaits every clock
here (slow, ~100k cycles/s): fine for a short program, which is what this bench is for.
"""

import os
import struct

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, FallingEdge


async def debug_write(dut, addr, word, sel):
    dut.dbg_we.value = 1
    dut.dbg_adr.value = addr >> 2
    dut.dbg_wdata.value = word
    dut.dbg_sel.value = sel
    dut.dbg_req.value = 1
    for _ in range(100):
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        if dut.dbg_done.value:
            break
    else:
        raise AssertionError(f"debug write to {addr:#x}: no response")
    assert not dut.dbg_err.value, f"bus error loading {addr:#x}"
    dut.dbg_req.value = 0
    for _ in range(100):
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        if not dut.dbg_done.value:
            break


@cocotb.test()
async def run_program(dut):
    image = open(os.environ["GLUON_IMAGE"], "rb").read()
    tohost = int(os.environ["GLUON_TOHOST"], 0)
    max_cycles = int(os.environ.get("GLUON_MAX_CYCLES", "200000"))
    Clock(dut.clk, 10, unit="ns").start()
    dut.hold.value = 1
    dut.dbg_req.value = 0
    dut.tohost_addr.value = tohost
    for _ in range(8):
        await FallingEdge(dut.clk)
    pos = 0
    while pos < len(image):
        addr, n = struct.unpack_from("<II", image, pos)
        data = image[pos + 8:pos + 8 + n]
        pos += 8 + n
        for off in range(0, n, 4):
            chunk = data[off:off + 4]
            sel = (1 << len(chunk)) - 1
            await debug_write(dut, addr + off, int.from_bytes(chunk.ljust(4, b"\0"), "little"), sel)
    dut.hold.value = 0
    out = bytearray()
    result = None
    for cycle in range(max_cycles):
        await FallingEdge(dut.clk)          # combinational outputs of this cycle are settled
        if dut.uart_tx_stb.value:
            out.append(int(dut.uart_tx_byte.value))
        if dut.tohost_stb.value:
            result = int(dut.tohost_data.value)
            break
    with open(os.environ["GLUON_OUT"], "wb") as f:
        f.write(bytes(out))
    assert result == 1, f"tohost = {result} after {cycle} cycles; output so far: {bytes(out)!r}"
