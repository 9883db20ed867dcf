"""Registers declared once: the single source of truth for every memory-mapped register.

A block declares its registers as a :class:`RegisterMap` (a list of :class:`Register`, each
with :class:`Field` s). From that one declaration come:

* the hardware: :class:`RegisterBank`, a Wishbone target that decodes the offsets;
* the C header ``firmware/include/gluon/regs.h`` and the register reference in
  ``docs/registers.md`` (see :mod:`gluon.hdl.regsgen`).

Access kinds of a register (``Register.access``):

``"rw"``  storage lives in the bank; firmware reads back what it wrote. The block reads
          ``<reg>.data``; ``<reg>.w_stb`` pulses on each write.
``"r"``   read-only; the block drives ``<reg>.r_data``. Writes are refused with a bus error.
``"w"``   write-only action; ``<reg>.w_stb`` pulses with ``<reg>.w_data``. Reads return 0.
``"ext"`` read and write handled by the block: it drives ``<reg>.r_data`` and acts on
          ``<reg>.w_stb``/``<reg>.w_data`` (e.g. a lockable or a write-1-to-clear register).

Every register gets ``<reg>.r_stb``, a pulse when firmware reads it (e.g. to pop a FIFO).
An offset no register occupies answers with a bus error. Byte enables apply to ``"rw"``
storage; ``w_data`` of ``"w"``/``"ext"`` registers carries the bus data as written.
"""

from amaranth import *
from amaranth.lib import wiring, data, enum as _enum
from amaranth.lib.wiring import In, Out

from .bus import WishboneSignature


__all__ = ["Field", "Register", "RegisterMap", "RegisterBank"]


ACCESS = ("rw", "r", "w", "ext")


class Field:
    """``width`` bits named ``name``; fields are packed from bit 0 upward in declaration order
    unless ``offset`` is given. ``init`` is the reset value of ``"rw"`` storage.

    ``enum``: the meaning of the field's values, either an ``amaranth.lib.enum.Enum`` class
    (its members become C constants ``GLUON_<MAP>_<REG>_<FIELD>_<MEMBER>`` and rows of the
    register reference; ``enum_doc`` optionally maps members to a sentence) or, for the
    docs only, a {value: meaning} dict."""

    def __init__(self, name, width=1, *, desc="", init=0, offset=None, enum=None, enum_doc=None):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"Field name must be an identifier, not {name!r}")
        if not isinstance(width, int) or not 1 <= width <= 32:
            raise ValueError(f"Field {name!r}: width must be 1..32, not {width!r}")
        self.name, self.width, self.desc, self.init = name, width, desc, init
        self.offset = offset
        self.enum_class = None
        if isinstance(enum, type) and issubclass(enum, _enum.Enum):
            if Shape.cast(enum).width > width:
                raise ValueError(f"Field {name!r}: enum {enum.__name__} is wider than {width} bits")
            self.enum_class = enum
            doc = enum_doc or {}
            enum = {m.value: f"{m.name}" + (f": {doc[m]}" if m in doc else "") for m in enum}
        self.enum = enum                  # optional {value: meaning} for the docs

    def __repr__(self):
        return f"Field({self.name!r}, {self.width})"


class Register:
    """A 32-bit register at byte ``offset`` (word aligned) of its block."""

    def __init__(self, name, offset, access, fields=None, *, desc=""):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"Register name must be an identifier, not {name!r}")
        if access not in ACCESS:
            raise ValueError(f"Register {name!r}: access must be one of {ACCESS}, not {access!r}")
        if not isinstance(offset, int) or offset < 0 or offset % 4:
            raise ValueError(f"Register {name!r}: offset {offset!r} is not a word-aligned byte offset")
        self.name, self.offset, self.access, self.desc = name, offset, access, desc
        if fields is None:
            fields = [Field("VALUE", 32)]
        pos = 0
        self.fields = []
        names = set()
        for f in fields:
            if f.name in names:
                raise ValueError(f"Register {name!r}: field {f.name!r} declared twice")
            names.add(f.name)
            if f.offset is None:
                f.offset = pos
            if f.offset < pos:
                raise ValueError(f"Register {name!r}: field {f.name!r} overlaps the previous one")
            pos = f.offset + f.width
            if pos > 32:
                raise ValueError(f"Register {name!r}: fields exceed 32 bits")
            self.fields.append(f)

    @property
    def layout(self):
        """A :class:`data.StructLayout` of the fields (with padding), 32 bits wide."""
        members, pos = {}, 0
        for f in self.fields:
            if f.offset > pos:
                members[f"_pad{pos}"] = f.offset - pos
            members[f.name.lower()] = f.width
            pos = f.offset + f.width
        if pos < 32:
            members[f"_pad{pos}"] = 32 - pos
        return data.StructLayout(members)

    @property
    def init(self):
        """Reset value as an integer."""
        v = 0
        for f in self.fields:
            v |= (f.init & ((1 << f.width) - 1)) << f.offset
        return v

    @property
    def init_fields(self):
        """Reset value as a field mapping (for a :class:`data.StructLayout` initializer)."""
        return {f.name.lower(): f.init for f in self.fields}

    def __repr__(self):
        return f"Register({self.name!r}, {self.offset:#x}, {self.access!r})"


class RegisterMap:
    """The registers of one block, with a short name (used as the C prefix) and a description."""

    def __init__(self, name, registers, *, desc=""):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"Register map name must be an identifier, not {name!r}")
        self.name, self.desc = name, desc
        self.registers = []
        seen_off, seen_name = {}, set()
        for r in registers:
            if r.offset in seen_off:
                raise ValueError(f"{name}: registers {seen_off[r.offset]!r} and {r.name!r} share "
                                 f"offset {r.offset:#x}")
            if r.name in seen_name:
                raise ValueError(f"{name}: register {r.name!r} declared twice")
            seen_off[r.offset] = r.name
            seen_name.add(r.name)
            self.registers.append(r)

    @property
    def size(self):
        """Bytes spanned by the registers, rounded up to a power of two."""
        end = max(r.offset for r in self.registers) + 4
        return 1 << (end - 1).bit_length()

    def __getitem__(self, name):
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(name)

    def __iter__(self):
        return iter(self.registers)


class RegisterSignature(wiring.Signature):
    """The block's view of one register, from the bank's side (the bank drives ``Out``).

    ``data`` Out(layout)  storage (``"rw"``)
    ``r_data`` In(layout) value the block provides (``"r"``, ``"ext"``)
    ``w_data`` Out(layout) the written word (``"w"``, ``"ext"``, ``"rw"``)
    ``w_stb`` Out(1)      a write happened this cycle
    ``r_stb`` Out(1)      a read happened this cycle
    """

    def __init__(self, reg):
        members = {"w_stb": Out(1), "r_stb": Out(1), "w_data": Out(reg.layout)}
        if reg.access == "rw":
            members["data"] = Out(reg.layout, init=reg.init_fields)
        if reg.access in ("r", "ext"):
            members["r_data"] = In(reg.layout)
        super().__init__(members)


class RegisterBank(wiring.Component):
    """A Wishbone target holding a :class:`RegisterMap`.

    Ports: ``bus`` (target side), ``clear`` (returns every ``"rw"`` register's storage to its
    reset value at the next edge: a coprocessor's wipe; the bus keeps answering) and one
    member per register named after it in lower case,
    with the :class:`RegisterSignature` members. Answers every request one cycle later, never
    stalls; unknown offsets and writes to ``"r"`` registers answer with ``err``.
    """

    def __init__(self, regmap, *, addr_width=None):
        if not isinstance(regmap, RegisterMap):
            raise TypeError(f"RegisterBank needs a RegisterMap, not {regmap!r}")
        self.regmap = regmap
        if addr_width is None:
            addr_width = max(0, (regmap.size // 4 - 1).bit_length())
        members = {"bus": In(WishboneSignature(addr_width=addr_width)), "clear": In(1)}
        for r in regmap:
            members[r.name.lower()] = Out(RegisterSignature(r))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        req = bus.cyc & bus.stb
        ack = Signal()
        err = Signal()
        dat = Signal(32)
        m.d.sync += [ack.eq(0), err.eq(0), dat.eq(0)]
        m.d.comb += [bus.ack.eq(ack), bus.err.eq(err), bus.dat_r.eq(dat)]

        for r in self.regmap:
            port = getattr(self, r.name.lower())
            m.d.comb += port.w_data.eq(bus.dat_w)

        with m.If(req):
            with m.Switch(bus.adr):
                for r in self.regmap:
                    port = getattr(self, r.name.lower())
                    with m.Case(r.offset // 4):
                        with m.If(bus.we):
                            if r.access == "r":
                                m.d.sync += err.eq(1)
                            else:
                                m.d.sync += [ack.eq(1)]
                                m.d.comb += port.w_stb.eq(1)
                                if r.access == "rw":
                                    store = port.data.as_value()
                                    for b in range(4):
                                        with m.If(bus.sel[b]):
                                            m.d.sync += store[8*b:8*b+8].eq(bus.dat_w[8*b:8*b+8])
                        with m.Else():
                            m.d.sync += ack.eq(1)
                            m.d.comb += port.r_stb.eq(1)
                            if r.access == "rw":
                                m.d.sync += dat.eq(port.data)
                            elif r.access in ("r", "ext"):
                                m.d.sync += dat.eq(port.r_data)
                with m.Default():
                    m.d.sync += err.eq(1)
        with m.If(self.clear):
            for r in self.regmap:
                if r.access == "rw":
                    store = getattr(self, r.name.lower()).data.as_value()
                    m.d.sync += store.eq(r.init)
        return m
