"""A GDB remote-serial-protocol server for the simulated SoC, driving its Debug Module.

``gluon sim --gdb PORT app.elf`` runs the Verilator model with the harness's DMI pipe
(sim/harness.cpp, ``--dmi``), holds the hart halted at the reset vector, and serves one GDB
connection on 127.0.0.1:PORT. Everything goes through the Debug Module's registers (RISC-V
External Debug Support 0.13.2): halt/resume/step through ``dmcontrol`` and ``dcsr.step``,
registers through Access Register commands, memory through system bus access. Stock GDB
(``gdb-for-pwndbg`` from pip) then works: ``target remote``, ``load``, ``break``/``tbreak``
(GDB writes ``ebreak``, which enters debug mode with ``dcsr.ebreakm``/``ebreaku`` set at
attach), ``step``/``next``/``stepi``, ``info registers`` with the CSRs by name (the target
description below), ``x/``, ``set var``, Ctrl-C, ``continue`` to the program's exit (reported
to GDB as the exit status ``gluon sim`` returns), ``monitor reset halt``. ``hbreak``,
``watch``, ``rwatch`` and ``awatch`` use the core's triggers (hdl/triggers.py; GDB's ``Z1``-``Z4``
packets): each takes one ``mcontrol`` trigger with ``dmode`` = 1 and action 1 (enter debug
mode), and a halt on a trigger is reported with the watched address (``watch:ADDR``), which
GDB needs to step over the access and show the old and new values.

The protocol: GDB Manual, appendix E "GDB Remote Serial Protocol"; registers numbered as GDB's
RISC-V target does (x0-x31: 0-31, pc: 32, CSR n: 65 + n).
"""

import select
import socket
import sys
import time

from gluon.hdl.debug.dm import DMI
from gluon.hdl.debug.hart import DCSR, DPC
from gluon.hdl.isa import Csr
from gluon.hdl.triggers import TriggerCsr, MCONTROL_TYPE
from gluon.hdl.debug.uart_dtm import ESC, CMD_READ, CMD_WRITE, CMD_QUIT, LITERAL, REPLY, OPENED


__all__ = ["DmiPipe", "UartDmi", "DmiLinkError", "Hart", "GdbServer", "TARGET_XML", "register_debug"]

HALTREQ, RESUMEREQ, ACKHAVERESET, NDMRESET, DMACTIVE = 1 << 31, 1 << 30, 1 << 28, 1 << 1, 1
SBREADONADDR, SBREADONDATA, SBAUTOINC = 1 << 20, 1 << 15, 1 << 16
CSR_BASE = 65
EBREAK_MU = (1 << 15) | (1 << 12)          # dcsr.ebreakm, dcsr.ebreaku
DCSR_CAUSE_TRIGGER = 2
# tdata1 (mcontrol) for GDB's triggers: type 2, dmode, action 1 (debug mode), M and U; plus
# execute (Z1), store (Z2), load (Z3) or both (Z4)
MC_GDB = (MCONTROL_TYPE << 28) | (1 << 27) | (1 << 12) | (1 << 6) | (1 << 3)
MC_HIT = 1 << 20
MC_KIND = {1: 1 << 2, 2: 1 << 1, 3: 1 << 0, 4: (1 << 1) | (1 << 0)}
STOP_KIND = {1: "hwbreak", 2: "watch", 3: "rwatch", 4: "awatch"}

# The CSRs GDB shows by name (``info registers mstatus``; ``info registers csr`` for all).
CSRS = [("mstatus", Csr.MSTATUS), ("misa", Csr.MISA), ("mie", Csr.MIE), ("mtvec", Csr.MTVEC),
        ("mcounteren", Csr.MCOUNTEREN), ("mscratch", Csr.MSCRATCH), ("mepc", Csr.MEPC),
        ("mcause", Csr.MCAUSE), ("mtval", Csr.MTVAL), ("mip", Csr.MIP),
        ("mcycle", Csr.MCYCLE), ("minstret", Csr.MINSTRET), ("mcycleh", Csr.MCYCLEH),
        ("minstreth", Csr.MINSTRETH), ("mvendorid", Csr.MVENDORID), ("marchid", Csr.MARCHID),
        ("mimpid", Csr.MIMPID), ("mhartid", Csr.MHARTID), ("dcsr", DCSR), ("dpc", DPC),
        ("tselect", TriggerCsr.TSELECT), ("tdata1", TriggerCsr.TDATA1),
        ("tdata2", TriggerCsr.TDATA2), ("tcontrol", TriggerCsr.TCONTROL)]

_GPR_NAMES = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1"] + \
    [f"a{i}" for i in range(8)] + [f"s{i}" for i in range(2, 12)] + [f"t{i}" for i in range(3, 7)]


def _target_xml():
    regs = "".join(f'<reg name="{n}" bitsize="32" type="{"data_ptr" if n in ("sp", "fp") else "int"}"/>'
                   for n in _GPR_NAMES)
    csrs = "".join(f'<reg name="{n}" bitsize="32" regnum="{CSR_BASE + int(a)}" type="int" group="csr"/>'
                   for n, a in CSRS)
    return ('<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target>'
            '<architecture>riscv:rv32</architecture>'
            f'<feature name="org.gnu.gdb.riscv.cpu">{regs}'
            '<reg name="pc" bitsize="32" type="code_ptr"/></feature>'
            f'<feature name="org.gnu.gdb.riscv.csr">{csrs}</feature></target>')


TARGET_XML = _target_xml()


class DebugError(Exception):
    pass


class DmiPipe:
    """DMI accesses through the harness's pipe (sim/harness.cpp, ``--dmi``)."""

    def __init__(self, wfd, rfd):
        self.w = open(wfd, "w", buffering=1)
        self.r = open(rfd, "r")

    def xfer(self, line):
        try:
            self.w.write(line + "\n")
            reply = self.r.readline()
        except (BrokenPipeError, ValueError):
            reply = ""
        if not reply:
            raise EOFError("the simulation has ended")
        return int(reply, 16)

    def read(self, addr):
        return self.xfer(f"r {addr:x}")

    def write(self, addr, value):
        self.xfer(f"w {addr:x} {value & 0xFFFF_FFFF:x}")

    def close(self):
        for f in (self.w, self.r):
            try:
                f.close()
            except OSError:
                pass


class DmiLinkError(Exception):
    """The bridge did not answer (no link, a lost byte, the wrong port or baud rate)."""


class UartDmi:
    """The host side: DMI reads and writes (the interface of sim/gdbserver.py's ``DmiPipe``)
    over a byte ``port`` with ``write(bytes)``, ``read(n, timeout)`` and ``send_break()``.
    ``console(bytes)`` gets the program's output seen in between."""

    def __init__(self, port, *, console=None, timeout=1.0, retries=2):
        self.port, self.timeout, self.retries = port, timeout, retries
        self.console = console or (lambda data: None)
        self._last_poll = 0.0

    def _wait(self, kind):
        """Bytes up to the frame ``DB kind``; returns its payload (4 bytes for a reply)."""
        end = time.monotonic() + self.timeout
        text = bytearray()
        try:
            while time.monotonic() < end:
                b = self.port.read(1, max(end - time.monotonic(), 0.001))
                if not b:
                    break
                if b[0] != ESC:
                    text += b
                    continue
                k = self.port.read(1, self.timeout)
                if k == bytes([LITERAL]):
                    text.append(ESC)
                elif k == bytes([REPLY]):
                    data = self.port.read(4, self.timeout)
                    if kind == REPLY and len(data) == 4:
                        return data
                elif k == bytes([OPENED]) and kind == OPENED:
                    return b""
            raise DmiLinkError("no answer from the board's debug bridge within "
                               f"{self.timeout:g} s (a bitstream built with `gluon build "
                               "--debug`? the right port and baud rate?)")
        finally:
            if text:
                self.console(bytes(text))

    def open(self):
        self.port.send_break()
        self._wait(OPENED)

    def _xfer(self, frame):
        for attempt in range(self.retries + 1):
            self.port.write(frame)
            try:
                return int.from_bytes(self._wait(REPLY), "little")
            except DmiLinkError:
                if attempt == self.retries:
                    raise
                self.open()                          # resynchronise the parser

    def read(self, addr):
        return self._xfer(bytes([ESC, CMD_READ, addr & 0x7F]))

    def write(self, addr, value):
        self._xfer(bytes([ESC, CMD_WRITE, addr & 0x7F]) + (value & 0xFFFF_FFFF).to_bytes(4, "little"))

    def send(self, data):
        """Console input for the program (0xDB escaped)."""
        self.port.write(bytes(data).replace(bytes([ESC]), bytes([ESC, LITERAL])))

    def poll(self):
        """Called before each status read while the hart runs: at most one every 10 ms, and
        the program's output in between goes to the console."""
        wait = self._last_poll + 0.01 - time.monotonic()
        if wait > 0:
            data = self.port.read(4096, wait)
            if data.endswith(bytes([ESC])):
                data += self.port.read(1, self.timeout)      # the escape's second byte
            if data:
                self.console(data.replace(bytes([ESC, LITERAL]), bytes([ESC])))
        self._last_poll = time.monotonic()

    def close(self):
        self.port.write(bytes([ESC, CMD_QUIT]))


class Hart:
    """The one hart, through the Debug Module."""

    def __init__(self, dmi):
        self.dmi = dmi

    def status(self):
        return self.dmi.read(DMI.DMSTATUS)

    def check_authenticated(self):
        if not self.status() >> 7 & 1:
            raise DebugError("the Debug Module is locked (dmstatus.authenticated = 0): debug "
                             "access was turned off by firmware (DEBUG.LOCK) until power-on")

    def halted(self):
        return bool(self.status() >> 9 & 1)

    def halt(self, timeout=2.0):
        self.check_authenticated()
        self.dmi.write(DMI.DMCONTROL, HALTREQ | DMACTIVE)
        t0 = time.monotonic()
        while not self.halted():
            if time.monotonic() - t0 > timeout:
                self.dmi.write(DMI.DMCONTROL, DMACTIVE)
                self.check_authenticated()
                raise DebugError("the hart did not halt")
        self.dmi.write(DMI.DMCONTROL, DMACTIVE)

    def resume(self, step=False):
        # ebreak enters debug mode (GDB's software breakpoints); set on every resume, since a
        # reset (ndmreset, `monitor reset halt`) clears dcsr
        dcsr = self.read_reg(DCSR)
        want = (dcsr | EBREAK_MU | 4) if step else ((dcsr | EBREAK_MU) & ~4)
        if want != dcsr:
            self.write_reg(DCSR, want)
        self.dmi.write(DMI.DMCONTROL, RESUMEREQ | DMACTIVE)

    def reset_halt(self):
        self.dmi.write(DMI.DMCONTROL, HALTREQ | NDMRESET | DMACTIVE)
        self.dmi.write(DMI.DMCONTROL, HALTREQ | DMACTIVE)
        self.halt()
        self.dmi.write(DMI.DMCONTROL, ACKHAVERESET | DMACTIVE)

    def _command(self, regno, write):
        self.dmi.write(DMI.COMMAND, (2 << 20) | (1 << 17) | (int(write) << 16) | regno)
        while True:
            cs = self.dmi.read(DMI.ABSTRACTCS)
            if not cs >> 12 & 1:
                break
        err = cs >> 8 & 7
        if err:
            self.dmi.write(DMI.ABSTRACTCS, 7 << 8)
            raise DebugError(f"abstract command on register {regno:#x}: cmderr {err}")

    def read_reg(self, regno):
        self._command(regno, False)
        return self.dmi.read(DMI.DATA0)

    def write_reg(self, regno, value):
        self.dmi.write(DMI.DATA0, value)
        self._command(regno, True)

    def trigger_count(self):
        """How many triggers the hart has (tselect keeps only values below the count)."""
        n = 0
        try:
            old = self.read_reg(TriggerCsr.TSELECT)
            while n < 16:
                self.write_reg(TriggerCsr.TSELECT, n)
                if self.read_reg(TriggerCsr.TSELECT) != n:
                    break
                n += 1
            self.write_reg(TriggerCsr.TSELECT, old)
        except DebugError:
            return 0                  # no trigger CSRs
        return n

    def trigger_read(self, i):
        """(tdata1, tdata2) of trigger ``i``."""
        old = self.read_reg(TriggerCsr.TSELECT)
        self.write_reg(TriggerCsr.TSELECT, i)
        val = self.read_reg(TriggerCsr.TDATA1), self.read_reg(TriggerCsr.TDATA2)
        self.write_reg(TriggerCsr.TSELECT, old)
        return val

    def trigger_write(self, i, tdata1, tdata2=None):
        old = self.read_reg(TriggerCsr.TSELECT)
        self.write_reg(TriggerCsr.TSELECT, i)
        self.write_reg(TriggerCsr.TDATA1, 0)            # off while tdata2 changes
        if tdata2 is not None:
            self.write_reg(TriggerCsr.TDATA2, tdata2)
        self.write_reg(TriggerCsr.TDATA1, tdata1)
        self.write_reg(TriggerCsr.TSELECT, old)

    def _sb_check(self):
        cs = self.dmi.read(DMI.SBCS)
        if cs >> 12 & 7 or cs >> 22 & 1:
            self.dmi.write(DMI.SBCS, (7 << 12) | (1 << 22))
            return False
        return True

    def read_mem(self, addr, n):
        out = bytearray()
        a = addr & ~3
        end = addr + n
        self.dmi.write(DMI.SBCS, SBREADONADDR | SBREADONDATA | SBAUTOINC | (2 << 17))
        self.dmi.write(DMI.SBADDRESS0, a)
        while a < end:
            w = self.dmi.read(DMI.SBDATA0)
            out += w.to_bytes(4, "little")
            a += 4
        if not self._sb_check():
            raise DebugError(f"memory read at {addr:#x} failed")
        off = addr & 3
        return bytes(out[off:off + n])

    def write_mem(self, addr, data):
        i = 0
        n = len(data)
        while i < n:
            a = addr + i
            if a % 4 == 0 and n - i >= 4:
                self.dmi.write(DMI.SBCS, SBAUTOINC | (2 << 17))
                self.dmi.write(DMI.SBADDRESS0, a)
                while n - i >= 4:
                    self.dmi.write(DMI.SBDATA0, int.from_bytes(data[i:i + 4], "little"))
                    i += 4
            else:
                self.dmi.write(DMI.SBCS, 0 << 17)
                self.dmi.write(DMI.SBADDRESS0, a)
                self.dmi.write(DMI.SBDATA0, data[i])
                i += 1
        if not self._sb_check():
            raise DebugError(f"memory write at {addr:#x} failed")


def _escape_bin(data):
    out = bytearray()
    i = 0
    while i < len(data):
        c = data[i]
        if c == 0x7D:
            i += 1
            out.append(data[i] ^ 0x20)
        else:
            out.append(c)
        i += 1
    return bytes(out)


class GdbServer:
    """One GDB connection. ``exited()`` returns the run's exit status once the simulation has
    ended (else None); ``kill()`` ends it."""

    def __init__(self, hart, sock, *, exited, kill, log=None):
        self.hart = hart
        self.sock = sock
        self.exited = exited
        self.kill = kill
        self.log = log or (lambda msg: None)
        self.buf = b""
        self.no_ack = False
        self._noack_next = False
        self.triggers = []            # per trigger: (Z type, address) GDB set, or None

    # ---- packets
    def _recv(self, timeout=None):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return None
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("GDB closed the connection")
        self.buf += data
        return data

    def send(self, payload):
        if isinstance(payload, str):
            payload = payload.encode("latin-1")
        pkt = b"$" + payload + b"#" + f"{sum(payload) & 0xFF:02x}".encode()
        self.sock.sendall(pkt)

    def next_packet(self):
        """The next packet's payload (bytes), or b"\\x03" for an interrupt."""
        while True:
            while self.buf[:1] in (b"+", b"-"):
                self.buf = self.buf[1:]
            if self.buf[:1] == b"\x03":
                self.buf = self.buf[1:]
                return b"\x03"
            if self.buf.startswith(b"$"):
                end = self.buf.find(b"#")
                if end >= 0 and len(self.buf) >= end + 3:
                    payload = self.buf[1:end]
                    self.buf = self.buf[end + 3:]
                    if not self.no_ack:
                        self.sock.sendall(b"+")
                    return payload
            elif self.buf:
                self.buf = self.buf[1:]          # noise between packets
                continue
            self._recv()

    # ---- the connection: one GDB client at a time
    def serve(self):
        self.hart.write_reg(DCSR, self.hart.read_reg(DCSR) | EBREAK_MU)
        self.triggers = [None] * self.hart.trigger_count()
        while True:
            pkt = self.next_packet()
            try:
                reply = self.handle(pkt)
            except EOFError:
                code = None
                for _ in range(100):              # the harness is writing its statistics
                    code = self.exited()
                    if code is not None:
                        break
                    time.sleep(0.05)
                self.send(f"W{(code if code is not None else 0) & 0xFF:02x}")
                return
            except DebugError as e:
                self.log(f"gluon-gdb: {e}")
                reply = "E01"
            if reply is None:
                return
            self.send(reply)
            if self._noack_next:
                self.no_ack, self._noack_next = True, False
            if reply.startswith("W"):
                return

    def stop_reply(self, sig=5):
        return f"T{sig:02x}"

    def halt_reply(self):
        """The stop reply for a halt after a resume: on a trigger, which one (GDB shows an
        ``hbreak`` stop as such, and steps over a watched access, then compares values)."""
        h = self.hart
        if h.read_reg(DCSR) >> 6 & 7 == DCSR_CAUSE_TRIGGER:
            for i, t in enumerate(self.triggers):
                if t is None:
                    continue
                tdata1, _ = h.trigger_read(i)
                if tdata1 & MC_HIT:
                    h.trigger_write(i, tdata1 & ~MC_HIT)
                    kind, addr = t
                    return f"T05{STOP_KIND[kind]}:{'' if kind == 1 else f'{addr:x}'};"
        return self.stop_reply(5)

    def set_trigger(self, kind, addr):
        """GDB's Z1-Z4: a free trigger (no execute/load/store bit set) gets it."""
        for i, t in enumerate(self.triggers):
            if t is None and self.hart.trigger_read(i)[0] & 7 == 0:
                self.hart.trigger_write(i, MC_GDB | MC_KIND[kind], addr)
                self.triggers[i] = (kind, addr)
                return "OK"
        return "E0e"                  # none left: GDB says it cannot insert it

    def clear_trigger(self, kind, addr):
        for i, t in enumerate(self.triggers):
            if t == (kind, addr):
                self.hart.trigger_write(i, 0)
                self.triggers[i] = None
        return "OK"

    def wait_stop(self):
        """After a resume: until the hart halts, GDB interrupts, or the program exits."""
        poll = getattr(self.hart.dmi, "poll", None)      # a board's UART: rate and console
        while True:
            code = self.exited()
            if code is not None:
                return f"W{code & 0xFF:02x}"
            if poll is not None:
                poll()
            try:
                if self.hart.halted():
                    return self.halt_reply()
            except EOFError:
                continue
            if self._recv(0.02) is not None and b"\x03" in self.buf:
                self.buf = self.buf.replace(b"\x03", b"", 1)
                try:
                    self.hart.halt()
                except DebugError as e:
                    # locked: say so on GDB's console and keep waiting for the program's end
                    self.log(f"gluon-gdb: {e}")
                    self.send("O" + f"{e}\n".encode().hex())
                    continue
                return self.stop_reply(2)

    def handle(self, pkt):
        h = self.hart
        if pkt == b"\x03":
            if not h.halted():
                h.halt()
            return self.stop_reply(2)
        p = pkt.decode("latin-1")
        if p.startswith("qSupported"):
            return "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;hwbreak+"
        if p == "QStartNoAckMode":
            self._noack_next = True
            return "OK"
        if p.startswith("qXfer:features:read:target.xml:"):
            off, length = (int(x, 16) for x in p.rsplit(":", 1)[1].split(","))
            chunk = TARGET_XML[off:off + length]
            return ("l" if off + length >= len(TARGET_XML) else "m") + chunk
        if p == "?":
            return self.stop_reply(5)
        if p in ("qAttached",):
            return "1"
        if p == "qC":
            return "QC1"
        if p == "qfThreadInfo":
            return "m1"
        if p == "qsThreadInfo":
            return "l"
        if p.startswith("H") or p.startswith("T"):
            return "OK"
        if p == "g":
            vals = [h.read_reg(0x1000 + i) for i in range(32)] + [h.read_reg(DPC)]
            return "".join(v.to_bytes(4, "little").hex() for v in vals)
        if p.startswith("G"):
            data = bytes.fromhex(p[1:])
            for i in range(1, 33):
                v = int.from_bytes(data[4 * i:4 * i + 4], "little")
                h.write_reg(0x1000 + i if i < 32 else DPC, v)
            return "OK"
        if p.startswith("p"):
            n = int(p[1:], 16)
            regno = self._regno(n)
            if regno is None:
                return "E02"
            try:
                return h.read_reg(regno).to_bytes(4, "little").hex()
            except DebugError:
                return "E03"
        if p.startswith("P"):
            n, v = p[1:].split("=")
            regno = self._regno(int(n, 16))
            if regno is None:
                return "E02"
            h.write_reg(regno, int.from_bytes(bytes.fromhex(v), "little"))
            return "OK"
        if p.startswith("m"):
            addr, n = (int(x, 16) for x in p[1:].split(","))
            try:
                return h.read_mem(addr, n).hex()
            except DebugError:
                return "E04"
        if p.startswith("M"):
            head, data = p[1:].split(":", 1)
            addr, n = (int(x, 16) for x in head.split(","))
            h.write_mem(addr, bytes.fromhex(data))
            return "OK"
        if p.startswith("X"):
            head = pkt[1:pkt.index(b":")].decode()
            addr, n = (int(x, 16) for x in head.split(","))
            if n:
                h.write_mem(addr, _escape_bin(pkt[pkt.index(b":") + 1:]))
            return "OK"
        if p[:1] in ("Z", "z") and p[1:2] in ("1", "2", "3", "4"):
            kind = int(p[1])
            addr = int(p.split(",")[1], 16)
            return (self.set_trigger if p[0] == "Z" else self.clear_trigger)(kind, addr)
        if p.startswith("vCont?"):
            return "vCont;c;C;s;S"
        if p.startswith("vCont;"):
            action = p[6:7].lower()
            return self._go(step=action == "s")
        if p.startswith("c") or p.startswith("C"):
            return self._go(step=False, addr=p[1:] if p.startswith("c") else "")
        if p.startswith("s") or p.startswith("S"):
            return self._go(step=True, addr=p[1:] if p.startswith("s") else "")
        if p.startswith("qRcmd,"):
            cmd = bytes.fromhex(p[6:]).decode()
            return self.monitor(cmd)
        if p == "D" or p.startswith("D;"):
            h.resume()
            self.send("OK")
            return None
        if p == "k" or p.startswith("vKill"):
            self.kill()
            return None
        return ""

    def _regno(self, n):
        if n < 32:
            return 0x1000 + n
        if n == 32:
            return DPC
        if n >= CSR_BASE and n - CSR_BASE < 0x1000:
            return n - CSR_BASE
        return None

    def _go(self, step, addr=""):
        if addr:
            self.hart.write_reg(DPC, int(addr, 16))
        self.hart.resume(step=step)
        return self.wait_stop()

    def monitor(self, cmd):
        words = cmd.split()
        if words == ["reset", "halt"] or words == ["reset"]:
            self.hart.reset_halt()
            if words == ["reset"]:
                self.hart.resume()
            return "OK"
        if words == ["halt"]:
            self.hart.halt()
            return "OK"
        msg = f"unknown monitor command: {cmd}\n(known: reset halt, reset, halt)\n"
        return "O" + msg.encode().hex()


def listen(port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    return srv


class SerialLink:
    """The board's serial device (pyserial, raw 8N1) as the byte port of :class:`UartDmi`."""

    def __init__(self, path, baud=115200):
        import serial
        try:
            self.port = serial.Serial(path, baud, bytesize=8, parity="N", stopbits=1, timeout=0)
        except (ValueError, serial.SerialException) as e:
            raise DmiLinkError(f"cannot open {path}: {getattr(e, 'strerror', None) or e}") from None
        self.port.reset_input_buffer()

    def write(self, data):
        self.port.write(data)
        self.port.flush()

    def read(self, n, timeout):
        out, end = bytearray(), time.monotonic() + timeout
        while len(out) < n:
            left = end - time.monotonic()
            if left <= 0:
                break
            self.port.timeout = left
            out += self.port.read(n - len(out))
        return bytes(out)

    def send_break(self):
        self.port.send_break(0.01)          # 10 ms: over 1000 bit times at 115200 baud

    def close(self):
        self.port.close()


def register_debug(sub):
    """``gluon debug`` (sim/cli.py adds it to the ``gluon`` command)."""
    p = sub.add_parser("debug", help="serve GDB for a board built with `gluon build --debug`, "
                       "through its UART (docs/debugging.md)")
    p.add_argument("elf", nargs="?", help="load this ELF through the Debug Module first "
                   "(after a reset; the hart waits at its entry point)")
    p.add_argument("--port", required=True, help="the board's serial device, e.g. /dev/ttyUSB0")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--gdb", type=int, default=3333, metavar="PORT",
                   help="TCP port GDB connects to on 127.0.0.1 (default 3333)")
    p.add_argument("--reset-halt", action="store_true",
                   help="reset the SoC and halt at the reset vector (default: halt where it is)")
    p.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for each reply")
    p.set_defaults(func=cmd_debug)


def _err(msg):
    print(f"gluon debug: error: {msg}", file=sys.stderr, flush=True)


def cmd_debug(args):
    """`gluon debug`: a debug connection over the board's UART, served to one GDB connection."""
    if not 0 < args.gdb < 65536:
        _err(f"--gdb must be a TCP port (1-65535), not {args.gdb}"); return 2
    elf = None
    if args.elf:
        from gluon.firmware.elf import load_elf, LoadError
        try:
            elf = load_elf(args.elf)
        except (LoadError, OSError) as e:
            _err(f"{args.elf}: {e}"); return 2
    try:
        port = SerialLink(args.port, args.baud)
    except DmiLinkError as e:
        _err(str(e)); return 2

    def console(data):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    dmi = UartDmi(port, console=console, timeout=args.timeout)
    try:
        dmi.open()
        hart = Hart(dmi)
        if args.reset_halt or elf is not None:
            hart.reset_halt()
        else:
            hart.halt()
        if elf is not None:
            for addr, data in elf.segments:
                hart.write_mem(addr, data)
            hart.write_reg(DPC, elf.entry)
        srv = listen(args.gdb)
        print(f"gluon debug: the hart is halted; waiting for GDB on 127.0.0.1:{args.gdb}",
              file=sys.stderr, flush=True)
        conn, _ = srv.accept()
        srv.close()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            GdbServer(hart, conn, exited=lambda: None, kill=lambda: None,
                      log=lambda msg: print(msg, file=sys.stderr, flush=True)).serve()
        except EOFError:
            pass
        finally:
            conn.close()
        if hart.halted():
            hart.resume()
    except (DmiLinkError, DebugError) as e:
        _err(str(e)); return 1
    except KeyboardInterrupt:
        pass
    finally:
        try:
            dmi.close()
        except OSError:
            pass
        port.close()
    return 0
