"""Draw docs/architecture.png, the block diagram of the Gluon SoC (`full` configuration).

    python docs/architecture_diagram.py        # rewrites docs/architecture.png

Drawn with matplotlib (Agg backend) from the structure of hdl/soc.py: the core's two ports,
the address decoder and what hangs off it, the coprocessor slots with their DMA engines, the
DMA arbiter into RAM's second data port (which the core always wins), and the path a
program's data takes from ELF to coprocessor (the numbered steps). Names and addresses come
from the SoC's address map (hdl/soc.py ``address_map``); tests/test_addrmap.py checks that
every block of the table is drawn.
"""

from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch, FancyArrowPatch

from gluon.hdl.config import get_config
from gluon.hdl.soc import IRQ_MIP_BASE, address_map

OUT = Path(__file__).resolve().parent / "architecture.png"
MAP = {r.name: r for r in address_map(get_config("full"))}

CORE = "#f4c26b"
BUS = "#9ecae1"
PERIPH = "#c7e9c0"
COPRO = "#fdae6b"
DMA = "#dadaeb"
RAM = "#fcbba1"
HOST = "#eeeeee"


def addr(name):
    """The base address of block ``name``, written as in the docs: 0x1000_2000."""
    base = MAP[name].base
    return f"0x{base >> 16:04X}_{base & 0xFFFF:04X}"


# What the diagram says of each block next to its name and address.
PERIPHERALS = [("CLINT", "CLINT", "mtime, mtimecmp, msip"), ("UART", "UART", None),
               ("SYSINFO", "SYSINFO", None), ("SIMCTRL", "SIMCTRL", None),
               ("COPROCTL", "COPROCTL", "per slot: owner, wipe, 4 windows (M-mode)"),
               ("PERF", "PERF", "region cycles, busy, DMA")]
COPROCESSORS = [("HASH", "SHA-256, SHA-3,\nKeccak-256, SHAKE"),
                ("MODMUL", "Montgomery,\nop programs, 32 slots"),
                ("MATMUL", "int8 systolic\narray, requantizer")]


def peripheral_labels():
    """One label per block; an M-only block without a note says so on its first line."""
    def one(name, label, note):
        first = f"{label} {addr(name)}"
        if MAP[name].m_only and not (note and "M-mode" in note):
            first += " (M-mode)"
        return first + (f"\n{note}" if note else "")
    return [one(*p) for p in PERIPHERALS]


def coprocessor_labels():
    return [f"slot {MAP[name].slot}  {addr(name)}\n{name}: {note}" for name, note in COPROCESSORS]


def box(ax, x, y, w, h, text, color, fs=8.5, bold=False, ls="-"):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                fc=color, ec="#333333", lw=1.0, ls=ls))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fs,
            fontweight="bold" if bold else "normal", linespacing=1.25)


def arrow(ax, a, b, text=None, color="#333333", lw=1.3, style="-|>", rad=0.0, fs=7.5,
          offset=(0, 0), both=False, ls="-"):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=("<|-|>" if both else style), mutation_scale=10,
                                 color=color, lw=lw, ls=ls,
                                 connectionstyle=f"arc3,rad={rad}"))
    if text:
        mx, my = (a[0] + b[0]) / 2 + offset[0], (a[1] + b[1]) / 2 + offset[1]
        ax.text(mx, my, text, fontsize=fs, ha="center", va="center", color=color,
                bbox=dict(fc="white", ec="none", pad=0.6, alpha=0.9))


def step(ax, x, y, n):
    ax.add_patch(plt.Circle((x, y), 0.22, fc="#d62728", ec="none", zorder=5))
    ax.text(x, y, str(n), ha="center", va="center", color="white", fontsize=8,
            fontweight="bold", zorder=6)


def draw(path=OUT):
    fig, ax = plt.subplots(figsize=(14, 8.6))
    ax.set_xlim(0, 28)
    ax.set_ylim(0, 17.2)
    ax.axis("off")

    # host side: the toolchain and the loader
    box(ax, 0.3, 14.6, 3.4, 1.6, "app.c + SDK\n(crt0, libc subset,\ndrivers)", HOST)
    box(ax, 4.6, 14.6, 3.4, 1.6, "gluon cc\n(Zig clang, rv32im\n-O2, link.ld)", HOST)
    box(ax, 8.9, 14.6, 3.0, 1.6, f"app.elf\n(linked at\n{addr('RAM')})", HOST)
    box(ax, 12.8, 14.6, 4.4, 1.6, "loader (firmware/elf.py, harness)\nimage → RAM through the\n"
        "debug port while the core is held", HOST)
    arrow(ax, (3.7, 15.4), (4.6, 15.4))
    arrow(ax, (8.0, 15.4), (8.9, 15.4))
    arrow(ax, (11.9, 15.4), (12.8, 15.4))
    step(ax, 4.15, 16.45, 1)
    ax.text(20.0, 15.85, "Gluon SoC, `full` configuration (hdl/soc.py)", fontsize=11,
            fontweight="bold")
    ax.text(20.0, 15.2, "Wishbone B4 pipelined, 32-bit; one address decoder:\n"
            "unmapped addresses answer with a bus error", fontsize=8.5)

    # RAM
    box(ax, 0.6, 1.0, 4.2, 9.4, "", RAM)
    ax.text(2.7, 9.9, f"RAM  {addr('RAM')}\n{MAP['RAM'].size // 1024} KiB block RAM",
            ha="center", va="center", fontsize=9, fontweight="bold")
    box(ax, 0.9, 7.6, 3.6, 1.3, "fetch port\n(sync read, 1 insn/cycle)", "#fee0d2", fs=8)
    box(ax, 0.9, 5.4, 3.6, 1.3, "core data port (cbus)\nnever stalls", "#fee0d2", fs=8)
    box(ax, 0.9, 2.2, 3.6, 1.6, "DMA port (dbus)\nshares the 2nd port,\nalways loses to cbus",
        "#fee0d2", fs=8)

    # core
    box(ax, 6.0, 9.6, 4.8, 3.8, "", CORE)
    ax.text(8.4, 12.9, "core (hdl/core.py)", ha="center", fontsize=9.5, fontweight="bold")
    ax.text(8.4, 11.2, "RV32IM + Zicsr, M/U mode, PMP\nX → W, no speculation,\n"
            "no branch prediction,\ndata-independent latency\nCSRs, traps, mip/mie",
            ha="center", va="center", fontsize=8)
    arrow(ax, (6.0, 12.6), (4.5, 8.6), "ibus", rad=0.15, offset=(0.3, 0.6))
    arrow(ax, (6.6, 9.6), (4.5, 6.1), "dbus: RAM", rad=-0.1, both=True, offset=(0.8, 0.1))
    step(ax, 5.2, 12.2, 2)

    # decoder
    box(ax, 12.0, 9.9, 3.0, 3.2, "address\ndecoder\n(hdl/bus.py)\n\nbus error for\nunmapped",
        BUS, fs=8)
    arrow(ax, (10.8, 11.5), (12.0, 11.5), "dbus", both=True, offset=(0, 0.3))

    # peripherals
    periph = list(zip(peripheral_labels(), [13.3, 12.3, 11.5, 10.7, 9.6, 8.5]))
    for text, y in periph:
        h = 0.95 if "\n" in text else 0.65
        box(ax, 16.4, y - h / 2, 4.6, h, text, PERIPH, fs=7.5)
        arrow(ax, (15.0, 11.5), (16.4, y), lw=0.9, rad=0.0)

    # coprocessor slots
    copros = list(zip(coprocessor_labels(), [6.0, 3.7, 1.4]))
    for i, (text, y) in enumerate(copros):
        box(ax, 12.2, y, 4.2, 1.8, text, COPRO, fs=7.8)
        box(ax, 8.2, y + 0.25, 2.8, 1.3, f"DMA engine {i}\n(hdl/dma.py)", DMA, fs=7.8)
        arrow(ax, (12.2, y + 0.9), (11.0, y + 0.9), "descriptor /\nwords", both=True,
              fs=6.5, offset=(0, 0.55))
        arrow(ax, (13.5, 9.9), (14.3, y + 1.8), lw=0.9, rad=0.0)
        arrow(ax, (16.4, y + 0.9), (17.6, y + 0.9), lw=0.9, color="#888888")
        irq_bit = IRQ_MIP_BASE + MAP[COPROCESSORS[i][0]].irq
        ax.text(17.7, y + 0.9, f"busy → PERF\nirq → mip bit {irq_bit}", fontsize=7,
                va="center", color="#555555")
    ax.text(21.2, 2.1, "slots 3..15: free for a new\ncoprocessor (docs/adding-a-\n"
            "coprocessor.md)", fontsize=8, style="italic", color="#555555")

    # DMA arbiter
    box(ax, 5.6, 1.0, 1.9, 6.6, "DMA\narbiter\n+\ndecoder\n\n(+ debug\nport:\nloader)", DMA,
        fs=7.8)
    for i, (_, y) in enumerate(copros):
        arrow(ax, (8.2, y + 0.9), (7.5, y + 0.9), both=True, lw=1.0)
    arrow(ax, (5.6, 3.0), (4.5, 3.0), "RAM only", both=True, offset=(0, 0.4), fs=7)
    # the loader's path: the debug initiator on the DMA arbiter, while the core is held
    ax.plot([13.0, 11.45, 11.45, 6.55], [14.6, 14.0, 7.95, 7.95], color="#777777", lw=1.2,
            ls="--")
    arrow(ax, (6.55, 7.95), (6.55, 7.6), color="#777777", lw=1.2)
    ax.text(11.55, 8.3, "image (debug port)", fontsize=7, color="#555555")
    # every descriptor is checked against the windows
    arrow(ax, (16.4, 9.35), (10.2, 7.55), color="#6a51a3", rad=0.12, ls="--")
    ax.text(21.3, 7.75, "slot k's windows → engine k:\ndescriptor outside them is\nrefused "
            "(error, no bus access)", fontsize=7, color="#6a51a3", va="center")

    # the numbered data path
    step(ax, 12.3, 13.5, 3)
    step(ax, 11.6, 6.05, 4)
    step(ax, 7.85, 5.6, 5)
    step(ax, 5.05, 2.35, 6)
    ax.text(22.0, 13.6, "From ELF to coprocessor", fontsize=9.5, fontweight="bold")
    ax.text(22.0, 13.3, "1  gluon cc: C → ELF; the loader writes\n"
            "    the image into RAM (debug port)\n"
            "2  the core fetches and runs it from RAM\n"
            "3  the driver opens a DMA window, writes\n"
            "    the coprocessor's registers, START\n"
            "4  the coprocessor hands descriptors to\n"
            "    its DMA engine (checked against the\n"
            "    windows: refused → error, no access)\n"
            "5  the engine reads operands from RAM\n"
            "    in the cycles the core leaves free\n"
            "6  results are written back to RAM by\n"
            "    DMA; DONE (poll STATUS or irq)",
            fontsize=8, va="top", linespacing=1.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(draw())
