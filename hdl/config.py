"""Named SoC configurations: data, not forks. A configuration chooses which blocks exist and
their sizes; it never changes how a block's logic is written.

``small``:   core without PMP + RAM + UART + timer, no performance counters, no coprocessors
             (so no coprocessor control page): for small FPGAs (the iCEBreaker's UP5K);
             U-mode exists but its memory accesses are unrestricted (the SDK refuses to lend
             a coprocessor on such a configuration). The core's register file
             is in block RAM (``Core(regfile_bram=True)``: one decode cycle more per
             instruction, docs/core.md).
``minimal``: core + RAM + UART + timer (with PMP and performance counters).
``pipelined``: ``minimal`` with the F/D/X/W core (``Core(pipeline=True)``, docs/core.md).
``pipelined-fetchreg``: ``pipelined`` with the fetched word registered before ``D``
             (``Core(pipeline=True, fetch_reg=True)``): the instruction block RAM's output feeds
             only flip-flops; branches 3 cycles, JALR/MRET/FENCE.I 4 (docs/core.md, "The
             fetched word registered", with why ``pipelined`` keeps the core without it).
``debug``:   a Debug Module (hdl/debug/, docs/debugging.md). Off in every named configuration;
             ``gluon sim --gdb`` runs ``minimal``/``pipelined``/``full``/``compact`` with it (their
             ``with_debug()`` variant, a model of its own), so a plain ``gluon sim`` model does
             not carry it (it costs that model 12-23 % of its speed, for no cycle). Not possible
             in ``small`` (the block-RAM register file; the UP5K is nearly full and the
             iCEBreaker has no user JTAG). No board transport reaches a Debug Module yet.
``full``:    ``minimal`` + every coprocessor that has landed (simulation default).
``compact``: ``full`` with narrower coprocessor datapaths (Montgomery unit: 2 lanes instead of 4;
             systolic array 4x4 instead of 8x8; the matrix requantizers' products in DSP blocks
             instead of LUTs): the same registers, programs and results in more cycles, with
             fewer LUTs and wires, for FPGAs where ``full`` does not route (the ULX3S-85F,
             docs/fpga.md). Firmware runs unchanged: the lane count and the array side only
             change cycle counts, and the matrix driver reads its tile limits from CONFIG.
``compact-pipelined``: ``compact`` with the F/D/X/W core (``Core(pipeline=True)``): the ULX3S-85F's
             SoC as it will be once the pipelined core is the default, to measure what limits
             its clock outside the core (docs/fpga.md).
"""

from dataclasses import dataclass, field, replace
import importlib
import os


__all__ = ["SocConfig", "CONFIGS", "COPROCESSORS", "get_config", "coprocessor_class"]


# Coprocessor kinds in slot order: name -> (module, class). Slots are fixed by the class's SLOT.
COPROCESSORS = {
    "hash":   ("gluon.hdl.hash", "HashCoprocessor"),
    "modmul": ("gluon.hdl.modmul", "ModMulCoprocessor"),
    "matmul": ("gluon.hdl.matmul", "MatMulCoprocessor"),
}


@dataclass(frozen=True)
class SocConfig:
    name: str
    coprocessors: tuple = ()
    ram_size: int = 128 * 1024
    clk_hz: int = 50_000_000
    uart_divisor: int = 0            # 0: clk_hz // 115200
    pmp_entries: int = 8             # 0: no PMP (U-mode memory accesses unrestricted)
    perf: bool = True                # the PERF counter block (0x1000_4000)
    regfile_bram: bool = False       # the core's register file in block RAM (+1 cycle per instruction)
    pipeline: bool = False           # the F/D/X/W core with a registered fetch address (docs/core.md)
    fetch_reg: bool = False          # with pipeline: the fetched word registered before D decodes it
    debug: bool = False              # the Debug Module (hdl/debug/) and its lock page (0x1000_5000)
    # Constructor parameters of the coprocessors, as ((name, ((param, value), ...)), ...): a
    # tuple so that the configuration stays hashable. Absent: the block's defaults.
    coprocessor_params: tuple = ()
    description: str = ""

    def with_(self, **kw):
        return replace(self, **kw)

    def with_debug(self):
        """This configuration with the Debug Module (named ``<name>-debug``)."""
        if self.debug:
            return self
        if self.regfile_bram:
            raise ValueError(f"the '{self.name}' configuration cannot have a Debug Module (its "
                             "core, with the block-RAM register file, has no debug mode)")
        return replace(self, name=f"{self.name}-debug", debug=True)

    def params(self, coprocessor):
        """The constructor parameters of ``coprocessor`` in this configuration (a dict)."""
        return dict(dict(self.coprocessor_params).get(coprocessor, ()))

    def coprocessor_list(self):
        """The coprocessors with their non-default parameters: "hash, modmul (lanes=2)"."""
        def one(name):
            kw = ", ".join(f"{k}={v}" for k, v in self.params(name).items())
            return f"{name} ({kw})" if kw else name
        return ", ".join(one(c) for c in self.coprocessors)

    @property
    def divisor(self):
        return self.uart_divisor or max(2, self.clk_hz // 115200)


CONFIGS = {
    "small": SocConfig("small", (), pmp_entries=0, perf=False, regfile_bram=True,
                       description="core without PMP, register file in block RAM + RAM + UART + "
                                   "timer (small FPGAs)"),
    "minimal": SocConfig("minimal", (), description="core + RAM + UART + timer"),
    "pipelined": SocConfig("pipelined", (), pipeline=True,
                           description="minimal with the F/D/X/W core (registered fetch address)"),
    "full": SocConfig("full", ("hash", "modmul", "matmul"),
                      description="minimal + the hash, modular-arithmetic and matrix coprocessors"),
    "compact": SocConfig("compact", ("hash", "modmul", "matmul"),
                         coprocessor_params=(("modmul", (("lanes", 2),)),
                                             ("matmul", (("dim", 4), ("requant_dsp", True)))),
                         description="full with a 2-lane Montgomery unit, a 4x4 systolic array "
                                     "and the requantizers' products in DSP blocks"),
}
CONFIGS["pipelined-fetchreg"] = CONFIGS["pipelined"].with_(
    name="pipelined-fetchreg", fetch_reg=True,
    description="pipelined with the fetched word registered before decode (the block RAM's "
                "output into flip-flops only)")
CONFIGS["compact-pipelined"] = CONFIGS["compact"].with_(
    name="compact-pipelined", pipeline=True,
    description="compact with the F/D/X/W core (registered fetch address)")


def get_config(name):
    try:
        config = CONFIGS[name]
    except KeyError:
        raise ValueError(f"Unknown SoC configuration {name!r}; known: {', '.join(CONFIGS)}") from None
    # GLUON_PIPELINE=1: every configuration with a LUT-RAM register file gets the F/D/X/W core
    # (to run the whole test suite on it while it is not the default)
    # (GLUON_PIPELINE=fetchreg: the same with the fetched word registered)
    mode = os.environ.get("GLUON_PIPELINE")
    if mode in ("1", "fetchreg") and not config.regfile_bram:
        config = config.with_(pipeline=True, fetch_reg=config.fetch_reg or mode == "fetchreg")
    return config


def coprocessor_class(name):
    if name not in COPROCESSORS:
        raise ValueError(f"Unknown coprocessor {name!r}; known: {', '.join(COPROCESSORS)}")
    module, cls = COPROCESSORS[name]
    return getattr(importlib.import_module(module), cls)
