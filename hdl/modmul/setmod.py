"""SETMOD's derivation of the Montgomery constants, as microcode for the Montgomery unit:
N' = -N^-1 mod R by Newton's iteration on the unit's low-half products (x0 = N is N^-1 mod 8
for every odd N; each step doubles the correct bits), and R² mod N as 33·L modular doublings
of 1 followed by R2_SQUARINGS Montgomery squarings (2^(33L) → 2^(64L))."""

from amaranth import *
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from .montgomery import MontMode
from .value_store import SLOT_BITS
from .registers import R2_SQUARINGS


__all__ = ["UnitRequest", "SetModSequencer"]


class UnitRequest(data.Struct):
    """One operation for the Montgomery unit: ``start`` it with ``mode`` on values ``a``,
    ``b`` into ``d`` (``za``/``zb``: read zero instead, ``imm`` the immediate, ``np``: the
    result is N')."""
    start: 1
    mode: MontMode
    d: SLOT_BITS
    a: SLOT_BITS
    b: SLOT_BITS
    za: 1
    zb: 1
    imm: 8
    np: 1


class SetModSequencer(wiring.Component):
    """Runs the SETMOD microcode on the unit from a ``start`` pulse: one request on ``u`` per
    step, the next step after the unit's ``unit_done``; ``done`` pulses with the last step's
    ``unit_done``. ``limbs`` (L) is stable while it runs; ``stop`` abandons it.

    ``slots``: the internal value slots by name (N, X, Y, TWO, ONE, R2), ``newton_steps``:
    Newton iterations for the largest L, ``max_limbs``: the largest L.
    """

    def __init__(self, *, slots, newton_steps, max_limbs):
        self._S, self._newton_steps, self._max_limbs = slots, newton_steps, max_limbs
        super().__init__({
            "start": In(1),
            "stop": In(1),
            "limbs": In(range(max_limbs + 1)),
            "unit_done": In(1),
            "u": Out(UnitRequest),
            "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        S, u, active_l = self._S, self.u, self.limbs
        # (mode, d, a, b, zero_a, zero_b, imm, to_np, repeat); repeat: an int, "newton" (loop
        # back over the three Newton steps) or "dbl" (33·L).
        UCODE = [
            (MontMode.ADDR, S["TWO"], 0, 0, 1, 1, 2, 0, 1),
            (MontMode.ADDR, S["X"], S["N"], 0, 0, 1, 0, 0, 1),
            (MontMode.LOW,  S["Y"], S["N"], S["X"], 0, 0, 0, 0, 1),         # y = N·x
            (MontMode.SUBR, S["Y"], S["TWO"], S["Y"], 0, 0, 0, 0, 1),       # y = 2 - y
            (MontMode.LOW,  S["X"], S["X"], S["Y"], 0, 0, 0, 0, "newton"),  # x = x·y
            (MontMode.SUBR, S["Y"], 0, S["X"], 1, 0, 0, 1, 1),              # N' = -x
            (MontMode.ADDR, S["R2"], 0, 0, 1, 1, 1, 0, 1),
            (MontMode.ADD,  S["R2"], S["R2"], S["R2"], 0, 0, 0, 0, "dbl"),
            (MontMode.MONT, S["R2"], S["R2"], S["R2"], 0, 0, 0, 0, R2_SQUARINGS),
            (MontMode.ADDR, S["ONE"], 0, 0, 1, 1, 1, 0, 1),
        ]
        upc = Signal(range(len(UCODE)))
        urep = Signal(range(33 * self._max_limbs + 1))
        uiter = Signal(range(self._newton_steps + 1))

        with m.FSM(name="ucode"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [upc.eq(0), urep.eq(0), uiter.eq(0)]
                    m.next = "ISSUE"
            with m.State("ISSUE"):
                with m.Switch(upc):
                    for i, (mode, d, a, b, za, zb, imm, to_np, _rep) in enumerate(UCODE):
                        with m.Case(i):
                            m.d.comb += [u.start.eq(1), u.mode.eq(mode), u.d.eq(d), u.a.eq(a),
                                         u.b.eq(b), u.za.eq(za), u.zb.eq(zb), u.imm.eq(imm),
                                         u.np.eq(to_np)]
                m.next = "RUN"
                with m.If(self.stop):
                    m.next = "IDLE"
            with m.State("RUN"):
                with m.If(self.unit_done):
                    m.next = "ISSUE"
                    with m.Switch(upc):
                        for i, (*_, rep) in enumerate(UCODE):
                            with m.Case(i):
                                if rep == "newton":
                                    with m.If(uiter == self._newton_steps - 1):
                                        m.d.sync += [upc.eq(i + 1), uiter.eq(0)]
                                    with m.Else():
                                        m.d.sync += [upc.eq(2), uiter.eq(uiter + 1)]
                                else:
                                    count = (active_l << 5) + active_l if rep == "dbl" else rep
                                    with m.If(urep == count - 1):
                                        m.d.sync += urep.eq(0)
                                        if i + 1 < len(UCODE):
                                            m.d.sync += upc.eq(i + 1)
                                        else:
                                            m.d.comb += self.done.eq(1)
                                    with m.Else():
                                        m.d.sync += urep.eq(urep + 1)
                    with m.If(self.done):
                        m.next = "IDLE"
                with m.If(self.stop):
                    m.next = "IDLE"
        return m
