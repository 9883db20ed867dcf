"""The Montgomery datapath of the modular-arithmetic coprocessor (see :mod:`gluon.hdl.modmul`).

References: P. L. Montgomery, "Modular multiplication without trial division", Math. Comp. 44
(1985); Ç. K. Koç, T. Acar, B. S. Kaliski, "Analyzing and comparing Montgomery multiplication
algorithms", IEEE Micro 16(3) (1996) — the *separated operand scanning* (SOS) form used here,
with a full-width quotient constant N' = -N^-1 mod R.

Numbers are ``L`` limbs of 32 bits (``R = 2^(32·L)``), stored as ``nb`` *blocks* of ``lanes``
limbs (one block per value-store word). The Montgomery product ``A·B·R^-1 mod N`` is computed
as three chained operand-scanning products, each in its own :class:`RowEngine` of ``lanes``
32×32 multipliers:

====== ================================================ =================================
engine row ``i`` adds                                    emits per row
====== ================================================ =================================
``A``  ``a_i · B``                                       ``t_i``, limb *i* of ``T = A·B``
``B``  ``t_i · N'``                                      ``m_i``, limb *i* of ``M = T·N' mod R``
``C``  ``m_i · N + t_i``                                 0 (by construction of ``M``)
====== ================================================ =================================

after which ``U = (T + M·N)/R = T_hi + C`` (``T_hi``: what remains in engine A) is below
``2N``; the final stage computes ``U`` and ``U - N`` block by block and keeps the right one.
The per-limb quotient chain of CIOS (each ``m_i`` needs the previous row's low limb *and* a
multiplication by ``-N^-1 mod 2^32``) never appears: engine B is fed ``t_i`` two cycles after
engine A produced it, engine C ``m_i`` two cycles after B, so the three engines run as a
wavefront and a row costs ``nb`` cycles whatever the pipeline depth.

Each engine keeps its accumulator in a carry-save form that needs no carry propagation along
a row: column ``j`` computes ``x_j = lo_{j+1} + hi_j + s·y_j`` (``lo``, ``hi``: the 32-bit low
part and the ≤34-bit high part of the previous row's ``x``), which is exactly ``(acc + s·Y)/W``
with ``W = 2^32``. Each multiplier is four 16×16 products (one ECP5 MULT18X18D each) with
registered operands, registered partial products and a registered sum: 4 DSP per lane.

Timing depends only on the mode and ``L`` (every mode runs a fixed schedule; the final
selection is a multiplexer, both candidates are always computed). Cycle counts (``lanes=4``):
see docs/modmul.md.
"""

from amaranth import *
from amaranth.lib import wiring, data, enum
from amaranth.lib.wiring import In, Out, connect, flipped

from .row_engine import LIMB_BITS, token_layout, RowEngine
from .modulus import ModulusPortSignature, ModulusRegisters


__all__ = ["MontMode", "BlockReadSignature", "BlockWriteSignature", "ModulusPortSignature",
           "RowEngine", "MontgomeryUnit", "LIMB_BITS", "min_blocks", "blocks_for"]




class MontMode(enum.Enum, shape=3):
    """What :class:`MontgomeryUnit` computes (``R = 2^(32·L)``)."""
    MONT = 0   # A·B·R^-1 mod N
    LOW  = 1   # A·B mod R (low half of the product; for N' by Newton's iteration)
    ADD  = 2   # A + B mod N
    SUB  = 3   # A - B mod N
    ADDR = 4   # A + B + imm mod R (copy, small constants)
    SUBR = 5   # A - B mod R


def min_blocks(lanes):
    """Fewest blocks a row may have: the early output of a row reads the previous row's
    columns 0..1 from registers, which needs one row to span at least 2 (3 for one lane)
    cycles."""
    return 2 if lanes > 1 else 3


def blocks_for(limbs, lanes):
    return max(min_blocks(lanes), -(-limbs // lanes))


class BlockReadSignature(wiring.Signature):
    """A read port into the value store, seen from the reader.

    ``addr`` Out(range(blocks))  block index within the selected value
    ``data`` In(width)           the block at ``addr`` one cycle later
    """

    def __init__(self, *, blocks, width):
        self.blocks, self.width = blocks, width
        super().__init__({"addr": Out(range(blocks)), "data": In(width)})


class BlockWriteSignature(wiring.Signature):
    """A write port into the value store, seen from the writer.

    ``en``   Out(1)               write this cycle
    ``addr`` Out(range(blocks))   block index within the destination value
    ``data`` Out(width)           the block (limbs at and above L are zero)
    """

    def __init__(self, *, blocks, width):
        self.blocks, self.width = blocks, width
        super().__init__({"en": Out(1), "addr": Out(range(blocks)), "data": Out(width)})


class MontgomeryUnit(wiring.Component):
    """Runs one :class:`MontMode` operation on two values of the store, writing a third.

    Parameters: ``lanes`` (limbs per block = 32×32 multipliers per engine; 4 DSP each, three
    engines) and ``max_limbs`` (largest L).

    Ports:

    ``start``  In(1)   begin ``mode`` (only when not ``busy``); ``zero_a``/``zero_b`` read A/B
                       as zero, ``imm`` is added (ADDR only), ``to_np`` also writes the result
                       into the N' register. ``limbs`` (L) must stay stable while busy.
    ``abort``  In(1)   drop the operation (no further writes)
    ``busy``   Out(1)
    ``done``   Out(1)  one-cycle pulse with the last result write
    ``rd_a``, ``rd_b`` Out(:class:`BlockReadSignature`)  operand blocks, one cycle latency
    ``wr``     Out(:class:`BlockWriteSignature`)          result blocks
    ``modulus`` In(:class:`ModulusPortSignature`)         load N
    """

    def __init__(self, *, lanes=4, max_limbs=24):
        if lanes not in (1, 2, 4, 8):
            raise ValueError(f"lanes must be 1, 2, 4 or 8, not {lanes!r}")
        if not isinstance(max_limbs, int) or not 1 <= max_limbs <= 64:
            raise ValueError(f"max_limbs must be an integer in 1..64, not {max_limbs!r}")
        self.lanes, self.max_limbs = lanes, max_limbs
        self.max_nb = blocks_for(max_limbs, lanes)
        self.width = lanes * LIMB_BITS
        super().__init__({
            "start":  In(1),
            "mode":   In(MontMode),
            "zero_a": In(1),
            "zero_b": In(1),
            "imm":    In(8),
            "to_np":  In(1),
            "limbs":  In(range(max_limbs + 1)),
            "abort":  In(1),
            "busy":   Out(1),
            "done":   Out(1),
            "rd_a":   Out(BlockReadSignature(blocks=self.max_nb, width=self.width)),
            "rd_b":   Out(BlockReadSignature(blocks=self.max_nb, width=self.width)),
            "wr":     Out(BlockWriteSignature(blocks=self.max_nb, width=self.width)),
            "modulus": In(ModulusPortSignature(max_limbs=max_limbs)),
        })

    @property
    def dsp_count(self):
        """ECP5 MULT18X18D blocks: 3 engines × lanes × four 16×16 products."""
        return 3 * self.lanes * 4

    def elaborate(self, platform):
        m = Module()
        P, max_nb, max_limbs, WB = self.lanes, self.max_nb, self.max_limbs, self.width
        lg = P.bit_length() - 1
        tok_layout = token_layout(max_nb, max_limbs)

        eng = [RowEngine(lanes=P, max_nb=max_nb, max_limbs=max_limbs) for _ in range(3)]
        m.submodules.engine_a, m.submodules.engine_b, m.submodules.engine_c = ea, eb, ec = eng

        # ---- operation registers --------------------------------------------------------
        mode = Signal(MontMode)
        za, zb, to_np = Signal(), Signal(), Signal()
        imm = Signal(8)
        L = self.limbs
        nb = Signal(range(max_nb + 1))
        nb_now = Signal(range(max_nb + 1))
        m.d.comb += nb_now.eq(Mux((L + P - 1) >> lg < min_blocks(P), min_blocks(P), (L + P - 1) >> lg))
        for e in eng:
            m.d.comb += [e.nb.eq(nb), e.flush.eq(self.abort)]

        m.submodules.modulus = mod = ModulusRegisters(lanes=P, max_nb=max_nb,
                                                      max_limbs=max_limbs)
        connect(m, flipped(self.modulus), mod.port)

        # ---- sequencing -----------------------------------------------------------------
        running = Signal()          # between start and done
        issuing = Signal()          # the row generator runs (MONT, LOW)
        row = Signal(range(max_limbs))
        blk = Signal(range(max_nb))
        fin_go = Signal()           # the final stage generator runs
        fin_blk = Signal(range(max_nb))
        fin_pass2 = Signal()

        m.d.comb += self.busy.eq(running)
        with m.If(self.start & ~running):
            m.d.sync += [
                running.eq(1), mode.eq(self.mode), za.eq(self.zero_a), zb.eq(self.zero_b),
                imm.eq(self.imm), to_np.eq(self.to_np), nb.eq(nb_now),
                row.eq(0), blk.eq(0), fin_blk.eq(0), fin_pass2.eq(0),
            ]
            with m.If((self.mode == MontMode.MONT) | (self.mode == MontMode.LOW)):
                m.d.sync += issuing.eq(1)
            with m.Else():
                m.d.sync += fin_go.eq(1)

        # Row generator: addresses for token (row, blk); into engine A's operands next cycle.
        issue_tok = Signal(tok_layout)
        m.d.comb += [
            issue_tok.first.eq(row == 0),
            issue_tok.lastrow.eq(row == L - 1),
            issue_tok.lastblk.eq(blk == nb - 1),
            issue_tok.blk.eq(blk),
            issue_tok.row.eq(row),
        ]
        with m.If(issuing):
            with m.If(blk == nb - 1):
                m.d.sync += blk.eq(0)
                with m.If(row == L - 1):
                    m.d.sync += issuing.eq(0)
                with m.Else():
                    m.d.sync += row.eq(row + 1)
            with m.Else():
                m.d.sync += blk.eq(blk + 1)

        # ---- engine A: a_i · B ----------------------------------------------------------
        t0_valid = Signal()
        t0_tok = Signal(tok_layout)
        m.d.sync += t0_valid.eq(issuing & ~self.abort)
        with m.If(issuing):                 # (only read with t0_valid; loading it only then
            m.d.sync += t0_tok.eq(issue_tok)    # keeps an idle unit's registers unchanged)
        a_words = [self.rd_a.data[LIMB_BITS * k:LIMB_BITS * (k + 1)] for k in range(P)]
        b_words = [self.rd_b.data[LIMB_BITS * k:LIMB_BITS * (k + 1)] for k in range(P)]
        m.d.comb += [
            ea.load.eq(t0_valid), ea.tok.eq(t0_tok), ea.s_en.eq(t0_valid),
            ea.s.eq(Array(a_words)[t0_tok.row[:lg]] if lg else a_words[0]),
            ea.e0.eq(0),
        ]
        for k in range(P):
            m.d.comb += ea.y[k].eq(b_words[k])

        # ---- engine B: t_i · N' ---------------------------------------------------------
        is_mont = mode == MontMode.MONT
        b_load = ea.p_valid & is_mont
        m.d.comb += [
            eb.load.eq(b_load), eb.tok.eq(ea.p_tok),
            eb.s_en.eq(b_load & (ea.p_tok.blk == 0)), eb.s.eq(ea.early), eb.e0.eq(0),
        ]
        m.d.comb += mod.np_blk_rd.eq(ea.p_tok.blk)
        with m.If(b_load):                  # (y is only read on load)
            np_blk = mod.np
            for k in range(P):
                m.d.comb += eb.y[k].eq(np_blk[LIMB_BITS * k:LIMB_BITS * (k + 1)])

        # ---- engine C: m_i · N + t_i ----------------------------------------------------
        t_delay = [Signal(LIMB_BITS, name=f"t_d{i}") for i in range(4)]
        m.d.sync += [t_delay[0].eq(ea.early)] + [t_delay[i].eq(t_delay[i - 1]) for i in range(1, 4)]
        m.d.comb += [
            ec.load.eq(eb.p_valid), ec.tok.eq(eb.p_tok),
            ec.s_en.eq(eb.p_valid & (eb.p_tok.blk == 0)), ec.s.eq(eb.early),
            ec.e0.eq(t_delay[3]),
        ]
        m.d.comb += mod.n_blk[0].eq(eb.p_tok.blk)
        with m.If(eb.p_valid):
            n_blk_c = mod.n[0]
            for k in range(P):
                m.d.comb += ec.y[k].eq(n_blk_c[LIMB_BITS * k:LIMB_BITS * (k + 1)])

        # ---- LOW: collect t_i into blocks and write them ---------------------------------
        collect = Signal(data.ArrayLayout(LIMB_BITS, P))
        low_wr = Signal()
        low_data = Signal(WB)
        t_row = ea.p_tok.row
        lane = t_row[:lg] if lg else C(0, 1)
        with m.If(ea.p_valid & (ea.p_tok.blk == 0) & (mode == MontMode.LOW)):
            full = (lane == P - 1) | ea.p_tok.lastrow
            for k in range(P):
                word = Mux(lane == k, ea.early, collect[k])
                m.d.comb += low_data[LIMB_BITS * k:LIMB_BITS * (k + 1)].eq(word)
                m.d.sync += collect[k].eq(Mux(full, 0, word))
            m.d.comb += low_wr.eq(full)

        # ---- final stage: U = X + Y (+carries), V = U ∓ N, out = sel ? V : U -------------
        # Launch: ADD-like modes at start, MONT with C's last accumulate (FT1 reads it finished).
        with m.If(is_mont & ec.p_valid & ec.p_tok.lastrow & ec.p_tok.lastblk):
            m.d.sync += fin_go.eq(1)
        f0_valid = fin_go
        with m.If(fin_go):
            with m.If(fin_blk == nb - 1):
                m.d.sync += fin_blk.eq(0)
                with m.If(fin_pass2):
                    m.d.sync += fin_go.eq(0)
                m.d.sync += fin_pass2.eq(1)
            with m.Else():
                m.d.sync += fin_blk.eq(fin_blk + 1)

        m.d.comb += [
            self.rd_a.addr.eq(Mux(issuing, row >> lg, fin_blk)),
            self.rd_b.addr.eq(Mux(issuing, blk, fin_blk)),
        ]

        # FT1: load X, Y (and the carry that leaves the block through Y's top).
        f1_valid, f2_valid, f3_valid = Signal(), Signal(), Signal()
        f1_blk, f2_blk, f3_blk = (Signal(range(max_nb), name=f"f{i}_blk") for i in (1, 2, 3))
        f1_p2, f2_p2, f3_p2 = Signal(), Signal(), Signal()
        m.d.sync += [
            f1_valid.eq(f0_valid & ~self.abort), f1_blk.eq(fin_blk), f1_p2.eq(fin_pass2),
            f2_valid.eq(f1_valid & ~self.abort), f2_blk.eq(f1_blk), f2_p2.eq(f1_p2),
            f3_valid.eq(f2_valid & ~self.abort), f3_blk.eq(f2_blk), f3_p2.eq(f2_p2),
        ]
        # X, Y, U, V: 32-bit limbs, explicit carries; a stage computes when its token is valid.
        X = [Signal(LIMB_BITS, name=f"X{k}") for k in range(P)]
        Y = [Signal(LIMB_BITS, name=f"Y{k}") for k in range(P)]
        ytop = Signal(4)
        is_sub = (mode == MontMode.SUB) | (mode == MontMode.SUBR)
        with m.If(is_mont):
            # MONT: column sums of engine C's and engine A's (T_hi) state, in block order.
            m.d.comb += [ea.rotate.eq(f1_valid), ec.rotate.eq(f1_valid)]
        with m.If(f1_valid):
            with m.If(is_mont):
                last = f1_blk == nb - 1
                zs = []
                for k in range(P):
                    z = Signal(LIMB_BITS + 3, name=f"z{k}")
                    lo_c = ec.s0_lo[k + 1] if k + 1 < P else Mux(last, 0, ec.s1_lo0)
                    lo_a = ea.s0_lo[k + 1] if k + 1 < P else Mux(last, 0, ea.s1_lo0)
                    m.d.comb += z.eq(lo_c + ec.s0_hi[k] + lo_a + ea.s0_hi[k])
                    zs.append(z)
                # Y: column sums' 3-bit carries at the next limb; the top (ytop) to the next block.
                m.d.sync += [X[k].eq(zs[k][:LIMB_BITS]) for k in range(P)]
                m.d.sync += [Y[0].eq(0)] + [Y[k].eq(zs[k - 1][LIMB_BITS:]) for k in range(1, P)]
                m.d.sync += ytop.eq(zs[-1][LIMB_BITS:])
            with m.Else():
                for k in range(P):
                    a_k = self.rd_a.data[LIMB_BITS * k:LIMB_BITS * (k + 1)]
                    b_k = self.rd_b.data[LIMB_BITS * k:LIMB_BITS * (k + 1)]
                    yb = Mux(zb, 0, b_k)
                    m.d.sync += [X[k].eq(Mux(za, 0, a_k)), Y[k].eq(Mux(is_sub, ~yb, yb))]
                m.d.sync += ytop.eq(0)

        # FT2: U = X + Y + carry.
        U = [Signal(LIMB_BITS, name=f"U{k}") for k in range(P)]
        cu = Signal(5)
        cu_init = Mux(is_sub, 1, Mux(mode == MontMode.ADDR, imm, 0))
        cin_u = Mux(f2_blk == 0, cu_init, cu)
        with m.If(f2_valid):
            c = cin_u
            for k in range(P):
                s_k = X[k] + Y[k] + c
                m.d.sync += U[k].eq(s_k[:LIMB_BITS])
                c = s_k[LIMB_BITS:]
            m.d.sync += cu.eq(c + ytop)

        # FT3: V = U ∓ N (SUB: +); select; write in pass 2. N's block and the limbs to keep
        # were read in FT2 and registered (off FT3's carry chain).
        cv = Signal()
        sel = Signal()
        cin_v = Mux(f3_blk == 0, ~is_sub, cv)
        cout_v = Signal()                     # the carry out of the block's U ∓ N
        out = Signal(WB)
        n_f3 = Signal(WB)
        keep_f3 = Signal(P)
        m.d.comb += mod.n_blk[1].eq(f2_blk)
        with m.If(f2_valid):
            m.d.sync += [n_f3.eq(mod.n[1]),
                         *(keep_f3[k].eq((f2_blk * P + k) < L) for k in range(P))]
        with m.If(f3_valid):
            n_blk_f = n_f3
            c = cin_v
            V = []
            for k in range(P):
                n_k = n_blk_f[LIMB_BITS * k:LIMB_BITS * (k + 1)]
                s_k = U[k] + Mux(is_sub, n_k, ~n_k) + c
                V.append(s_k[:LIMB_BITS])
                c = s_k[LIMB_BITS]
            m.d.comb += cout_v.eq(c)
            m.d.sync += cv.eq(c)
            for k in range(P):
                m.d.comb += out[LIMB_BITS * k:LIMB_BITS * (k + 1)].eq(
                    Mux(keep_f3[k], Mux(sel, V[k], U[k]), 0))
        last3 = f3_blk == nb - 1
        with m.If(f3_valid & ~f3_p2 & last3):
            with m.Switch(mode):
                with m.Case(MontMode.MONT, MontMode.ADD):
                    m.d.sync += sel.eq((cu != 0) | cout_v)
                with m.Case(MontMode.SUB):
                    m.d.sync += sel.eq(cu == 0)
                with m.Default():
                    m.d.sync += sel.eq(0)
        fin_wr = f3_valid & f3_p2

        # ---- result writes, N' register, done -------------------------------------------
        m.d.comb += [
            self.wr.en.eq(fin_wr | low_wr),
            self.wr.addr.eq(Mux(low_wr, t_row >> lg, f3_blk)),
            self.wr.data.eq(Mux(low_wr, low_data, out)),
        ]
        m.d.comb += [mod.np_we.eq(to_np & fin_wr), mod.np_blk.eq(f3_blk), mod.np_data.eq(out)]

        done = Signal()
        with m.If(mode == MontMode.LOW):
            m.d.comb += done.eq(running & ea.acc_valid & ea.acc_tok.lastrow & ea.acc_tok.lastblk)
        with m.Else():
            m.d.comb += done.eq(running & fin_wr & last3)
        m.d.comb += self.done.eq(done)
        with m.If(done):
            m.d.sync += running.eq(0)

        with m.If(self.abort):
            m.d.sync += [running.eq(0), issuing.eq(0), fin_go.eq(0)]
        return m

