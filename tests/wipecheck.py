"""State of an elaborated design, taken from its netlist: every flip-flop and every memory.

``state_elements(fragment)`` walks an elaborated :class:`Fragment` (the one given to the
simulator, so the signals are the simulated ones) and returns every signal some statement
drives in a clocked domain, every synchronous memory read port's data register (its reset
value is 0) and every memory (``MemoryInstance``'s data), with its hierarchical path. Nothing is listed by hand: a register or memory added to a block is checked by the wipe
tests without anyone remembering to add it.
"""

from amaranth.hdl import Fragment
from amaranth.hdl._mem import MemoryInstance


__all__ = ["state_elements", "dirty_state"]


def state_elements(fragment):
    """(flops, memories): lists of (signal, path) and (MemoryData, path)."""
    flops, memories, zeros, seen = [], [], [], set()

    def walk(frag, path):
        if isinstance(frag, MemoryInstance):
            memories.append((frag._data, path))
            # A synchronous read port's data output is a register too (it keeps the last
            # word read): it must be zero after a wipe.
            for port in frag._read_ports:
                if port._domain != "comb" and id(port._data) not in seen:
                    seen.add(id(port._data))
                    zeros.append((port._data, f"{path}.{port._data.name}"))
            return
        for domain, stmts in frag.statements.items():
            if domain == "comb":
                continue
            for stmt in stmts:
                for sig in stmt._lhs_signals():
                    if id(sig) not in seen:
                        seen.add(id(sig))
                        flops.append((sig, f"{path}.{sig.name}"))
        for sub, name, *_ in frag.subfragments:
            walk(sub, f"{path}/{name}")

    walk(fragment, "top")
    return flops + zeros, memories


def dirty_state(ctx, flops, memories, *, exclude=()):
    """The flip-flops not at their reset value and the memory words not zero, as readable
    strings (empty: everything is clean). ``exclude``: signals kept on purpose."""
    skip = {id(s) for s in exclude}
    bad = []
    for sig, path in flops:
        if id(sig) in skip:
            continue
        v = ctx.get(sig)
        init = sig.init
        if v != init:
            bad.append(f"{path} = {v:#x} (reset value {init:#x})")
    for mem, path in memories:
        for i in range(mem.depth):
            v = ctx.get(mem[i])
            if v != 0:
                bad.append(f"{path}[{i}] = {v:#x}")
    return bad
