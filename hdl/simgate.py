"""Simulation-only clock gating of an idle coprocessor engine (``gluon sim``'s Verilator model).

Verilator evaluates the next-state logic of every register on every edge of its clock, busy
or not: an idle matrix or Montgomery engine costs a ``gluon sim`` run as much as a busy one.
A coprocessor whose engine sits in a synchronous reset while no operation runs (an
``engine_rst`` register wrapping it in a :class:`~amaranth.hdl.ResetInserter`) can instead
give the engine its own clock domain in the simulation model, whose clock stops once the
reset has taken effect:

* the engine's registers then hold their reset values, which is exactly what the reset would
  keep loading into them, so nothing observable changes (block RAM contents are untouched
  as long as the engine writes no memory while in reset);
* Verilator puts the logic that depends only on that domain behind the domain's trigger and
  skips it on the cycles where the clock is stopped.

The synthesised design never uses this (``sim_gating`` is off unless ``sim/simtop.py`` turns
it on): a gated clock has no place in FPGA logic. The gate is the plain ``clk & en_l`` of a
latch-free simulator model: ``en_l`` is registered on the falling edge, so it is stable
around the rising edge it gates.
"""

from amaranth import *


__all__ = ["GatedDomain", "sim_gated_clock", "sim_gated_domain", "sim_gated_block"]


class GatedDomain:
    """What :func:`sim_gated_domain` returns: ``name`` (the domain), ``d`` (``m.d[name]``),
    ``rst`` (the engine reset to use in that domain, equal to the caller's ``engine_rst``
    register at all times) and ``en`` (the gate enable, 1: the next rising edge clocks)."""

    def __init__(self, name, d, rst, en):
        self.name, self.d, self.rst, self.en = name, d, rst, en


def sim_gated_clock(m, name, en):
    """Add clock domain ``name`` (without a reset) to module ``m``: ``sync``'s clock with the
    rising edges where ``en`` (a ``sync``-side signal) was 0 left out. ``en`` is sampled on the
    falling edge before the rising edge it gates. Returns the domain's name.

    The caller guarantees that an edge left out would not have changed any register of the
    domain (see the module documentation). The domain has no reset: its registers start at
    their initial values, which are their reset values; a reset driven from ``sync`` would
    make every next-state expression of the domain depend on a ``sync`` register, and
    Verilator would evaluate them on every ``sync`` edge again."""
    neg = f"{name}_neg"
    m.domains += ClockDomain(name, reset_less=True, local=True)
    m.domains += ClockDomain(neg, clk_edge="neg", reset_less=True, local=True)
    en_l = Signal(init=1, name=f"{name}_en_l")
    m.d[neg] += en_l.eq(en)
    m.d.comb += [
        ClockSignal(neg).eq(ClockSignal("sync")),
        ClockSignal(name).eq(ClockSignal("sync") & en_l),
    ]
    return name


def sim_gated_domain(m, name, rst_next, wake):
    """Add clock domain ``name`` to module ``m``: ``sync``'s clock, stopped while the engine is
    held in reset.

    ``rst_next``: the next value of the caller's engine reset register (a ``sync`` register
    initialised to 1 that holds the engine in reset while no operation runs). ``wake``: 1 in
    the cycles where a register the caller moved into this domain (such as the latched
    parameters of an operation) must be loaded although the engine stays in reset.

    The domain's copy of the reset register loads ``rst_next`` on every edge the clock is
    not stopped at; the clock is stopped only on an edge where the copy is 1, was 1 at the
    previous clocked edge (so that edge already reset every engine register) and stays 1
    (``rst_next``): the copy then keeps its value, as the ``sync`` register does, and reset
    would keep every engine register where it is.

    The domain has no reset signal of its own: the copy starts at 1 and holds the engine in
    reset until the first operation, which is what ``sync``'s power-on reset would do. (A
    reset driven from another domain would make every next-state expression of the engine
    depend on a ``sync`` register, and Verilator would evaluate them on every ``sync`` edge.)
    """
    rst = Signal(init=1, name=f"{name}_rst")
    rst_seen = Signal(name=f"{name}_rst_seen")
    m.d[name] += [rst.eq(rst_next), rst_seen.eq(rst)]
    en = Signal(name=f"{name}_en")
    m.d.comb += en.eq(~(rst & rst_seen & rst_next) | wake)
    sim_gated_clock(m, name, en)
    return GatedDomain(name, m.d[name], rst, en)


class _Body(Elaboratable):
    def __init__(self, elaborate):
        self._elaborate_body = elaborate

    def elaborate(self, platform):
        return self._elaborate_body(platform)


def sim_gated_block(m, name, active, settle_cycles, elaborate, *, submodule="body"):
    """Add the module that ``elaborate(platform)`` returns to ``m`` as ``submodule``, its
    ``sync`` domain renamed to a clock (:func:`sim_gated_clock` ``name``) that runs while
    ``active`` (a signal) is 1 and for ``settle_cycles`` cycles after, and stops otherwise.

    For a whole coprocessor: ``active`` covers a bus request to its slot and its ``busy``, and
    the block must guarantee that, ``settle_cycles`` cycles after both ended, none of its
    registers changes any more until the next one."""
    settle = Signal(range(settle_cycles + 1), name=f"{name}_settle")
    with m.If(active):
        m.d.sync += settle.eq(settle_cycles)
    with m.Elif(settle != 0):
        m.d.sync += settle.eq(settle - 1)
    domain = sim_gated_clock(m, name, active | (settle != 0))
    m.submodules[submodule] = DomainRenamer(domain)(_Body(elaborate))
    return domain
