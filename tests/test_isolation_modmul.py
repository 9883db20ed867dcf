"""Isolation of the MODMUL coprocessor (issue 17): an untrusted U-mode task the slot is lent to
(lent and taken back with the SDK's gluon_copro_grant/gluon_copro_revoke) gets nothing M left
behind (values, the program memory with a ladder whose op words reveal the
exponent, XIN/XOUT), cannot point the slot's DMA at M's memory, cannot plant state that M's
next operations use, and a slot taken back mid-program stops at once.

tests/isolation/modmul_attacks.c runs every case on the Verilator models of the `full` and
`compact-pipelined` SoCs (real PMP and U-mode) and prints one line per case, which these tests check; the modexp M computes
before is checked against Python's pow, the error causes against the hardware's Cause enum.
"""

import re
from pathlib import Path

import pytest

from gluon.firmware import cc
from gluon.hdl.config import get_config
from gluon.hdl.modmul import Cause
from gluon.sim.verilator import run

ROOT = Path(__file__).resolve().parent.parent
PROG = ROOT / "tests" / "isolation" / "modmul_attacks.c"
DRIVER = [ROOT / "firmware" / "drivers" / n for n in ("modmul.c", "mont_sw.c")]
P = 2**256 - 2**32 - 977


# The attack program on 'full' and on 'compact-pipelined' (the ULX3S-85F's SoC: the pipelined
# core's PMP and U-mode, the compact coprocessors); each run is under a second.
@pytest.fixture(scope="module", params=["full", "compact-pipelined"])
def attacks(request, tmp_path_factory):
    elf = cc.compile([PROG, *DRIVER], tmp_path_factory.mktemp("iso") / "modmul_attacks.elf",
                     opt="-O2", extra_flags=["-Wall", "-Wextra", "-Werror"])
    res = run(elf, get_config(request.param), max_cycles=5_000_000)
    text = res.output.decode(errors="replace")
    print(text)
    return res, text


def line(text, name):
    m = re.search(rf"^{name}: (.*)$", text, re.M)
    assert m, f"case {name} missing (did M stop?):\n{text}"
    return dict(kv.split("=", 1) for kv in m.group(1).split())


def test_m_work_before_lending_is_right(attacks):
    res, text = attacks
    m = re.search(r"^modexp ([0-9a-f]{16}) ([0-9a-f]{64}) ([0-9a-f]{64}) rc=0$", text, re.M)
    assert m, text
    e, x, r = (int(v, 16) for v in m.groups())
    assert r == pow(x, e, P)
    left = line(text, "left")
    # M left its key in XIN and XOUT, a modulus, values and programs: all there to steal.
    assert left == {"rc": "0", "xin": "8", "xout": "8", "modset": "1"}, left


def test_m_state_left_behind_never_reaches_u(attacks):
    res, text = attacks
    c = line(text, "m2u")
    assert c["grant"] == "0" and c["code"] == "0" and int(c["seen"]) == 5 + 64 + 32 * 8, c
    assert c["zero"] == "ok" and c["secret"] == "none", c
    # the program memory's ops cannot be run again, M's slots have no modulus to run with,
    # M's XIN words are gone (LOADX waits for words that never come)
    assert int(c["again"]) == Cause.LENGTH.value, c
    assert int(c["storex"]) == Cause.NOMOD.value, c
    assert int(c["loadx"]) == Cause.FIFO.value, c
    assert c["setmod"] == "0" and c["slots"] == "0", c


def test_dma_descriptors_at_m_memory_refused(attacks):
    res, text = attacks
    c = line(text, "dma")
    assert c["code"] == "0" and c["key"] == "ok", c
    assert int(c["load"]) == int(c["store"]) == int(c["prog"]) == Cause.DMA.value, c


def test_u_leftovers_do_not_reach_m(attacks):
    res, text = attacks
    c = line(text, "u2m")
    assert c["revoke"] == "0" and c["code"] == "0" and c["planted_modset"] == "1", c
    # U's program cannot be re-run, U's words are gone; the driver's first call after the
    # wipe does not trust its cache (modulus set again, program queued again) and is right
    assert int(c["again"]) == Cause.LENGTH.value and c["xfifo"] == "0", c
    assert c["first"] == "0", c
    assert c["rc"] == "0" and c["result"] == "ok" and c["copied"] == "none", c


def test_revocation_mid_program(attacks):
    res, text = attacks
    c = line(text, "revoke")
    assert c["grant"] == c["revoke"] == c["code"] == "0", c
    assert c["busy"] == "1", c                             # the program was running
    assert c["quiet"] == "ok" and c["status"] == "0" and c["state"] == "0", c
    assert c["rc"] == "0" and c["result"] == "ok", c
    assert res.passed and text.rstrip().endswith("done key=ok"), text
