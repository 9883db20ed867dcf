"""The UART boot loader (boards/fw/boot.c) and its host side (boards/boot.py, `gluon load`).

End to end in Amaranth's simulator: the board logic (SoC, RAM holding the loader as its
initial contents) receives, through its UART RX pin, the bytes the real host code
(:class:`gluon.boards.boot.Loader`) sends, and answers through its TX pin; the loaded program
then runs and prints. Also the refusals (bad CRC, address inside the loader) and the CLI's
errors.
"""

import queue
import struct
import subprocess
import sys
import threading
import zlib

import pytest

from gluon.boards.boot import (BOOT_SIZE, BootError, Loader, build_loader, go_frame,
                               ping_frame, write_frames)
from gluon.boards.firmware import FW_DIR, compile_bare, ram_init_from_elf
from gluon.hdl.soc import RAM_BASE
from gluon.firmware.elf import load_elf

RAM = 4096
DIVISOR = 8                 # cycles per bit: the loader takes ~70 cycles per byte, the FIFO holds 16

APP = r"""
#include <stdint.h>
#include "gluon/regs.h"
static const char msg[] = "app ok\r\n";
int main(void)
{
    for (const char *s = msg; *s; s++) {
        while (!(GLUON_UART_STATUS & GLUON_UART_STATUS_TX_READY_MASK))
            ;
        GLUON_UART_TXDATA = (uint8_t)*s;
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("boot")
    loader = build_loader(d, ram_size=RAM)
    src = d / "app.c"
    src.write_text(APP)
    # linked for the RAM below the loader: its stack must not run over the loader
    app = compile_bare([FW_DIR / "start.S", src], d / "app.elf", ram_size=RAM - BOOT_SIZE)
    return loader, app


class SimPort:
    """The byte port of :class:`Loader`, bridged to the simulated UART by two queues."""

    def __init__(self):
        self.to_board, self.from_board = queue.Queue(), queue.Queue()

    def write(self, data):
        for b in data:
            self.to_board.put(b)

    def read(self, n, timeout):
        out = bytearray()
        try:
            while len(out) < n:
                out.append(self.from_board.get(timeout=timeout))
        except queue.Empty:
            pass
        return bytes(out)


def run_board(loader_elf, host, *, max_cycles, until=lambda sent: True):
    """Simulate the board logic booting ``loader_elf`` while ``host(port)`` runs in a thread,
    until the host is done and ``until(bytes sent so far)``; returns (everything the board
    sent, the host's result or exception)."""
    from amaranth.sim import Simulator
    from gluon.boards.top import BoardLogic
    from gluon.hdl.config import get_config

    cfg = get_config("minimal").with_(ram_size=RAM, clk_hz=1_000_000, uart_divisor=DIVISOR)
    words, elf = ram_init_from_elf(loader_elf, ram_size=RAM)
    dut = BoardLogic(config=cfg, ram_init=words, tohost=elf.tohost, n_leds=8)
    soc = dut.soc
    port, sent, result = SimPort(), bytearray(), {}

    def host_thread():
        try:
            result["value"] = host(port)
        except Exception as e:              # handed to the test
            result["error"] = e

    async def typist(ctx):
        while True:
            try:
                byte = port.to_board.get_nowait()
            except queue.Empty:
                await ctx.tick()
                continue
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                ctx.set(dut.uart_rx, bit)
                for _ in range(DIVISOR):         # (not .repeat(): the run may end mid-byte)
                    await ctx.tick()

    async def monitor(ctx):
        worker = threading.Thread(target=host_thread, daemon=True)
        worker.start()
        for cycle in range(max_cycles):
            await ctx.tick()
            if ctx.get(soc.uart_tx_stb):
                b = ctx.get(soc.uart_tx_byte)
                sent.append(b)
                port.from_board.put(b)
            if not worker.is_alive() and ("error" in result or until(sent)):
                break
        result["cycles"] = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(monitor)
    sim.add_testbench(typist, background=True)
    sim.run()
    return bytes(sent), result


def test_loader_image(images):
    loader, _app = images
    elf = load_elf(loader, ram_size=RAM)
    boot_base = RAM_BASE + RAM - BOOT_SIZE
    # one word at the reset vector (a jump), the loader at the top of RAM
    assert [a for a, _d in elf.segments] == [RAM_BASE, boot_base]
    assert len(elf.segments[0][1]) == 4
    assert boot_base + len(elf.segments[1][1]) + 256 <= RAM_BASE + RAM


def test_frames_layout():
    assert ping_frame() == b"GLBP"
    data = bytes(i % 251 for i in range(300))
    frames = list(write_frames([(0x8000_0100, data)], chunk=256))
    assert len(frames) == 2
    addr, n = struct.unpack_from("<II", frames[1], 4)
    assert (addr, n) == (0x8000_0200, 44)
    assert frames[1][12:-4] == data[256:]
    assert struct.unpack("<I", frames[1][-4:])[0] == zlib.crc32(data[256:])
    assert go_frame(0x8000_0000) == b"GLBG" + b"\x00\x00\x00\x80"


def test_load_and_run_over_uart(images):
    """The host code loads the app through the simulated UART; the app runs and prints."""
    loader, app = images
    log = []
    sent, res = run_board(loader, lambda port: Loader(port, timeout=120, log=log.append).load(app),
                          max_cycles=200_000, until=lambda sent: sent.endswith(b"app ok\r\n"))
    assert "error" not in res, res["error"]
    text = sent.decode(errors="replace")
    assert text.startswith(f"\r\nGluon boot loader: load below 0x{RAM_BASE + RAM - BOOT_SIZE:08x}\r\n")
    assert res["value"] == sum(len(d) for _a, d in load_elf(app, ram_size=RAM).segments)
    assert text.endswith("app ok\r\n"), repr(text)
    assert log and log[-1].startswith(f"loaded {res['value']}/{res['value']}")


def test_refusals(images):
    """Ping answers the layout; a corrupted block and a block over the loader are refused
    with their codes and nothing runs; the loader keeps answering afterwards."""
    loader, _app = images
    boot_base = RAM_BASE + RAM - BOOT_SIZE

    def host(port):
        ld = Loader(port, timeout=120)
        replies = [ld.ping()]
        bad = bytearray(next(write_frames([(RAM_BASE + 0x100, b"\x13\x00\x00\x00" * 4)])))
        bad[14] ^= 1                                    # one data bit flipped on the line
        for frame in [bytes(bad), next(write_frames([(boot_base - 4, b"\x00" * 8)])),
                      go_frame(boot_base), go_frame(RAM_BASE + 2)]:
            port.write(frame)
            try:
                ld._reply("frame")
                replies.append("K")
            except BootError as e:
                replies.append(str(e))
        replies.append(ld.ping())
        return replies

    sent, res = run_board(loader, host, max_cycles=60_000)
    assert "error" not in res, res["error"]
    r = res["value"]
    assert r[0] == (boot_base, RAM) and r[-1] == (boot_base, RAM)
    assert "CRC mismatch" in r[1]
    assert all("address outside" in x for x in r[2:5]), r


def test_build_loader_needs_room(tmp_path):
    from gluon.firmware.elf import LoadError
    with pytest.raises(LoadError, match="no room"):
        build_loader(tmp_path, ram_size=BOOT_SIZE)


def test_cli_load_bad_port(tmp_path, images):
    _loader, app = images
    p = subprocess.run([sys.executable, "-m", "gluon.sim.cli", "load", str(app), "--port",
                        str(tmp_path / "nope")], capture_output=True, text=True)
    assert p.returncode == 2 and "cannot open" in p.stderr and "Traceback" not in p.stderr
    f = tmp_path / "plain"
    f.write_text("x")
    p = subprocess.run([sys.executable, "-m", "gluon.sim.cli", "load", str(app), "--port", str(f)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "not a serial port" in p.stderr, p.stderr
