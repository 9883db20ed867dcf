"""Named SoC configurations: data, not forks. A configuration chooses which blocks exist and
their sizes; it never changes how a block's logic is written.

``small``:   core without PMP + RAM + UART + timer, no performance counters, no DMA window
             registers (no coprocessors to use them): for small FPGAs (the iCEBreaker's UP5K);
             U-mode exists but its memory accesses are unrestricted. The core's register file
             is in block RAM (``Core(regfile_bram=True)``: one decode cycle more per
             instruction, docs/core.md).
``minimal``: core + RAM + UART + timer (with PMP and performance counters).
``full``:    ``minimal`` + every coprocessor that has landed (ULX3S-85F, simulation default).
"""

from dataclasses import dataclass, field, replace
import importlib


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
    dma_windows: bool = True         # the DMA window registers (0x1000_3000; coprocessors need them)
    regfile_bram: bool = False       # the core's register file in block RAM (+1 cycle per instruction)
    description: str = ""

    def with_(self, **kw):
        return replace(self, **kw)

    @property
    def divisor(self):
        return self.uart_divisor or max(2, self.clk_hz // 115200)


CONFIGS = {
    "small": SocConfig("small", (), pmp_entries=0, perf=False, dma_windows=False, regfile_bram=True,
                       description="core without PMP, register file in block RAM + RAM + UART + "
                                   "timer (small FPGAs)"),
    "minimal": SocConfig("minimal", (), description="core + RAM + UART + timer"),
    "full": SocConfig("full", ("hash", "modmul", "matmul"),
                      description="minimal + the hash, modular-arithmetic and matrix coprocessors"),
}


def get_config(name):
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"Unknown SoC configuration {name!r}; known: {', '.join(CONFIGS)}") from None


def coprocessor_class(name):
    if name not in COPROCESSORS:
        raise ValueError(f"Unknown coprocessor {name!r}; known: {', '.join(COPROCESSORS)}")
    module, cls = COPROCESSORS[name]
    return getattr(importlib.import_module(module), cls)
