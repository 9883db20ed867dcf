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


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_coprocessor_without_the_contract_is_refused(monkeypatch):
    """A block without the control ports could not be confined to its slot's windows."""
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out
    from gluon.hdl import config as config_mod
    from gluon.hdl.bus import WishboneSignature
    from gluon.hdl.dma import DMAChannelSignature

    class Legacy(wiring.Component):          # the contract before the control component
        NAME, SLOT, REGS = "HASH", 0, None
        bus: In(WishboneSignature(addr_width=10))
        dma: Out(DMAChannelSignature())
        irq: Out(1)
        busy: Out(1)

    monkeypatch.setattr(config_mod, "coprocessor_class", lambda name: Legacy)
    monkeypatch.setattr("gluon.hdl.soc.coprocessor_class", lambda name: Legacy)
    with pytest.raises(TypeError, match=r"HASH lacks the contract's ports \['ctl_bus', 'dma_windows', 'dma_ctl'\]"):
        GluonSoC(get_config("full").with_(coprocessors=("hash",)))


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
