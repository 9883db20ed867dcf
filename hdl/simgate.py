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

A stopped clock saves only the logic that depends on that clock alone: next-state logic that
also reads a ``sync`` signal (a reset from the control component, a bus or DMA handshake) is
evaluated on every ``sync`` edge. :func:`sim_gated_block` therefore has the block's next-state
logic read copies of such signals, taken on the falling edge before each rising edge the
block's clock has (:class:`_SampledInputs`).
"""

from amaranth import *
# Not part of Amaranth's public API (0.5: amaranth.hdl._ast, _xfrm): the fragment transformer
# below uses them; only the simulation model goes through it, the synthesised design never.
from amaranth.hdl._ast import SignalDict, SignalSet
from amaranth.hdl._xfrm import FragmentTransformer, ValueTransformer, StatementTransformer


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
    # 0 until the first falling edge: a rising edge before it (a simulator whose clock starts
    # low) is left out, which changes nothing (``sync`` is then in its power-on reset, which
    # would hold every register at its initial value).
    en_l = Signal(init=0, name=f"{name}_en_l")
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
    en = Signal(name=f"{name}_en")
    m.d.comb += en.eq(active | (settle != 0))
    domain = sim_gated_clock(m, name, en)
    m.submodules[submodule] = _SampledInputs(domain, en)(DomainRenamer(domain)(_Body(elaborate)))
    return domain


class _SampledInputs(FragmentTransformer, ValueTransformer, StatementTransformer):
    """The next-state logic of gated domain ``domain`` (its statements) reads, instead of each
    signal it does not drive itself, a copy of it taken on the falling edge of ``sync``'s clock
    before each rising edge the domain's clock has (``en`` 1).

    Why: Verilator evaluates an expression whenever a clock that drives one of its inputs has
    an edge. A register of the domain whose next value reads a ``sync`` signal (a reset such as
    the control component's ``wipe``, a bus or DMA handshake) had its next-state logic
    evaluated on every ``sync`` edge, stopped clock or not: the SHA-256 and Keccak rounds, the
    Montgomery unit, the program sequencer. Reading the copies, that logic depends only on
    the domain's clock and the copies' clock, which both stop with it.

    Exact because the copy equals the signal at every rising edge that clocks the domain: every
    signal the statements read changes only on a rising edge (registers) or follows registers
    combinationally (copies are read by next-state logic only, never by ``comb`` statements,
    and the gate enables are read by clocks only), so its value in the low half of a cycle is
    the value at the next rising edge; the copy is taken in that half whenever ``en`` is 1,
    which is exactly when the next rising edge is let through (``en_l``). ``comb`` statements
    and memory ports keep the signals themselves: outputs of the block stay exact in both
    halves of the cycle."""

    def __init__(self, domain, en):
        self.domain = domain
        self.en = en
        self.copies = None             # SignalDict: signal -> copy, filled by the top fragment
        self.sampled = None            # the signals to copy

    def _collect(self, fragment):
        """The signals to copy: those that follow ``sync``, i.e. every signal read in the block
        that the block neither drives from its domain nor computes (``comb``) from the
        domain's registers alone. A signal computed from those alone changes with the domain's
        clock only, and is read as it is."""
        driven = SignalSet()            # by the domain (registers, synchronous read ports)
        deps = SignalDict()             # comb signal -> the signals it is computed from
        read = SignalSet()              # everything read in the block
        todo = [fragment]
        while todo:
            f = todo.pop()
            todo.extend(sub for sub, *_ in f.subfragments)
            for domain, stmts in f.statements.items():
                for stmt in stmts:
                    rhs = stmt._rhs_signals()
                    read |= rhs
                    for signal in stmt._lhs_signals():
                        if domain == self.domain:
                            driven.add(signal)
                        elif domain == "comb":
                            deps.setdefault(signal, SignalSet())
                            deps[signal] |= rhs
            write_domains = {port._domain for port in getattr(f, "_write_ports", ())}
            for port in getattr(f, "_read_ports", ()):
                data = port._data._rhs_signals()
                read |= port._addr._rhs_signals() | port._en._rhs_signals()
                if port._domain == self.domain:
                    driven |= data
                elif write_domains - {self.domain}:
                    read |= data            # written from outside the domain: follows sync
                else:                       # asynchronous: follows the address
                    for signal in data:
                        deps.setdefault(signal, SignalSet())
                        deps[signal] |= port._addr._rhs_signals()
        users = SignalDict()
        for signal, rhs in deps.items():
            for dep in rhs:
                users.setdefault(dep, []).append(signal)
        sampled = SignalSet(signal for signal in read
                            if signal not in driven and signal not in deps)
        todo = list(sampled)
        while todo:
            for user in users.get(todo.pop(), ()):
                if user not in sampled:
                    sampled.add(user)
                    todo.append(user)
        self.sampled = sampled

    def on_Signal(self, value):
        if value not in self.sampled:
            return value
        copy = self.copies.get(value)
        if copy is None:
            copy = self.copies[value] = Signal(value.shape(), init=value.init,
                                               name=f"{self.domain}_in_{value.name}")
        return copy

    def map_statements(self, fragment, new_fragment):
        for domain, statements in fragment.statements.items():
            if domain == self.domain:
                statements = map(self.on_statement, statements)
            new_fragment.add_statements(domain, statements)

    def map_ports(self, fragment, new_fragment):
        new_fragment.ports = type(fragment.ports)(fragment.ports.items())

    def map_memory_ports(self, fragment, new_fragment):
        pass

    def on_fragment(self, fragment):
        top = self.copies is None
        if top:
            self.copies = SignalDict()
            self._collect(fragment)
        new_fragment = super().on_fragment(fragment)
        if top and self.copies:
            originals = list(self.copies.keys())
            copies = [self.copies[s] for s in originals]
            smp = f"{self.domain}_in"
            new_fragment.add_domains(ClockDomain(smp, clk_edge="neg", reset_less=True, local=True))
            # falls with sync's clock when the next rising edge is let through; stays high
            # otherwise (``en`` changes only while sync's clock is high)
            new_fragment.add_statements("comb", ClockSignal(smp).eq(ClockSignal("sync") | ~self.en))
            new_fragment.add_statements(smp, [c.eq(s) for s, c in zip(originals, copies)])
        return new_fragment
