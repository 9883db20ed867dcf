"""A Debug Transport Module over the board's UART: the bridge a board top puts between its UART
pins and the SoC (boards/top.py, ``gluon build --debug``); the host side is sim/gdbserver.py's
``UartDmi`` (``gluon debug``).

The ULX3S has one USB serial port, shared by the program's console and the boot loader; the
bridge sits between the pins and the SoC's UART and is transparent until a debugger opens a
*link*. The multiplexing:

* **Opening**: the host sends a UART *break* (the line held low for 20 bit times or more). No
  byte stream contains one (every byte ends with a high stop bit), so the console and the
  boot loader's binary frames pass through untouched outside a link; the SoC's own UART
  drops the break (no stop bit). The bridge answers ``DB 03``.
* **In a link**, both directions carry frames introduced by the escape byte 0xDB; every
  other byte is console traffic, passed on (host to program and program to host):

  ===========================  ==============================================================
  host -> board                meaning
  ===========================  ==============================================================
  ``DB 72 addr``               DMI read of register ``addr`` (7 bits): reply ``DB 01 d0-d3``
  ``DB 77 addr d0 d1 d2 d3``   DMI write (little-endian data): reply ``DB 01`` + the old value
  ``DB 71``                    end of the link (back to transparent)
  ``DB 00``                    a 0xDB byte for the program
  ===========================  ==============================================================

  From the board, ``DB 00`` is a 0xDB the program sent, ``DB 01 d0-d3`` a DMI reply, ``DB 03``
  the link's opening. A break also resets the frame parser, so a host that lost a byte
  opens the link again.
* The bridge runs at the UART's reset baud rate (``clk_hz / uart_divisor``, 115200 on the
  boards); a program that changes ``UART.DIVISOR`` changes only its own side.
* The program's output in a link is taken as it is written to the UART (``tx_stb``) into a
  32-byte FIFO and sent between replies, escaped; with the host waiting for each reply, a
  program printing without pause at full line rate can overrun it (bytes are then lost; the
  host side polls a running hart at most every 10 ms to leave room).

``gluon debug --port DEV`` opens a link and serves GDB through sim/gdbserver.py, exactly as
``gluon sim --gdb`` does over the simulator's DMI pipe.
"""

from amaranth import *
from amaranth.lib import wiring, fifo
from amaranth.lib.wiring import In, Out

from .dm import DmiSignature


__all__ = ["ESC", "CMD_READ", "CMD_WRITE", "CMD_QUIT", "LITERAL", "REPLY", "OPENED",
           "DmiUartBridge"]

ESC = 0xDB
CMD_READ, CMD_WRITE, CMD_QUIT, LITERAL = 0x72, 0x77, 0x71, 0x00
REPLY, OPENED = 0x01, 0x03
BREAK_BITS = 20


class _Rx(wiring.Component):
    """8N1 receiver (bytes with a bad stop bit are dropped) and break detector."""
    line: In(1, init=1)
    valid: Out(1)
    data: Out(8)
    brk: Out(1)
    long_low: Out(1)

    def __init__(self, divisor):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        div = self.divisor
        sync = Signal(2, init=3)
        m.d.sync += sync.eq(Cat(self.line, sync[0]))
        rx = sync[1]
        bits = Signal(4)
        cnt = Signal(range(div))
        shift = Signal(8)
        with m.If(bits == 0):
            with m.If(~rx):
                m.d.sync += [bits.eq(10), cnt.eq(div >> 1)]
        with m.Elif(cnt != 0):
            m.d.sync += cnt.eq(cnt - 1)
        with m.Else():
            m.d.sync += [cnt.eq(div - 1), bits.eq(bits - 1)]
            with m.If(bits == 10):
                with m.If(rx):                          # false start bit
                    m.d.sync += bits.eq(0)
            with m.Elif(bits == 1):
                m.d.comb += [self.valid.eq(rx), self.data.eq(shift)]
            with m.Else():
                m.d.sync += shift.eq(Cat(shift[1:], rx))
        # a break: low for BREAK_BITS bit times, reported once
        low = Signal(range(BREAK_BITS * div + 1))
        with m.If(rx):
            m.d.sync += low.eq(0)
        with m.Elif(low != BREAK_BITS * div):
            m.d.sync += low.eq(low + 1)
        m.d.comb += self.brk.eq(low == BREAK_BITS * div - 1)
        # low for longer than any byte (start + 8 zero bits): from 9.75 bit times, after a
        # receiver of the same baud has sampled the (low) stop bit and before it samples the
        # start bit of the frame it would begin next
        m.d.comb += self.long_low.eq(low >= (39 * div) // 4)
        with m.If(self.long_low):
            m.d.sync += bits.eq(0)            # no byte from the end of a break
        return m
        return m


class _Tx(wiring.Component):
    """8N1 transmitter: ``data`` is taken when ``valid`` & ``ready``."""
    valid: In(1)
    data: In(8)
    ready: Out(1)
    line: Out(1, init=1)

    def __init__(self, divisor):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        shift = Signal(10, init=0x3FF)
        bits = Signal(4)
        cnt = Signal(range(self.divisor))
        m.d.comb += [self.ready.eq(bits == 0), self.line.eq(shift[0] | (bits == 0))]
        with m.If(bits == 0):
            with m.If(self.valid):
                m.d.sync += [shift.eq(Cat(C(0, 1), self.data, C(1, 1))), bits.eq(10),
                             cnt.eq(self.divisor - 1)]
        with m.Elif(cnt == 0):
            m.d.sync += [shift.eq(Cat(shift[1:], C(1, 1))), bits.eq(bits - 1),
                         cnt.eq(self.divisor - 1)]
        with m.Else():
            m.d.sync += cnt.eq(cnt - 1)
        return m


class DmiUartBridge(wiring.Component):
    """Between the board's UART pins (``pin_rx``, ``pin_tx``) and the SoC's UART (``soc_rx``,
    ``soc_tx``, and ``soc_tx_stb``/``soc_tx_byte``: the bytes the program writes), a DMI
    initiator (``dmi``) for frames in a link; ``link`` is high during one.
    ``divisor``: clock cycles per bit."""

    pin_rx: In(1, init=1)
    pin_tx: Out(1)
    soc_rx: Out(1)
    soc_tx: In(1)
    soc_tx_stb: In(1)
    soc_tx_byte: In(8)
    dmi: Out(DmiSignature())
    link: Out(1)

    def __init__(self, *, divisor):
        if not isinstance(divisor, int) or divisor < 8:
            raise ValueError(f"divisor must be an integer >= 8, not {divisor!r}")
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = _Rx(self.divisor)
        m.submodules.tx = tx = _Tx(self.divisor)              # to the host, in a link
        m.submodules.regen = regen = _Tx(self.divisor)        # console bytes to the SoC
        m.submodules.to_soc = to_soc = fifo.SyncFIFOBuffered(width=8, depth=4)
        m.submodules.from_soc = from_soc = fifo.SyncFIFOBuffered(width=8, depth=32)
        link = self.link

        m.d.comb += [
            rx.line.eq(self.pin_rx),
            self.pin_tx.eq(Mux(link, tx.line, self.soc_tx)),
            # a break does not reach the SoC's UART as a byte: its first 9.75 bit times end in a
            # low stop bit (dropped), then the SoC sees the line idle
            self.soc_rx.eq(Mux(link, regen.line, self.pin_rx | rx.long_low)),
            regen.valid.eq(to_soc.r_rdy), regen.data.eq(to_soc.r_data),
            to_soc.r_en.eq(regen.ready),
            from_soc.w_en.eq(link & self.soc_tx_stb), from_soc.w_data.eq(self.soc_tx_byte),
        ]

        # ---- host -> board: the frame parser
        IDLE, ESCAPED, ADDR, DATA, REQ, ACK = range(6)
        st = Signal(range(6))
        we = Signal()
        addr = Signal(7)
        wdata = Signal(32)
        nbyte = Signal(2)
        reply = Signal(32)
        reply_kind = Signal(8)
        reply_pending = Signal()
        with m.Switch(st):
            with m.Case(IDLE):
                with m.If(rx.valid & link):
                    with m.If(rx.data == ESC):
                        m.d.sync += st.eq(ESCAPED)
                    with m.Else():
                        m.d.comb += [to_soc.w_en.eq(1), to_soc.w_data.eq(rx.data)]
            with m.Case(ESCAPED):
                with m.If(rx.valid):
                    m.d.sync += st.eq(IDLE)
                    with m.Switch(rx.data):
                        with m.Case(LITERAL):
                            m.d.comb += [to_soc.w_en.eq(1), to_soc.w_data.eq(ESC)]
                        with m.Case(CMD_READ, CMD_WRITE):
                            m.d.sync += [we.eq(rx.data == CMD_WRITE), st.eq(ADDR)]
                        with m.Case(CMD_QUIT):
                            m.d.sync += link.eq(0)
            with m.Case(ADDR):
                with m.If(rx.valid):
                    m.d.sync += [addr.eq(rx.data), nbyte.eq(0), st.eq(Mux(we, DATA, REQ))]
            with m.Case(DATA):
                with m.If(rx.valid):
                    m.d.sync += [wdata.eq(Cat(wdata[8:], rx.data)), nbyte.eq(nbyte + 1)]
                    with m.If(nbyte == 3):
                        m.d.sync += st.eq(REQ)
            with m.Case(REQ):
                m.d.comb += [self.dmi.req.eq(1), self.dmi.we.eq(we), self.dmi.addr.eq(addr),
                             self.dmi.wdata.eq(wdata)]
                m.d.sync += st.eq(ACK)
            with m.Case(ACK):
                with m.If(self.dmi.ack):
                    m.d.sync += [reply.eq(self.dmi.rdata), reply_kind.eq(REPLY),
                                 reply_pending.eq(1), st.eq(IDLE)]

        # ---- board -> host: replies first, then the program's bytes (0xDB escaped)
        seq = Signal(3)               # the byte of the reply or escape pair being sent
        lit = Signal()                # sending the 00 after a program's 0xDB
        reply_len = Mux(reply_kind == REPLY, 6, 2)
        out = Signal(8)
        with m.Switch(seq):
            with m.Case(0):
                m.d.comb += out.eq(ESC)
            with m.Case(1):
                m.d.comb += out.eq(reply_kind)
            for i in range(4):
                with m.Case(2 + i):
                    m.d.comb += out.eq(reply.word_select(i, 8))
        with m.If(~link):
            m.d.sync += [seq.eq(0), lit.eq(0), reply_pending.eq(0)]
        with m.Elif(lit):
            m.d.comb += [tx.valid.eq(1), tx.data.eq(LITERAL)]
            with m.If(tx.ready):
                m.d.sync += lit.eq(0)
        with m.Elif(reply_pending):
            m.d.comb += [tx.valid.eq(1), tx.data.eq(out)]
            with m.If(tx.ready):
                with m.If(seq == reply_len - 1):
                    m.d.sync += [seq.eq(0), reply_pending.eq(0)]
                with m.Else():
                    m.d.sync += seq.eq(seq + 1)
        with m.Elif(from_soc.r_rdy):
            m.d.comb += [tx.valid.eq(1), tx.data.eq(from_soc.r_data),
                         from_soc.r_en.eq(tx.ready)]
            with m.If(tx.ready & (from_soc.r_data == ESC)):
                m.d.sync += lit.eq(1)

        # a break opens a link (again) and resets the parser (last: it wins)
        with m.If(rx.brk):
            m.d.sync += [link.eq(1), st.eq(IDLE), seq.eq(0), lit.eq(0), reply_kind.eq(OPENED),
                         reply_pending.eq(1)]
        return m
