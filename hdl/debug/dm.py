"""The Debug Module: RISC-V External Debug Support 0.13.2, one hart, no program buffer.

Reference: RISC-V External Debug Support, version 0.13.2 (2019-03-22), chapter 3. (GDB through
``sim/gdbserver.py`` and OpenOCD 0.12 speak this version.)

Implemented Debug Module Interface registers (DMI address: register):

========  ===========  =====================================================================
0x04/05   data0/1      abstract command arguments (datacount = 2)
0x10      dmcontrol    haltreq, resumereq, ackhavereset, hartsello, ndmreset, dmactive
0x11      dmstatus     version 2 (0.13), authenticated, halted/running/resumeack/havereset,
                       nonexistent for any hartsel but 0
0x12      hartinfo     0 (no data registers in the hart's address space)
0x16      abstractcs   progbufsize 0, busy, cmderr (write 1 to clear), datacount 2
0x17      command      Access Register (cmdtype 0) only
0x38-3c   sbcs, sbaddress0, sbdata0: system bus access, 8/16/32-bit, autoincrement,
                       read-on-address, read-on-data
0x40      haltsum0     bit 0: hart 0 halted
========  ===========  =====================================================================

Access Register: ``aarsize`` must be 2 (32 bits) when ``transfer`` is set, ``postexec`` is not
supported (no program buffer): both give ``cmderr`` 2 (not supported); a command while the hart
runs gives 4 (halt/resume); a register the hart does not have gives 3 (exception); a command,
or a data0/1 access, while one is still running gives 1 (busy). ``aarpostincrement`` works.

Reset and halt: ``ndmreset`` resets the core and the devices (the SoC's ``hold``: RAM keeps its
contents); ``haltreq`` held across it halts the hart before its first instruction, at the reset
vector (``hasresethaltreq`` is 0: this is the sequence OpenOCD and ``sim/gdbserver.py`` use).

The lock (``locked``, from :class:`~gluon.hdl.debug.lock.DebugLock`): while set,
``dmstatus.authenticated`` reads 0, ``haltreq`` and ``ndmreset`` do not reach the hart or the
SoC, ``ebreak``/``step`` do not enter debug mode, commands and system-bus accesses are ignored
and data0/1, sbaddress0 and sbdata0 read 0.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus import WishboneSignature
from .hart import DebugHartSignature


__all__ = ["DmiSignature", "DebugModule", "DMI"]


class DMI:
    """Debug Module Interface register addresses."""
    DATA0 = 0x04
    DATA1 = 0x05
    DMCONTROL = 0x10
    DMSTATUS = 0x11
    HARTINFO = 0x12
    ABSTRACTCS = 0x16
    COMMAND = 0x17
    ABSTRACTAUTO = 0x18
    SBCS = 0x38
    SBADDRESS0 = 0x39
    SBDATA0 = 0x3C
    HALTSUM0 = 0x40


class CmdErr:
    NONE, BUSY, NOT_SUPPORTED, EXCEPTION, HALT_RESUME, BUS, OTHER = 0, 1, 2, 3, 4, 5, 7


class DmiSignature(wiring.Signature):
    """The Debug Module Interface, seen from the transport (DTM): one access per ``req`` pulse.

    ``req`` Out(1) an access this cycle; ``we`` Out(1) a write; ``addr`` Out(7); ``wdata``
    Out(32); ``ack`` In(1) the next cycle, with ``rdata`` In(32) (the register before a write).
    """

    def __init__(self):
        super().__init__({"req": Out(1), "we": Out(1), "addr": Out(7), "wdata": Out(32),
                          "rdata": In(32), "ack": In(1)})


class DebugModule(wiring.Component):
    """Ports: ``dmi`` (from the transport), ``hart`` (to the core), ``sba`` (a Wishbone
    initiator for system bus access), ``ndmreset`` (to the SoC's reset of core and devices),
    ``locked`` (from the lock register)."""

    dmi: In(DmiSignature())
    hart: Out(DebugHartSignature())
    sba: Out(WishboneSignature(addr_width=30))
    ndmreset: Out(1)
    locked: In(1)

    def elaborate(self, platform):
        m = Module()
        dmi, hart, sba = self.dmi, self.hart, self.sba
        locked = self.locked

        dmactive = Signal()
        haltreq = Signal()
        ndmreset = Signal()
        hartsel = Signal(10)
        havereset = Signal(init=1)
        resumeack = Signal()
        data = Array([Signal(32, name=f"data{i}") for i in range(2)])
        cmderr = Signal(3)
        busy = Signal()
        command = Signal(32)
        sb_readonaddr = Signal()
        sb_readondata = Signal()
        sb_autoinc = Signal()
        sb_access = Signal(3, init=2)
        sb_error = Signal(3)
        sb_busyerror = Signal()
        sb_busy = Signal()
        sb_addr = Signal(32)
        sb_data = Signal(32)

        nonexistent = hartsel != 0
        halted = hart.halted & ~nonexistent
        running = ~hart.halted & ~nonexistent
        m.d.comb += [
            hart.haltreq.eq(haltreq & dmactive & ~locked),
            hart.enable.eq(~locked),
            self.ndmreset.eq(ndmreset & ~locked),
        ]
        with m.If(self.ndmreset):
            m.d.sync += havereset.eq(1)

        dmstatus = Cat(C(2, 4), C(0, 2), C(0, 1), ~locked,              # version, authenticated
                       halted, halted, running, running, C(0, 2),       # any/all halted, running
                       nonexistent, nonexistent, resumeack, resumeack,
                       havereset, havereset, C(0, 12))
        dmcontrol = Cat(dmactive, ndmreset, C(0, 14), hartsel, C(0, 5), haltreq)
        abstractcs = Cat(C(2, 4), C(0, 4), cmderr, C(0, 1), busy, C(0, 11), C(0, 5))
        sbcs = Cat(C(0b111, 3), C(0, 2), C(32, 7), sb_error, sb_readondata, sb_autoinc,
                   sb_access, sb_readonaddr, sb_busy, sb_busyerror, C(0, 6), C(1, 3))

        # ---- register reads (the value before this cycle's write)
        rdata = Signal(32)
        with m.Switch(dmi.addr):
            with m.Case(DMI.DATA0, DMI.DATA1):
                m.d.comb += rdata.eq(Mux(locked, 0, data[dmi.addr[0]]))
            with m.Case(DMI.DMCONTROL):
                m.d.comb += rdata.eq(dmcontrol)
            with m.Case(DMI.DMSTATUS):
                m.d.comb += rdata.eq(dmstatus)
            with m.Case(DMI.ABSTRACTCS):
                m.d.comb += rdata.eq(abstractcs)
            with m.Case(DMI.COMMAND):
                m.d.comb += rdata.eq(0)
            with m.Case(DMI.SBCS):
                m.d.comb += rdata.eq(sbcs)
            with m.Case(DMI.SBADDRESS0):
                m.d.comb += rdata.eq(Mux(locked, 0, sb_addr))
            with m.Case(DMI.SBDATA0):
                m.d.comb += rdata.eq(Mux(locked, 0, sb_data))
            with m.Case(DMI.HALTSUM0):
                m.d.comb += rdata.eq(halted)
        m.d.sync += dmi.ack.eq(dmi.req)
        with m.If(dmi.req):              # (only then: the simulation model skips the read mux)
            m.d.sync += dmi.rdata.eq(rdata)

        wr = dmi.req & dmi.we
        rd = dmi.req & ~dmi.we
        w = dmi.wdata
        start_cmd = Signal()
        sb_start = Signal()
        sb_start_we = Signal()

        with m.If(wr & (dmi.addr == DMI.DMCONTROL)):
            m.d.sync += dmactive.eq(w[0])
            with m.If(~w[0]):
                # dmactive = 0 resets the Debug Module (spec 3.14.2)
                m.d.sync += [haltreq.eq(0), ndmreset.eq(0), hartsel.eq(0), cmderr.eq(0),
                             sb_error.eq(0), sb_busyerror.eq(0)]
            with m.Else():
                m.d.sync += [haltreq.eq(w[31]), ndmreset.eq(w[1]), hartsel.eq(w[16:26])]
                with m.If(w[28]):
                    m.d.sync += havereset.eq(0)
                with m.If(w[30] & ~w[31]):
                    m.d.sync += resumeack.eq(0)
                    m.d.comb += hart.resumereq.eq(~nonexistent)

        with m.If(hart.resumeack):                      # (after the clear above: wins)
            m.d.sync += resumeack.eq(1)

        data_access = dmi.req & ((dmi.addr == DMI.DATA0) | (dmi.addr == DMI.DATA1))
        with m.If(data_access & busy & (cmderr == 0)):
            m.d.sync += cmderr.eq(CmdErr.BUSY)
        with m.Elif(wr & (dmi.addr[1:] == DMI.DATA0 >> 1) & ~locked & ~busy):
            m.d.sync += data[dmi.addr[0]].eq(w)
        with m.If(wr & (dmi.addr == DMI.ABSTRACTCS)):
            m.d.sync += cmderr.eq(cmderr & ~w[8:11])
        with m.If(wr & (dmi.addr == DMI.COMMAND) & ~locked):
            with m.If(busy):
                with m.If(cmderr == 0):
                    m.d.sync += cmderr.eq(CmdErr.BUSY)
            with m.Elif(cmderr == 0):
                m.d.sync += command.eq(w)
                m.d.comb += start_cmd.eq(1)

        # ---- Access Register
        cmdtype = command[24:32]
        aarsize = command[20:23]
        postinc = command[19]
        postexec = command[18]
        transfer = command[17]
        write = command[16]
        regno = command[:16]
        m.d.comb += [hart.acc_we.eq(write), hart.acc_regno.eq(regno), hart.acc_wdata.eq(data[0])]
        with m.FSM(name="abstract"):
            with m.State("IDLE"):
                with m.If(start_cmd):
                    m.d.sync += busy.eq(1)
                    m.next = "CHECK"
            with m.State("CHECK"):
                with m.If((cmdtype != 0) | postexec | transfer & (aarsize != 2)):
                    m.d.sync += [cmderr.eq(CmdErr.NOT_SUPPORTED), busy.eq(0)]
                    m.next = "IDLE"
                with m.Elif(~halted):
                    m.d.sync += [cmderr.eq(CmdErr.HALT_RESUME), busy.eq(0)]
                    m.next = "IDLE"
                with m.Elif(~transfer):
                    m.d.sync += busy.eq(0)
                    m.next = "IDLE"
                with m.Else():
                    m.next = "ACCESS"
            with m.State("ACCESS"):
                m.d.comb += hart.acc_req.eq(1)
                with m.If(hart.acc_ack):
                    with m.If(~write):
                        m.d.sync += data[0].eq(hart.acc_rdata)
                    with m.If(postinc):
                        m.d.sync += command[:16].eq(regno + 1)
                    m.d.sync += busy.eq(0)
                    m.next = "IDLE"
                with m.Elif(hart.acc_err):
                    m.d.sync += [cmderr.eq(CmdErr.EXCEPTION), busy.eq(0)]
                    m.next = "IDLE"
                with m.Elif(~halted):
                    m.d.sync += [cmderr.eq(CmdErr.HALT_RESUME), busy.eq(0)]
                    m.next = "IDLE"

        # ---- System bus access
        with m.If(wr & (dmi.addr == DMI.SBCS)):
            m.d.sync += [sb_readonaddr.eq(w[20]), sb_access.eq(w[17:20]), sb_autoinc.eq(w[16]),
                         sb_readondata.eq(w[15]), sb_error.eq(sb_error & ~w[12:15]),
                         sb_busyerror.eq(sb_busyerror & ~w[22])]
        sb_ok = (sb_error == 0) & ~sb_busyerror & ~locked
        sb_touch = dmi.req & ((dmi.addr == DMI.SBADDRESS0) | (dmi.addr == DMI.SBDATA0))
        with m.If(sb_touch & sb_busy & ~locked):
            m.d.sync += sb_busyerror.eq(1)
        with m.Elif(wr & (dmi.addr == DMI.SBADDRESS0) & sb_ok):
            m.d.sync += sb_addr.eq(w)
            m.d.comb += sb_start.eq(sb_readonaddr)
        with m.Elif(wr & (dmi.addr == DMI.SBDATA0) & sb_ok):
            m.d.sync += sb_data.eq(w)
            m.d.comb += [sb_start.eq(1), sb_start_we.eq(1)]
        with m.Elif(rd & (dmi.addr == DMI.SBDATA0) & sb_ok):
            m.d.comb += sb_start.eq(sb_readondata)

        size_bytes = Mux(sb_access == 0, 1, Mux(sb_access == 1, 2, 4))
        sb_we = Signal()
        sb_sel = Signal(4)
        lane = sb_addr[:2]
        with m.Switch(sb_access):
            with m.Case(0):
                m.d.comb += sb_sel.eq(1 << lane)
            with m.Case(1):
                m.d.comb += sb_sel.eq(Mux(lane[1], 0b1100, 0b0011))
            with m.Default():
                m.d.comb += sb_sel.eq(0b1111)
        misaligned = (sb_access == 1) & lane[0] | (sb_access == 2) & (lane != 0)
        m.d.comb += [sba.adr.eq(sb_addr[2:]), sba.we.eq(sb_we), sba.sel.eq(sb_sel),
                     sba.dat_w.eq(sb_data << Cat(C(0, 3), lane))]
        with m.FSM(name="sba"):
            with m.State("IDLE"):
                with m.If(sb_start):
                    with m.If((sb_access > 2) | misaligned):
                        m.d.sync += sb_error.eq(Mux(sb_access > 2, 4, 3))
                    with m.Else():
                        m.d.sync += [sb_busy.eq(1), sb_we.eq(sb_start_we)]
                        m.next = "REQ"
            with m.State("REQ"):
                m.d.comb += [sba.cyc.eq(1), sba.stb.eq(1)]
                with m.If(~sba.stall):
                    m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += sba.cyc.eq(1)
                with m.If(sba.ack | sba.err):
                    with m.If(sba.err):
                        m.d.sync += sb_error.eq(2)      # bad address
                    with m.Else():
                        with m.If(~sb_we):
                            m.d.sync += sb_data.eq(sba.dat_r >> Cat(C(0, 3), lane))
                        with m.If(sb_autoinc):
                            m.d.sync += sb_addr.eq(sb_addr + size_bytes)
                    m.d.sync += sb_busy.eq(0)
                    m.next = "IDLE"
        return m
