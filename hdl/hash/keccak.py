"""Keccak-f[1600] permutation engine: one round per cycle, 24 cycles per permutation.

Specification: NIST FIPS 202, "SHA-3 Standard: Permutation-Based Hash and Extendable-Output
Functions" (August 2015), section 3.2 (step mappings θ, ρ, π, χ, ι), 3.3 (Keccak-p),
3.4 (Keccak-f[1600] = Keccak-p[1600, 24]).

Lane (x, y) of the state is element ``x + 5*y`` of ``state``; bit z of a lane is its bit z,
so the byte string of FIPS 202, 3.1.3 maps to the lanes little-endian: message bytes
8*i..8*i+7 are lane i. The sponge (rate, padding, squeezing) belongs to the caller
(:mod:`gluon.hdl.hash`).

Absorbing is folded into the first round: ``start`` computes round 0 on ``state ^ absorb``,
so XOR-ing a block in costs no extra cycle. A permutation started in cycle S updates the
state at the end of cycles S..S+23; ``busy`` is high in cycles S+1..S+23 and low from S+24.
Timing never depends on the data.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["KeccakF1600", "ROUND_CONSTANTS", "RHO_OFFSETS", "ABSORB_WORDS"]


ABSORB_WORDS = 42     # the largest rate of the modes used here: SHAKE128, 168 bytes


def _round_constants():
    # FIPS 202, Algorithm 5 (rc) and Algorithm 6 (ι): RC[i] bit 2**j - 1 = rc(j + 7*i).
    def rc(t):
        if t % 255 == 0:
            return 1
        r = 0x01
        for _ in range(t % 255):
            r <<= 1
            if r & 0x100:
                r ^= 0x171          # R = R xor (x^8 + x^6 + x^5 + x^4 + 1), truncated to 8 bits
        return r & 1
    consts = []
    for i in range(24):
        v = 0
        for j in range(7):
            v |= rc(j + 7 * i) << ((1 << j) - 1)
        consts.append(v)
    return consts


def _rho_offsets():
    # FIPS 202, Algorithm 2 (ρ): offsets indexed [x + 5*y].
    off = [0] * 25
    x, y = 1, 0
    for t in range(24):
        off[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return off


ROUND_CONSTANTS = _round_constants()
RHO_OFFSETS = _rho_offsets()


def keccak_round(a, rc):
    """One round Rnd(A, i) on a list of 25 lane values; ``rc`` is the round constant value."""
    # θ
    col = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
    dx = [col[(x - 1) % 5] ^ col[(x + 1) % 5].rotate_left(1) for x in range(5)]
    a = [a[i] ^ dx[i % 5] for i in range(25)]
    # ρ and π: B[y, 2x + 3y] = rot(A[x, y], r[x, y])
    b = [None] * 25
    for x in range(5):
        for y in range(5):
            b[y + 5 * ((2 * x + 3 * y) % 5)] = a[x + 5 * y].rotate_left(RHO_OFFSETS[x + 5 * y])
    # χ
    out = []
    for y in range(5):
        for x in range(5):
            out.append(b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]))
    # ι
    out[0] = out[0] ^ rc
    return out


class KeccakF1600(wiring.Component):
    """Keccak-f[1600] with the block XOR folded into the first round.

    Ports:

    ``absorb`` In(42 × 32)  words XOR-ed into the state by ``start`` (word 2*i is the low half
                            of lane i); words past the rate must be zero. Sampled at ``start``.
    ``start``  In(1)        permute ``state ^ absorb``; ignored while ``busy``
    ``clear``  In(1)        zero the state; ignored while ``busy`` or with ``start``
    ``busy``   Out(1)       rounds 1..23 of a permutation are in progress
    ``state``  Out(25 × 64) the state lanes, lane (x, y) at ``x + 5*y``
    """

    # Arrays of separate ports rather than one 1344-bit / 1600-bit signal: Verilator then keeps
    # the words and lanes as machine words instead of assembling wide values every cycle.
    absorb: In(32).array(ABSORB_WORDS)
    start: In(1)
    clear: In(1)
    busy: Out(1)
    state: Out(64).array(25)

    def elaborate(self, platform):
        m = Module()

        lanes = [Signal(64, name=f"lane{i}") for i in range(25)]
        rnd = Signal(5)                     # index of the round computed this cycle
        running = Signal()

        for i in range(25):
            m.d.comb += self.state[i].eq(lanes[i])
        m.d.comb += self.busy.eq(running)

        go = self.start & ~running
        # The block is XOR-ed in whenever the engine is idle (the result is only loaded on
        # ``start``), so the round logic is gated by a register, not by ``start``: whatever
        # logic decides ``start`` only reaches the flip-flop enables.
        inp = []
        for i in range(25):
            if 2 * i + 1 < ABSORB_WORDS:
                xin = Cat(self.absorb[2 * i], self.absorb[2 * i + 1])
                inp.append(lanes[i] ^ Mux(running, 0, xin))
            else:
                inp.append(lanes[i])

        rc_rom = Array(Const(rc, 64) for rc in ROUND_CONSTANTS)
        rc = Signal(64)
        m.d.comb += rc.eq(rc_rom[rnd])      # rnd is 0 while idle: round 0 for ``start``
        out = keccak_round(inp, rc)

        with m.If(running | go):
            m.d.sync += [lanes[i].eq(out[i]) for i in range(25)]
            m.d.sync += rnd.eq(rnd + 1)
            with m.If(go):
                m.d.sync += [rnd.eq(1), running.eq(1)]
            with m.Elif(rnd == 23):
                m.d.sync += [rnd.eq(0), running.eq(0)]
        with m.Elif(self.clear):
            m.d.sync += [lanes[i].eq(0) for i in range(25)]
        return m
