"""The SDK's coprocessor drivers on the 'small' SoC (no coprocessors, no DMA window registers):
each checks SYSINFO and returns an error or falls back to software instead of trapping."""

import hashlib

from gluon.firmware import cc
from gluon.hdl.config import get_config
from gluon.sim.verilator import run

SRC = r"""
#include <stdio.h>
#include <stdint.h>
#include "gluon/hash.h"
#include "gluon/modmul.h"
#include "gluon/matmul.h"
static uint32_t area[64];
int main(void)
{
    uint8_t d[32];
    printf("hash %d %d\n", gluon_hash_present(), gluon_hash_window(0, area, sizeof area));
    printf("modmul %d %d %d\n", gluon_modmul_present(), gluon_modmul_window(1, area, sizeof area),
           gluon_modmul_init(2));
    printf("matmul %d %d\n", gluon_matmul_present(), gluon_matmul_window(0, area, sizeof area));
    if (sha256("abc", 3, d))
        return 3;
    for (int i = 0; i < 32; i++)
        printf("%02x", d[i]);
    printf("\n");
    return 0;
}
"""


def test_drivers_on_small(tmp_path):
    (tmp_path / "d.c").write_text(SRC)
    elf = cc.compile([tmp_path / "d.c"], tmp_path / "d.elf")
    res = run(elf, get_config("small"), max_cycles=5_000_000)
    out = res.output.decode()
    assert res.reason == "tohost" and res.tohost == 1, (res.tohost, out)
    assert "hash 0 16\n" in out                                  # GLUON_HASH_E_ARG
    assert "modmul 0 17 17\n" in out and "matmul 0 17\n" in out  # *_E_ABSENT
    assert hashlib.sha256(b"abc").hexdigest() in out             # the software fallback
