"""`gluon bench`: run the benchmark programs on the simulated SoC and print what they cost.

CPU-only programs (firmware/examples: sort, crc32, matmul, sha256_sw) report cycles,
instructions retired and CPI; every row also reports the simulator's speed. Accelerated
workloads add their software and coprocessor cycles as coprocessors land.

All figures are exact cycle counts from the simulation (the model is cycle-accurate); the
wall-clock speed is the only timed figure and is reported, never asserted.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "firmware" / "examples"

CPU_PROGRAMS = ["sort", "crc32", "matmul", "sha256_sw"]


def _compile(name, outdir):
    from gluon.firmware import cc
    return cc.compile([EXAMPLES / f"{name}.c"], Path(outdir) / f"{name}.elf", opt="-O2")


def cpu_rows(config, programs=CPU_PROGRAMS, log=print):
    from .verilator import run
    rows = []
    with tempfile.TemporaryDirectory(prefix="gluon-bench-") as td:
        for name in programs:
            elf = _compile(name, td)
            res = run(elf, config, max_cycles=500_000_000)
            if not res.passed:
                raise RuntimeError(f"benchmark {name} failed: tohost={res.tohost:#x}\n"
                                   f"{res.output.decode(errors='replace')}")
            rows.append({
                "workload": name, "kind": "cpu",
                "software_cycles": res.cycles, "accelerated_cycles": None, "speedup": None,
                "busy_share": 0.0, "glue_share": 1.0,
                "instret": res.instret, "cpi": res.cpi,
                "sim_cycles_per_second": res.cycles / res.seconds if res.seconds else None,
            })
            log(f"  {name:<12} {res.cycles:>10} cycles {res.instret:>10} instr  CPI {res.cpi:.3f}"
                f"  ({rows[-1]['sim_cycles_per_second'] / 1e6:.2f} M cycles/s simulated)")
    return rows


def table(rows):
    out = ["| workload | software cycles | accelerated cycles | speedup | busy share | glue share | CPI |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        acc = r["accelerated_cycles"]
        speed = f"{r['speedup']:.1f}x" if r["speedup"] else "-"
        cpi = f"{r['cpi']:.3f}" if r.get("cpi") else "-"
        out.append(f"| {r['workload']} | {r['software_cycles']} | {acc if acc is not None else '-'} | "
                   f"{speed} | {r['busy_share'] * 100:.1f} % | {r['glue_share'] * 100:.1f} % | {cpi} |")
    return "\n".join(out)


def main(args):
    from gluon.hdl.config import get_config
    config = get_config(args.config)
    print(f"gluon bench: '{config.name}' SoC ({config.description})", file=sys.stderr)
    programs = CPU_PROGRAMS[:2] if args.quick else CPU_PROGRAMS
    rows = cpu_rows(config, programs, log=lambda s: print(s, file=sys.stderr))
    speeds = [r["sim_cycles_per_second"] for r in rows if r["sim_cycles_per_second"]]
    print(table(rows))
    cpis = [r["cpi"] for r in rows if r.get("cpi")]
    print(f"\nCPI: max {max(cpis):.3f} (target <= 1.15); simulation speed: "
          f"min {min(speeds) / 1e6:.2f} M cycles/s, max {max(speeds) / 1e6:.2f} M cycles/s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
        print(f"gluon bench: rows written to {args.json}", file=sys.stderr)
    return 0
