"""`gluon sim --trace`: a VCD a user can open. pyvcd parses it; at most 10 % of its signals are
anonymous (Amaranth's ``$N``, Yosys' ``$auto$``); the time axis is the SoC's real clock period;
--trace-from/--trace-to record only that window of the run. On the 'minimal' SoC (the traced
model is built once and cached)."""

import subprocess
import sys

import pytest
from vcd.reader import TokenKind, tokenize

from gluon.firmware import cc
from gluon.hdl.config import get_config


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    d = tmp_path_factory.mktemp("wave")
    (d / "w.c").write_text("int main(void) { volatile int s = 0; for (int i = 0; i < 300; i++) "
                           "s += i; return s == 44850 ? 0 : 1; }\n")
    return cc.compile([d / "w.c"], d / "w.elf")


def _read(path):
    names, scope, times, timescale = [], [], [], None
    clk_ids, clk_rises = set(), 0
    with open(path, "rb") as f:
        for tok in tokenize(f):
            if tok.kind is TokenKind.TIMESCALE:
                timescale = tok.timescale
            elif tok.kind is TokenKind.SCOPE:
                scope.append(tok.scope.ident)
            elif tok.kind is TokenKind.UPSCOPE:
                scope.pop()
            elif tok.kind is TokenKind.VAR:
                names.append(".".join(scope + [tok.var.reference]))
                if scope == ["TOP"] and tok.var.reference == "clk":
                    clk_ids.add(tok.var.id_code)
            elif tok.kind is TokenKind.CHANGE_TIME:
                times.append(tok.time_change)
            elif tok.kind is TokenKind.CHANGE_SCALAR and tok.scalar_change.id_code in clk_ids:
                clk_rises += tok.scalar_change.value == "1"
    return names, times, timescale, clk_rises


def test_vcd_named_real_period_window(tmp_path, elf):
    out = tmp_path / "w.vcd"
    p = subprocess.run([sys.executable, "-m", "gluon.sim.cli", "sim", "--config", "minimal",
                        "--trace", str(out), "--trace-from", "100", "--trace-to", "400", str(elf)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    names, times, timescale, rises = _read(out)
    anonymous = [n for n in names if n.rsplit(".", 1)[-1].startswith("$") or "$auto$" in n]
    assert len(names) > 300
    assert len(anonymous) <= 0.10 * len(names), anonymous[:20]
    assert any(n.endswith("soc.core.pc") or ".core." in n for n in names)
    # 1 ps resolution, one clock period of the SoC's clock (50 MHz: 20,000 ps) per cycle
    assert timescale.magnitude.value == 1 and timescale.unit.value == "ps"
    period = round(1e12 / get_config("minimal").clk_hz)
    assert times[0] == 100 * period
    steps = {b - a for a, b in zip(times, times[1:])}
    assert steps == {period // 2, period - period // 2}, steps
    # the window: 300 cycles
    assert times[-1] - times[0] in (299 * period + period // 2, 300 * period - period // 2, 299 * period)
    assert 299 <= rises <= 301


@pytest.mark.slow
def test_vcd_everything(tmp_path, elf):
    """--trace-all (its own model): the anonymous signals are there too, renamed ``anon$N`` so
    that the file stays readable (a VCD reference may not begin with ``$``)."""
    out = tmp_path / "all.vcd"
    p = subprocess.run([sys.executable, "-m", "gluon.sim.cli", "sim", "--config", "minimal",
                        "--trace", str(out), "--trace-all", "--trace-to", "50", str(elf)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    names, _times, _ts, _rises = _read(out)
    anonymous = [n for n in names if n.rsplit(".", 1)[-1].startswith("anon$")]
    assert len(anonymous) > 0.3 * len(names)
