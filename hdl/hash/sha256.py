"""SHA-256 compression engine: one round per cycle.

Specification: NIST FIPS 180-4, "Secure Hash Standard" (August 2015), section 6.2
(SHA-256 hash computation), section 4.1.2 (functions), 4.2.2 (constants K), 5.3.3
(initial hash value).

The engine compresses one 512-bit block into its 256-bit chaining value ``digest``.
Padding, byte order and block sequencing belong to the caller (:mod:`gluon.hdl.hash`).

Timing (independent of the data): ``start`` in cycle S loads the block; the 64 rounds run
in cycles S+1..S+64 and the chaining value is updated at the end of cycle S+65, so a block
takes 65 cycles and ``busy`` is low again from S+66.

Why it is shaped like this:

* The message schedule is computed on the fly in a 16-word window (FIPS 180-4, 6.2.2
  step 1 needs only W[t-16..t-1]); no 64-word memory.
* ``h + K[t] + W[t]`` does not depend on the round's own outputs, so it is computed one
  round ahead (``pre``), from ``g``, which becomes ``h`` in the next round.
* The remaining sums are reduced with carry-save adders so each new ``a`` and ``e`` costs
  a few LUT levels plus a single carry chain: the round fits an ECP5 at well over 60 MHz.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["SHA256Engine", "K", "IV"]


# FIPS 180-4, 4.2.2: first 32 bits of the fractional parts of the cube roots of the first
# 64 primes.
K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]

# FIPS 180-4, 5.3.3: initial hash value H(0).
IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]


def _rotr(x, n):
    return x.rotate_right(n)


def _csa(x, y, z):
    """3:2 carry-save compression: returns (sum, carry) with x + y + z == sum + carry (mod 2**32)."""
    s = x ^ y ^ z
    c = ((x & y) | (x & z) | (y & z)) << 1
    return s, c[:32]


class SHA256Engine(wiring.Component):
    """One SHA-256 compression per ``start``.

    Ports:

    ``block``  In(16 × 32)  the message block, W[0] in element 0 (big-endian words, as in
                            FIPS 180-4); sampled only in the ``start`` cycle
    ``start``  In(1)        compress ``block`` into ``digest``; ignored while ``busy``
    ``init``   In(1)        set ``digest`` to the initial hash value H(0); ignored while ``busy``
    ``busy``   Out(1)       a compression is in progress
    ``digest`` Out(8 × 32)  the chaining value H0..H7 (the hash once the last block is done)
    """

    # Word arrays are arrays of separate 32-bit ports, not one wide signal: Verilator then
    # keeps them as plain machine words instead of assembling a 512-bit value every cycle.
    block: In(32).array(16)
    start: In(1)
    init: In(1)
    busy: Out(1)
    digest: Out(32).array(8)

    def elaborate(self, platform):
        m = Module()

        H = [Signal(32, name=f"H{i}", init=IV[i]) for i in range(8)]
        a, b, c, d, e, f, g, h = v = [Signal(32, name=n) for n in "abcdefgh"]
        w = [Signal(32, name=f"w{i}") for i in range(16)]
        pre = Signal(32)                # h + K[t] + W[t] for the current round t
        t = Signal(6)                   # round index
        running = Signal()              # rounds in progress
        final = Signal()                # the cycle that adds the working variables into H

        for i in range(8):
            m.d.comb += self.digest[i].eq(H[i])
        m.d.comb += self.busy.eq(running | final)

        k_rom = Array(Const(k, 32) for k in K)
        k_next = Signal(32)
        m.d.comb += k_next.eq(k_rom[(t + 1)[:6]])

        # FIPS 180-4, 4.1.2 (4.4)-(4.7)
        big_s0 = _rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)
        big_s1 = _rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)
        ch = (e & f) ^ (~e & g)
        maj = (a & b) ^ (a & c) ^ (b & c)

        def small_s0(x):
            return _rotr(x, 7) ^ _rotr(x, 18) ^ (x >> 3)

        def small_s1(x):
            return _rotr(x, 17) ^ _rotr(x, 19) ^ (x >> 10)

        # T1 = pre + Σ1 + Ch; new e = d + T1; new a = T1 + Σ0 + Maj. Carry-save until one
        # final carry-propagate adder per result.
        s1, c1 = _csa(pre, big_s1, ch)
        se, ce = _csa(s1, c1, d)
        s2, c2 = _csa(s1, c1, big_s0)
        sa, ca = _csa(s2, c2, maj)
        new_e = (se + ce)[:32]
        new_a = (sa + ca)[:32]

        # Next schedule word W[t+16] = σ1(W[t+14]) + W[t+9] + σ0(W[t+1]) + W[t].
        s3, c3 = _csa(small_s1(w[14]), w[9], small_s0(w[1]))
        s4, c4 = _csa(s3, c3, w[0])
        w_new = (s4 + c4)[:32]

        # pre for round t+1: the new h is the current g, W[t+1] is w[1].
        s5, c5 = _csa(g, k_next, w[1])
        pre_next = (s5 + c5)[:32]

        with m.If(running):
            m.d.sync += [
                a.eq(new_a), b.eq(a), c.eq(b), d.eq(c),
                e.eq(new_e), f.eq(e), g.eq(f), h.eq(g),
                pre.eq(pre_next),
                t.eq(t + 1),
            ]
            m.d.sync += [w[i].eq(w[i + 1]) for i in range(15)]
            m.d.sync += w[15].eq(w_new)
            with m.If(t == 63):
                m.d.sync += [running.eq(0), final.eq(1)]
        with m.Elif(final):
            m.d.sync += final.eq(0)
            m.d.sync += [H[i].eq(H[i] + v[i]) for i in range(8)]
        with m.Elif(self.start):
            m.d.sync += [v[i].eq(H[i]) for i in range(8)]
            m.d.sync += [w[i].eq(self.block[i]) for i in range(16)]
            m.d.sync += [pre.eq(H[7] + K[0] + self.block[0]), t.eq(0), running.eq(1)]
        with m.Elif(self.init):
            m.d.sync += [H[i].eq(IV[i]) for i in range(8)]
        return m
