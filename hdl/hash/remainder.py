"""LEN mod block size for the hash coprocessor's non-final chunks, one bit per cycle, MSB first
(the sponges' block sizes are not powers of two): restoring division of a 32-bit dividend by
an 8-bit divisor, 32 steps, no divider."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["SerialRemainder"]


class SerialRemainder(wiring.Component):
    """``load`` takes ``dividend``; each cycle with ``step`` then moves one bit in, modulo
    ``divisor`` (stable meanwhile). ``done`` once the 32 bits are in: ``zero`` says whether the
    remainder is 0."""

    load: In(1)
    dividend: In(32)
    divisor: In(8)
    step: In(1)
    done: Out(1)
    zero: Out(1)

    def elaborate(self, platform):
        m = Module()
        rem = Signal(9)
        rem_bits = Signal(32)
        rem_cnt = Signal(6)
        with m.If(self.load):
            m.d.sync += [rem.eq(0), rem_bits.eq(self.dividend), rem_cnt.eq(0)]
        with m.Elif(self.step):
            shifted = Cat(rem_bits[31], rem[:8])
            m.d.sync += [
                rem.eq(Mux(shifted >= self.divisor, shifted - self.divisor, shifted)),
                rem_bits.eq(rem_bits << 1),
                rem_cnt.eq(rem_cnt + 1),
            ]
        m.d.comb += [self.done.eq(rem_cnt == 32), self.zero.eq(rem == 0)]
        return m
