"""The sizes of a matrix engine: what its build parameters give (buffer shapes, counts) and
the per-operation sizes the engine derives from M, N, K at the start of an operation
(:class:`Geometry.sizes`), which the loader, the sequencer and the store read."""

from amaranth import *
from amaranth.lib import data
from amaranth.utils import ceil_log2, exact_log2

from .registers import MAX_K, Store


__all__ = ["Geometry", "smul"]


class Geometry:
    """Build parameters ``dim`` (P), ``max_m``, ``max_n``, ``k_chunk`` (checked by
    :class:`~.engine.MatMulEngine`) and the constants derived from them."""

    def __init__(self, *, dim, max_m, max_n, k_chunk):
        self.P, self.Kc, self.MM, self.MN = dim, k_chunk, max_m, max_n
        P, Kc, MM, MN = dim, k_chunk, max_m, max_n
        self.G = G = 2 * P                        # rows of A per group (one slot = G cycles)
        self.lgP, self.lgKc, self.lgG = exact_log2(P), exact_log2(Kc), exact_log2(G)
        self.wpe = P // 4                         # 32-bit words per buffer entry
        self.lg_wpe = exact_log2(self.wpe)
        self.a_epr = Kc // P                      # A buffer entries per row of a chunk
        self.b_epr = MN // P                      # B buffer / accumulator entries per row
        self.half_a = G * self.a_epr              # entries in one half of the A buffer
        self.half_b = Kc * self.b_epr
        self.max_chunks = (MAX_K + Kc - 1) // Kc
        self.max_groups = (MM + G - 1) // G
        self.two_banks = MM > G                   # accumulators in two banks (groups alternate)
        self.bank_rows = MM // 2 if self.two_banks else MM

    @property
    def sizes(self):
        """The per-operation sizes, registered at the start of an operation."""
        P, Kc, MN, G = self.P, self.Kc, self.MN, self.G
        return data.StructLayout({
            "n_chunks": range(self.max_chunks + 1),
            "last_c": range(self.max_chunks),
            "k_last": range(Kc + 1),              # K elements in the last chunk
            "kb_last": range(Kc // P + 1),        # K blocks in the last chunk
            "rem_last": range(P),                 # last valid lane of the last K block
            "a_words_last": range(Kc // 4 + 1),
            "b_words": range(MN // 4 + 1),        # words per row of B
            "nb_cnt": range(MN // P + 1),
            "last_g": range(self.max_groups),
            "mg_last": range(G + 1),              # rows in the last group
            "st_words": range(MN + 1),            # words per stored row of C
        })

    @property
    def meta(self):
        """What travels beside a row of the array: its accumulator bank and address, "first"
        (overwrite the accumulators) and "final" (the group's accumulators are final)."""
        return data.StructLayout({"valid": 1, "first": 1, "final": 1, "bank": 1,
                                  "addr": range(self.bank_rows * self.b_epr)})

    def setup(self, m, sizes, job):
        """Statements computing ``sizes`` from ``job`` (for ``m.d.sync``)."""
        P, Kc, MM, MN, G = self.P, self.Kc, self.MM, self.MN, self.G
        M = job.m[:ceil_log2(MM + 1)]
        N = job.n[:ceil_log2(MN + 1)]
        km1 = Signal(17)
        m.d.comb += km1.eq(job.k[:17] - 1)
        is_int8 = job.op.store == Store.INT8
        return [
            sizes.n_chunks.eq((km1 >> self.lgKc) + 1),
            sizes.last_c.eq(km1 >> self.lgKc),
            sizes.k_last.eq((km1 & (Kc - 1)) + 1),
            sizes.kb_last.eq(((km1 & (Kc - 1)) >> self.lgP) + 1),
            sizes.rem_last.eq(km1 & (P - 1)),
            sizes.a_words_last.eq(((km1 & (Kc - 1)) >> 2) + 1),
            sizes.b_words.eq(((N - 1) >> 2) + 1),
            sizes.nb_cnt.eq(((N - 1) >> self.lgP) + 1),
            sizes.last_g.eq((M - 1) >> self.lgG),
            sizes.mg_last.eq(((M - 1) & (G - 1)) + 1),
            sizes.st_words.eq(Mux(is_int8, ((N - 1) >> 2) + 1, N)),
        ]


def smul(a, b):
    """a · b for a small unsigned b, as shifts and adds (no DSP block)."""
    b = Value.cast(b)
    return sum(Mux(b[i], a << i, 0) for i in range(len(b)))
