"""The hash coprocessor's mode table: what the datapath needs to know about the mode of an
operation (:data:`~.registers.MODE_PARAMS`), latched at START so that no decoder sits in the
datapath."""

from amaranth import *
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from .registers import MODE_PARAMS
from .keccak import ABSORB_WORDS


__all__ = ["ModeInfo", "ModeTable"]


class ModeInfo(data.Struct):
    valid: 1                 # a known mode
    sha: 1                   # SHA-256 (else a Keccak sponge)
    shake: 1                 # OUTLEN decides the output length
    bw: 6                    # block words
    bytes: 8                 # block bytes
    thresh: 8                # last-block threshold in bytes
    pad: 8                   # first padding byte
    outw: 5                  # digest words of the fixed-length modes
    last_fi: 6               # index of a block's last word
    wmask: ABSORB_WORDS      # buffer words inside the rate


class ModeTable(wiring.Component):
    """``info`` of ``mode``, latched when ``load`` is set (an unknown mode clears only
    ``info.valid``)."""

    mode: In(4)
    load: In(1)
    info: Out(ModeInfo)

    def elaborate(self, platform):
        m = Module()
        p = self.info
        with m.If(self.load):
            with m.Switch(self.mode):
                for md, pp in MODE_PARAMS.items():
                    with m.Case(md.value):
                        m.d.sync += [
                            p.valid.eq(1), p.sha.eq(pp.sha),
                            p.shake.eq(pp.out_words is None),
                            p.bw.eq(pp.block_words), p.bytes.eq(pp.block_bytes),
                            p.thresh.eq(pp.last_threshold), p.pad.eq(pp.pad),
                            p.outw.eq(pp.out_words or 0),
                            p.last_fi.eq(pp.block_words - 1),
                            p.wmask.eq((1 << pp.block_words) - 1),
                        ]
                with m.Default():
                    m.d.sync += p.valid.eq(0)
        return m
