"""The SoC's construction (hdl/soc.py): configuration checks, the blocks each configuration
elaborates (named after the address-map table, so probes and traces find them), SYSINFO's
coprocessor mask."""

import pytest

from gluon.hdl.config import get_config
from gluon.hdl.soc import ADDRESS_MAP, GluonSoC


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_construction_errors():
    with pytest.raises(TypeError, match="SocConfig"):
        GluonSoC("full")
    with pytest.raises(ValueError, match="same slot"):
        GluonSoC(get_config("full").with_(coprocessors=("hash", "hash")))


@pytest.mark.parametrize("name", ["small", "minimal", "full"])
def test_elaborated_blocks_follow_the_table(name):
    config = get_config(name)
    soc = GluonSoC(config)
    m = soc.elaborate(None)
    names = set(m._named_submodules)
    want = {"core", "ram", "decoder", "dma_arbiter", "dma_decoder"}
    want |= {d.submodule for d in ADDRESS_MAP if d.present(config)}
    want |= {c.lower() for c in config.coprocessors} | {f"{c}_dma" for c in config.coprocessors}
    assert names == want


def test_sysinfo_mask_names_the_slots():
    soc = GluonSoC(get_config("full"))
    assert soc.coprocs_mask == sum(1 << c.SLOT for c in soc.coprocessors) == 0b111
    sysinfo = next(d for d in ADDRESS_MAP if d.name == "SYSINFO")
    fields = {f.name: f.offset for f in sysinfo.regs["COPROCS"].fields}
    assert fields == {c.NAME: c.SLOT for c in soc.coprocessors}
