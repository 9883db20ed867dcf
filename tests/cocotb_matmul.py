"""Random operations for the matrix coprocessor (hdl/matmul) on the cocotb bench of
tests/cocotb_copro.py (test ``random_ops`` with ``GLUON_COPRO=matmul``).

Each operation takes random sizes (1..MAX_M, 1..MAX_N, K over several k-chunks), strides
(row padding, a zero A stride that repeats one row), every MODE.STORE (NONE keeping the
accumulators, INT8 through the requantizer, INT32), bias and ReLU, MUL and MAC (onto the
accumulators the previous operation left), and is checked against numpy through
``gluon.sim.quantize_mlp.matmul_ref`` (the reference the MATMUL tests and the quantized MLP
use): every byte of memory, C rows with their zero pad bytes and nothing else written. The
error paths: each cause the ``Cause`` enum declares that a caller can provoke (ZERO_SIZE,
TOO_BIG, ALIGN, BAD_OP from START.OP and from MODE.STORE, DMA outside the windows or
ended by a bus error, memory untouched), ABORT at a random point (no memory write after it),
START while busy (refused, the operation ends right) and the interrupt. Coverage: START.OP x
cause x abort point.
"""

import numpy as np

from cocotb_wb import Coverage


WIN = 0x8000            # window 0: [0, WIN) read-write; memory beyond it: no access
BUSERR = 0x10000        # window 1: [BUSERR, 2·BUSERR), past the memory: every access ERR
A_AREA, B_AREA, C_AREA, BIAS_AREA = 0x1000, 0x3000, 0x5000, 0x7000

PLANS = ["ok", "ok", "ok", "zero", "big", "align", "bad_mode", "dma", "busy", "abort_early",
         "abort_mid", "abort_late", "irq"]


async def matmul_ops(b, n_ops):
    from gluon.sim.quantize_mlp import matmul_ref
    from gluon.hdl.matmul.registers import MAX_K
    rng, mem, C, Op = b.rng, b.mem, b.Cause, b.Op
    nrng = np.random.default_rng(rng.getrandbits(32))
    blk = b.block
    Store = b.regs.map["MODE"].fields[0].enum_class
    cfg = b.regs.unpack("CONFIG", await b.read("CONFIG"))
    assert (cfg["DIM"], cfg["MAX_M"], cfg["MAX_N"]) == (blk.dim, blk.max_m, blk.max_n), cfg
    shadow = bytearray(mem.data)
    acc = None                          # the accumulators the last operation left (None: unknown)
    ops = [o.name for o in Op] + ["OP3"]

    def unreachable(bin):
        op, cause, point = bin
        if cause == "WIPING":                   # the contract test's (a START during a wipe)
            return True
        if op in ("NONE", "OP3"):               # not operations: BAD_OP at once
            return (cause, point) != ("BAD_OP", "none")
        if (cause == "ABORTED") != (point in ("early", "mid")):
            return True
        return point == "after_end" and cause != "NONE"   # ABORT only of fault-free operations

    cov = Coverage("matmul", unreachable=unreachable, op=ops, cause=[c.name for c in C],
                   point=["none", "early", "mid", "after_end"])
    stores = Coverage("matmul_store", op=["MUL", "MAC"], store=[s.name for s in Store],
                      bias=[0, 1], relu=[0, 1])
    await b.window(0, 0, WIN)
    await b.window(1, BUSERR, 2 * BUSERR)

    def put(addr, raw):
        mem.data[addr:addr + len(raw)] = shadow[addr:addr + len(raw)] = raw

    def matrix(area, x, stride):
        """Rows of ``x`` (int8) at ``area`` every ``stride`` bytes; returns the address."""
        rows, cols = x.shape
        for r in range(rows):
            put(area + r * stride, x[r].tobytes())
        return area

    async def program(regs):
        for name, v in regs.items():
            if name in ("MODE", "QSHIFT", "QZP"):
                await b.write(name, **v)
            else:
                await b.write(name, v & 0xFFFF_FFFF)

    hit_irq = False
    schedule = [(p, o) for p in PLANS for o in ("MUL", "MAC")] + [("op", "NONE"), ("op", "OP3")]
    rng.shuffle(schedule)
    while len(schedule) < n_ops:
        schedule.append((rng.choice(PLANS), rng.choice(["MUL", "MAC"])))
    for i, (plan, op) in enumerate(schedule):
        faultless = plan in ("ok", "busy", "abort_early", "abort_mid", "abort_late", "irq")
        if op == "MAC" and faultless and acc is None:
            # accumulators to add onto: a MUL that keeps them
            M, N = rng.randint(1, blk.max_m), rng.randint(1, blk.max_n)
            K = rng.randint(1, 12)
            A = nrng.integers(-128, 128, (M, K), dtype=np.int8)
            B = nrng.integers(-128, 128, (K, N), dtype=np.int8)
            await b.clear()
            await program({"A_ADDR": matrix(A_AREA, A, 4 * ((K + 3) // 4)), "A_STRIDE": 4 * ((K + 3) // 4),
                           "B_ADDR": matrix(B_AREA, B, 4 * ((N + 3) // 4)), "B_STRIDE": 4 * ((N + 3) // 4),
                           "M": M, "N": N, "K": K, "MODE": dict(STORE=Store.NONE.value)})
            await b.start(Op.MUL)
            st = await b.wait_idle()
            assert st["DONE"] and not st["ERROR"], f"op {i} (accumulators for MAC): {st}"
            assert mem.data == shadow, f"op {i}: STORE NONE wrote memory"
            _, acc = matmul_ref(A, B, store="none")
            cov.hit(op="MUL", cause="NONE", point="none")
            stores.hit(op="MUL", store="NONE", bias=0, relu=0)
        if op == "MAC" and faultless:
            M, N = acc.shape
        else:
            M, N = rng.randint(1, blk.max_m), rng.randint(1, blk.max_n)
        long = plan in ("busy", "abort_mid")
        K = rng.randint(16, 48) if long else rng.choice([rng.randint(1, 8), rng.randint(1, 40)])
        store = rng.choice(list(Store))
        bias, relu = rng.random() < 0.5, rng.random() < 0.5
        if faultless and op in ("MUL", "MAC"):
            # the output variant this operation has run least often
            least = min(stores.counts[(op, s.name, bb, rr)] for s in Store for bb in (0, 1)
                        for rr in (0, 1))
            store, bias, relu = rng.choice([(s, bool(bb), bool(rr)) for s in Store
                                            for bb in (0, 1) for rr in (0, 1)
                                            if stores.counts[(op, s.name, bb, rr)] == least])
        qmul, qshift, qzp = rng.randrange(1 << 31), rng.randrange(16), rng.randrange(-128, 128)
        lda = 4 * ((K + 3) // 4) + 4 * rng.choice([0, 0, 1, 3])
        ldb = 4 * ((N + 3) // 4) + 4 * rng.choice([0, 0, 1, 2])
        esize = 4 if store == Store.INT32 else 1
        row_bytes = 4 * ((N * esize + 3) // 4)
        ldc = row_bytes + 4 * rng.choice([0, 0, 1, 2])
        A = nrng.integers(-128, 128, (M, K), dtype=np.int8)
        if rng.random() < 0.15:
            lda, A = 0, np.repeat(A[:1], M, axis=0)       # one row for every row of A
        B = nrng.integers(-128, 128, (K, N), dtype=np.int8)
        bias_v = nrng.integers(-20000, 20000, N).astype(np.int32)
        regs = {"A_ADDR": matrix(A_AREA, A[:1] if lda == 0 else A, lda or 4),
                "A_STRIDE": lda, "B_ADDR": matrix(B_AREA, B, ldb), "B_STRIDE": ldb,
                "C_ADDR": C_AREA + 4 * rng.randrange(16), "C_STRIDE": ldc,
                "BIAS_ADDR": BIAS_AREA, "M": M, "N": N, "K": K,
                "QMUL": qmul, "QSHIFT": dict(SHIFT=qshift), "QZP": dict(ZP=qzp & 0xFF)}
        put(BIAS_AREA, bias_v.tobytes())
        mode = dict(STORE=store.value, BIAS=int(bias), RELU=int(relu))
        expect = C.NONE
        start = getattr(Op, op).value if op != "OP3" else 3
        if plan == "op":
            expect = C.BAD_OP
        elif plan == "zero":
            regs[rng.choice(["M", "N", "K"])] = 0
            expect = C.ZERO_SIZE
        elif plan == "big":
            which = rng.choice(["M", "N", "K"])
            regs[which] = {"M": blk.max_m + 1 + rng.randrange(blk.max_m),
                           "N": blk.max_n + 1 + rng.randrange(blk.max_n),
                           "K": MAX_K + 1 + rng.randrange(1000)}[which]
            expect = C.TOO_BIG
        elif plan == "align":
            names = ["A_ADDR", "B_ADDR"] + (["C_ADDR"] if store != Store.NONE else []) + \
                    (["A_STRIDE"] if M > 1 and lda else []) + (["B_STRIDE"] if K > 1 else [])
            regs[rng.choice(names)] += rng.randrange(1, 4)
            expect = C.ALIGN
        elif plan == "bad_mode":
            mode["STORE"] = 3
            expect = C.BAD_OP
        elif plan == "dma":
            names = ["A_ADDR", "B_ADDR"] + (["C_ADDR"] if store != Store.NONE else [])
            regs[rng.choice(names)] = rng.choice([WIN, BUSERR]) + 4 * rng.randrange(0x400)
            expect = C.DMA
        regs["MODE"] = mode
        what = (f"op {i}: {plan} {op} M={regs['M']} N={regs['N']} K={regs['K']} "
                f"{store.name} bias={int(bias)} relu={int(relu)} lda={lda} ldb={ldb} ldc={ldc}")
        await b.clear()
        await program(regs)
        if plan == "irq":
            await b.write("CTRL", control=True, IRQ_EN=1)
        n_writes = len(mem.writes)
        await b.write("START", OP=start)
        t_start = b.cycle
        point = "none"
        if plan.startswith("abort"):
            delay = {"abort_early": rng.randrange(0, 3), "abort_mid": rng.randrange(5, 80),
                     "abort_late": 0}[plan]
            await b.run_until(lambda c: c >= t_start + delay)
            if plan == "abort_late":
                await b.wait_idle()
            await b.write("ABORT", 0)
            t_abort = b.cycle
        if plan == "busy":
            await b.run_until(lambda c: c >= t_start + rng.randrange(0, 20))
            await b.write("START", OP=rng.randrange(4))
            st = await b.status()
            assert st["BUSY"] and st["ERROR"] and st["CAUSE"] == C.BUSY.value, f"{what}: {st}"
        st = await b.wait_idle()
        cause = expect
        if plan.startswith("abort") and st["CAUSE"] == C.ABORTED.value:
            assert st["DONE"] and st["ERROR"], f"{what}: {st}"
            point = "early" if plan == "abort_early" else "mid"
            late = [a for c, a in mem.writes[n_writes:] if c >= t_abort]
            assert not late, f"{what}: memory written after ABORT: {late[:4]}"
            c_lo, c_hi = regs["C_ADDR"], regs["C_ADDR"] + M * ldc
            stray = [a for c, a in mem.writes[n_writes:] if not c_lo <= a < c_hi]
            assert not stray, f"{what}: memory written outside C: {stray[:4]}"
            shadow[:] = mem.data
            acc, cause = None, C.ABORTED
        else:
            if plan.startswith("abort"):
                point = "after_end"
            want = C.BUSY if plan == "busy" else expect
            assert st["DONE"] and st["ERROR"] == (want != C.NONE) and st["CAUSE"] == want.value, \
                f"{what}: {st}, expected {want.name}"
            if expect == C.NONE:
                c, acc = matmul_ref(A, B, acc=acc if op == "MAC" else None,
                                    bias=bias_v if bias else None, store=store.name.lower(),
                                    multiplier=qmul, shift=qshift, zero_point=qzp, relu=relu)
                if c is not None:
                    for r in range(M):
                        row = c[r].tobytes()
                        row += bytes(row_bytes - len(row))        # INT8 pad bytes: zero
                        put_at = regs["C_ADDR"] + r * ldc
                        shadow[put_at:put_at + row_bytes] = row
                stores.hit(op=op, store=store.name, bias=int(bias), relu=int(relu))
            else:
                acc = None          # the accumulators after a refused operation: not relied on
            if mem.data != shadow:
                bad = next(j for j in range(len(shadow)) if mem.data[j] != shadow[j])
                raise AssertionError(f"{what}: memory byte {bad:#x} is {mem.data[bad]:#x}, "
                                     f"expected {shadow[bad]:#x} (registers {regs})")
            cause = want
        hit_irq |= await b.check_irq_and_clear(plan, what)
        cov.hit(op=op, cause=cause.name, point=point)
    assert hit_irq
    b.dut._log.info("\n" + stores.save())
    return cov
