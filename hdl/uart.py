"""UART: 8N1 transmitter and receiver with FIFOs.

``tx_stb``/``tx_byte`` pulse whenever firmware writes a byte to TXDATA: the simulator takes
its console output from these (the same UART, not a second model), the ``tx`` pin carries the
same byte serially at ``clk / DIVISOR`` baud.
"""

from amaranth import *
from amaranth.lib import wiring, fifo
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature
from .regs import Field, Register, RegisterMap, RegisterBank


__all__ = ["UART"]


class UART(wiring.Component):
    REGS = RegisterMap("UART", [
        Register("TXDATA", 0x00, "w", [Field("DATA", 8, desc="byte to send")],
                 desc="Transmit: a byte store queues one byte (dropped if the FIFO is full: poll TX_READY)."),
        Register("STATUS", 0x04, "r", [
            Field("TX_READY", 1, desc="the transmit FIFO has room"),
            Field("RX_VALID", 1, desc="the receive FIFO holds a byte"),
            Field("TX_EMPTY", 1, desc="transmitter idle and FIFO empty"),
            Field("RX_OVERRUN", 1, desc="a received byte was lost (FIFO full); cleared by reading STATUS"),
        ], desc="Status."),
        Register("RXDATA", 0x08, "r", [Field("DATA", 8), Field("VALID", 1, offset=31)],
                 desc="Receive: reading pops one byte; VALID says whether DATA holds one."),
        Register("CTRL", 0x0C, "rw", [Field("RX_IRQ_EN", 1, desc="raise the interrupt line while RX_VALID")],
                 desc="Control."),
        Register("DIVISOR", 0x10, "ext", [Field("DIVISOR", 16, desc="clock cycles per bit (>= 2)")],
                 desc="Baud rate divisor: baud = clk / DIVISOR. Reset value: a SoC parameter "
                      "(SYSINFO.CLK_HZ / 115200 on boards)."),
    ], desc="8N1 UART with 16-byte transmit and receive FIFOs.")

    def __init__(self, *, divisor=434):
        if not 2 <= divisor < 1 << 16:
            raise ValueError(f"UART divisor must be 2..65535, not {divisor}")
        self.divisor = divisor
        super().__init__({
            "bus": In(WishboneSignature(addr_width=10)),
            "tx": Out(1, init=1),
            "rx": In(1, init=1),
            "irq": Out(1),
            "tx_stb": Out(1),
            "tx_byte": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        m.submodules.txf = txf = fifo.SyncFIFOBuffered(width=8, depth=16)
        m.submodules.rxf = rxf = fifo.SyncFIFOBuffered(width=8, depth=16)
        div = Signal(16, init=self.divisor)
        m.d.comb += regs.divisor.r_data.divisor.eq(div)
        with m.If(regs.divisor.w_stb & (regs.divisor.w_data.divisor >= 2)):
            m.d.sync += div.eq(regs.divisor.w_data.divisor)

        # transmit
        m.d.comb += [
            txf.w_data.eq(regs.txdata.w_data.data),
            txf.w_en.eq(regs.txdata.w_stb),
            self.tx_stb.eq(regs.txdata.w_stb & txf.w_rdy),
            self.tx_byte.eq(regs.txdata.w_data.data),
        ]
        tx_shift = Signal(10)
        tx_bits = Signal(4)
        tx_cnt = Signal(16)
        with m.If(tx_bits == 0):
            m.d.comb += txf.r_en.eq(1)
            with m.If(txf.r_rdy):
                m.d.sync += [tx_shift.eq(Cat(C(0, 1), txf.r_data, C(1, 1))), tx_bits.eq(10),
                             tx_cnt.eq(div - 1)]
        with m.Else():
            m.d.comb += self.tx.eq(tx_shift[0])
            with m.If(tx_cnt == 0):
                m.d.sync += [tx_shift.eq(tx_shift >> 1), tx_bits.eq(tx_bits - 1), tx_cnt.eq(div - 1)]
            with m.Else():
                m.d.sync += tx_cnt.eq(tx_cnt - 1)
        with m.If(tx_bits == 0):
            m.d.comb += self.tx.eq(1)

        # receive: sample in the middle of each bit
        rx_sync = Signal(2, init=3)
        m.d.sync += rx_sync.eq(Cat(self.rx, rx_sync[0]))
        rx_in = rx_sync[1]
        rx_bits = Signal(4)
        rx_cnt = Signal(16)
        rx_shift = Signal(8)
        overrun = Signal()
        with m.If(rx_bits == 0):
            with m.If(~rx_in):
                m.d.sync += [rx_bits.eq(10), rx_cnt.eq(div >> 1)]
        with m.Elif(rx_cnt != 0):
            m.d.sync += rx_cnt.eq(rx_cnt - 1)
        with m.Else():
            m.d.sync += [rx_cnt.eq(div - 1), rx_bits.eq(rx_bits - 1)]
            with m.If(rx_bits == 10):
                with m.If(rx_in):                      # false start bit
                    m.d.sync += rx_bits.eq(0)
            with m.Elif(rx_bits == 1):
                with m.If(rx_in):                      # valid stop bit
                    m.d.comb += [rxf.w_data.eq(rx_shift), rxf.w_en.eq(1)]
                    with m.If(~rxf.w_rdy):
                        m.d.sync += overrun.eq(1)
            with m.Else():
                m.d.sync += rx_shift.eq(Cat(rx_shift[1:], rx_in))
        with m.If(regs.status.r_stb):
            m.d.sync += overrun.eq(0)

        m.d.comb += [
            regs.status.r_data.tx_ready.eq(txf.w_rdy),
            regs.status.r_data.rx_valid.eq(rxf.r_rdy),
            regs.status.r_data.tx_empty.eq(~txf.r_rdy & (tx_bits == 0)),
            regs.status.r_data.rx_overrun.eq(overrun),
            regs.rxdata.r_data.data.eq(rxf.r_data),
            regs.rxdata.r_data.valid.eq(rxf.r_rdy),
            rxf.r_en.eq(regs.rxdata.r_stb),
            self.irq.eq(regs.ctrl.data.rx_irq_en & rxf.r_rdy),
        ]
        return m
