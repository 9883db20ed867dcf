"""Random programs for the modular-arithmetic coprocessor (hdl/modmul) on the cocotb bench of
tests/cocotb_copro.py (test ``random_ops`` with ``GLUON_COPRO=modmul``).

Each program is a few random ops (every ``OpCode`` the block declares), started by every
``START.OP`` (a program fetched by DMA, ops pushed through CMD, the last queued program
again), with at most one fault placed at a random op. An independent model (:class:`Model`:
Python integers, ``pow(R, -1, N)`` for the Montgomery products, a shadow of the memory and
of the XIN/XOUT FIFOs) runs the same program and says what must come out: STATUS.CAUSE,
STATE.PC of a failing op, every byte of memory, the words in XOUT. Faults: each cause the
``Cause`` enum declares that a program can provoke (LIMBS, MODULUS, RANGE, SLOT, NOMOD,
OPCODE, DMA outside the windows or ended by a bus error, with memory untouched, LENGTH,
FIFO), START.OP 3, ABORT at a
random point (no memory write after it), START while busy (refused, the program ends
right) and the interrupt. Coverage: START.OP x cause x abort point.
"""

from cocotb_wb import Coverage


WIN = 0x8000            # window 0: [0, WIN) read-write; memory beyond it: no access
BUSERR = 0x10000        # window 1: [BUSERR, 2·BUSERR), past the memory: every access ERR
PROG_AREA = 0x1000
DATA_AREA = 0x2000
OUT_IMM = 0x100         # STORE targets: word offsets from here (inputs below)


class Model:
    """What the coprocessor must do, in Python integers. ``None`` in ``modset``/``kept``:
    not known (after an ABORT or a failure the documentation leaves open): the bench then
    sets a modulus / queues a program before relying on it."""

    def __init__(self, OpCode, Cause, *, slots, max_limbs, xdepth):
        self.O, self.C = OpCode, Cause
        self.slots, self.max_limbs, self.xdepth = slots, max_limbs, xdepth
        self.modset, self.n, self.L, self.vals = False, None, None, None
        self.kept = []          # the last queued program (AGAIN), [] none
        self.xout = []

    def uses(self, opc):
        O = self.O
        return {O.LOAD: "d", O.STORE: "a", O.COPY: "da", O.ADD: "dab", O.SUB: "dab",
                O.MUL: "dab", O.TOMONT: "da", O.FROMMONT: "da", O.LOADX: "d",
                O.STOREX: "a"}.get(opc, "")

    def run(self, ops, *, limbs, data_base, mem, xin, inwin):
        """Runs ``ops``; returns (cause, pc of the failing op or None). ``mem``: the shadow
        memory (updated), ``xin``: the words in XIN (consumed)."""
        O, C = self.O, self.C
        for pc, w in enumerate(ops):
            try:
                opc = O(w & 0xF)
            except ValueError:
                return C.OPCODE, pc
            f = {"d": w >> 4 & 63, "a": w >> 10 & 63, "b": w >> 16 & 63}
            imm = w >> 16
            if any(f[x] >= self.slots for x in self.uses(opc)):
                return C.SLOT, pc
            if opc == O.SETMOD:
                L = limbs
                if not 1 <= L <= self.max_limbs:
                    self.modset = None
                    return C.LIMBS, pc
                addr = data_base + 4 * imm
                if not inwin(addr, 4 * L):
                    self.modset = None
                    return C.DMA, pc
                n = int.from_bytes(mem[addr:addr + 4 * L], "little")
                if n % 2 == 0 or n < 3:
                    self.modset = False
                    return C.MODULUS, pc
                self.modset, self.n, self.L, self.vals = True, n, L, [0] * self.slots
                continue
            assert self.modset is not None, "bench: a program relies on an unknown modulus"
            if not self.modset:
                return C.NOMOD, pc
            n, L, v = self.n, self.L, self.vals
            r_inv = pow(1 << 32 * L, -1, n)
            d, a, b = f["d"], f["a"], f["b"]
            if opc in (O.LOAD, O.STORE):
                addr = data_base + 4 * imm
                if not inwin(addr, 4 * L):
                    return C.DMA, pc
                if opc == O.LOAD:
                    x = int.from_bytes(mem[addr:addr + 4 * L], "little")
                    if x >= n:
                        return C.RANGE, pc
                    v[d] = x
                else:
                    mem[addr:addr + 4 * L] = v[a].to_bytes(4 * L, "little")
            elif opc == O.LOADX:
                if len(xin) < L:
                    xin.clear()
                    return C.FIFO, pc
                words, xin[:] = xin[:L], xin[L:]
                x = sum(w << 32 * i for i, w in enumerate(words))
                if x >= n:
                    return C.RANGE, pc
                v[d] = x
            elif opc == O.STOREX:
                if self.xdepth - len(self.xout) < L:
                    return C.FIFO, pc
                self.xout += [v[a] >> 32 * i & 0xFFFF_FFFF for i in range(L)]
            elif opc == O.COPY:
                v[d] = v[a]
            elif opc == O.ADD:
                v[d] = (v[a] + v[b]) % n
            elif opc == O.SUB:
                v[d] = (v[a] - v[b]) % n
            elif opc == O.MUL:
                v[d] = v[a] * v[b] * r_inv % n
            elif opc == O.TOMONT:
                v[d] = (v[a] << 32 * L) % n
            elif opc == O.FROMMONT:
                v[d] = v[a] * r_inv % n
        return C.NONE, None


PLANS = ["ok", "ok", "limbs", "modulus", "range", "slot", "nomod", "opcode", "dma", "length",
         "fifo", "busy", "abort_early", "abort_mid", "abort_late", "irq"]


async def modmul_ops(b, n_ops):
    from gluon.hdl.modmul.registers import OpCode, encode, xfifo_depth
    rng, mem, C, Op = b.rng, b.mem, b.Cause, b.Op
    blk = b.block
    O = OpCode
    xdepth = xfifo_depth(blk.max_limbs)
    model = Model(O, C, slots=blk.slots, max_limbs=blk.max_limbs, xdepth=xdepth)
    shadow = bytearray(mem.data)
    inwin = lambda addr, n: 0 <= addr and addr + n <= WIN
    starts = [o.name for o in Op] + ["OP3"]

    def unreachable(bin):
        op, cause, point = bin
        if cause == "WIPING":                   # the contract test's (a START during a wipe)
            return True
        if op == "OP3":                         # START.OP 3 ends at once with OPCODE
            return (cause, point) != ("OPCODE", "none")
        if (cause == "ABORTED") != (point in ("early", "mid")):
            return True
        return point == "after_end" and cause != "NONE"   # ABORT only of fault-free programs

    cov = Coverage("modmul", unreachable=unreachable, op=starts, cause=[c.name for c in C],
                   point=["none", "early", "mid", "after_end"])
    await b.window(0, 0, WIN)
    await b.window(1, BUSERR, 2 * BUSERR)

    def rand_mod(L):
        n = rng.getrandbits(32 * L) | 1 | rng.choice([0, 1 << (32 * L - 1)])
        return max(n, 3 + 2 * rng.randrange(50))

    def put(addr, x, L):
        mem.data[addr:addr + 4 * L] = shadow[addr:addr + 4 * L] = x.to_bytes(4 * L, "little")

    def gen(plan, data_base):
        """A program for ``plan``; returns (ops, LIMBS register value, XIN words)."""
        ops, xin = [], []
        L, n = model.L, model.n
        limbs = L or 1
        need_setmod = not model.modset or rng.random() < 0.15
        if plan == "nomod" and model.modset is False:
            need_setmod = False
        if plan in ("modulus", "limbs"):
            need_setmod = False
        elif need_setmod and plan != "nomod":
            L = limbs = rng.randint(1, blk.max_limbs)
            n = rand_mod(L)
            put(data_base + 4 * 0, n, L)
            ops.append(encode(O.SETMOD, imm=0))
        elif plan == "nomod":
            pass
        slots = blk.slots
        # inputs below N at imm L.., one value ≥ N at imm 0x80 (if N < R)
        n_in = 6
        L_ = L or 1
        if n:
            for i in range(1, n_in + 1):
                put(data_base + 4 * L_ * i, rng.randrange(n), L_)
        long = plan in ("busy", "abort_mid", "abort_late", "irq", "abort_early")
        length = rng.randint(8, 12) if long else rng.randint(1, 8)
        length = min(length, blk.prog_depth - len(ops) - 7)
        xin_budget, xout_room = xdepth, xdepth - len(model.xout)
        s = lambda: rng.randrange(slots)
        body = []
        choices = [O.LOAD, O.STORE, O.COPY, O.ADD, O.SUB, O.MUL, O.TOMONT, O.FROMMONT,
                   O.LOADX, O.STOREX]
        if long:
            choices += [O.MUL] * 6
        for _ in range(length):
            opc = rng.choice(choices)
            if opc == O.LOADX and (not n or xin_budget < L_):
                opc = O.MUL
            if opc == O.STOREX and xout_room < L_:
                opc = O.ADD
            if opc == O.LOAD:
                body.append(encode(opc, d=s(), imm=L_ * rng.randint(1, n_in)))
            elif opc == O.STORE:
                body.append(encode(opc, a=s(), imm=OUT_IMM + L_ * rng.randrange(8)))
            elif opc == O.LOADX:
                x = rng.randrange(n)
                xin += [x >> 32 * i & 0xFFFF_FFFF for i in range(L_)]
                xin_budget -= L_
                body.append(encode(opc, d=s()))
            elif opc == O.STOREX:
                xout_room -= L_
                body.append(encode(opc, a=s()))
            else:
                body.append(encode(opc, d=s(), a=s(), b=s()))
        if long:        # long enough for a START or an ABORT to find it running
            body += [encode(O.MUL, d=s(), a=s(), b=s()) for _ in range(6)]
        pos = 0 if plan in ("limbs", "modulus") else rng.randint(0, len(body))
        fault = None
        if plan == "limbs":
            limbs = rng.choice([0, blk.max_limbs + 1, 63])
            fault = encode(O.SETMOD, imm=0)
        elif plan == "modulus":
            limbs = rng.randint(1, blk.max_limbs)
            bad = rng.choice([0, 1, 2 * rng.getrandbits(32 * limbs - 1)])
            put(data_base + 4 * 0xC0, bad, limbs)
            fault = encode(O.SETMOD, imm=0xC0)
        elif plan == "range" and n:
            big = n + rng.randrange((1 << 32 * L_) - n)
            if rng.random() < 0.5 and xin_budget >= L_:
                xin += [big >> 32 * i & 0xFFFF_FFFF for i in range(L_)]
                fault = encode(O.LOADX, d=s())
            else:
                put(data_base + 4 * 0x80, big, L_)
                fault = encode(O.LOAD, d=s(), imm=0x80)
        elif plan == "slot":
            bad = rng.randrange(slots, 64)
            fault = rng.choice([encode(O.LOAD, d=bad, imm=L_), encode(O.STORE, a=bad, imm=OUT_IMM),
                                encode(O.COPY, d=s(), a=bad), encode(O.MUL, d=s(), a=s(), b=bad),
                                encode(O.STOREX, a=bad), encode(O.LOADX, d=bad)])
        elif plan == "opcode":
            known = {o.value for o in O}
            fault = rng.choice([v for v in range(16) if v not in known]) | rng.getrandbits(28) << 4
        elif plan == "dma":
            imm = (rng.choice([WIN, BUSERR]) - data_base) // 4 + rng.randrange(0x800)
            fault = rng.choice([encode(O.LOAD, d=s(), imm=imm), encode(O.STORE, a=s(), imm=imm)])
        elif plan == "fifo":
            if rng.random() < 0.5:
                fault = encode(O.LOADX, d=s())          # no words for it: waits, then FIFO
                pos = len(body)
            else:
                fault = [encode(O.STOREX, a=s())] * (xdepth // L_ + 1)
        if fault is not None:
            body[pos:pos] = fault if isinstance(fault, list) else [fault]
        ops += body
        return ops[:blk.prog_depth], limbs, xin

    async def push_xin(words):
        for w in words:
            await b.write("XIN", w)

    async def drain_xout():
        level = b.regs.unpack("XFIFO", await b.read("XFIFO"))
        got = [await b.read("XOUT") for _ in range(level["OUT_LEVEL"])]
        return got, level["IN_LEVEL"]

    async def launch(op, ops, limbs, xin, data_base, prog_len=None, prog_addr=None):
        await b.clear()
        await b.write("LIMBS", VALUE=limbs)
        await b.write("DATA_BASE", data_base)
        if op == "PROG":
            if prog_addr is None:
                prog_addr = PROG_AREA + 4 * rng.randrange(0x100)
            if prog_len is None:
                prog_len = len(ops)
            for i, w in enumerate(ops):
                mem.data[prog_addr + 4 * i:prog_addr + 4 * i + 4] = w.to_bytes(4, "little")
                shadow[prog_addr + 4 * i:prog_addr + 4 * i + 4] = w.to_bytes(4, "little")
            await b.write("PROG_ADDR", prog_addr)
            await b.write("PROG_LEN", VALUE=prog_len)
        elif op == "QUEUE":
            for w in ops:
                await b.write("CMD", w)
            q = b.regs.unpack("QUEUE", await b.read("QUEUE"))["COUNT"]
            assert q == len(ops), f"QUEUE.COUNT {q}, {len(ops)} ops pushed"
        await push_xin(xin)
        await b.write("START", OP=getattr(Op, op).value if op != "OP3" else 3)

    async def check(what, op, ops, limbs, xin, data_base, *, n_writes, plan):
        """Runs the model on the program just ended and compares."""
        st = await b.status()
        if op == "OP3":
            cause, pc = C.OPCODE, None
            model.kept = None
        elif plan == "length":
            cause, pc = C.LENGTH, None
            model.kept = None
        elif plan != "dma_fetch":
            cause, pc = model.run(ops, limbs=limbs, data_base=data_base, mem=shadow,
                                  xin=list(xin), inwin=inwin)
            model.kept = list(ops) if op in ("QUEUE", "AGAIN") else []
            if cause == C.DMA and op == "PROG" and pc is None:
                model.kept = None
        if plan == "busy":
            assert cause == C.NONE, f"{what}: the model fails a fault-free program: {cause}"
        if plan == "dma_fetch":
            cause, pc, model.kept = C.DMA, None, None
        got_cause = C.BUSY if plan == "busy" else cause
        assert st["DONE"] and not st["BUSY"], f"{what}: {st}"
        assert st["ERROR"] == (got_cause != C.NONE) and st["CAUSE"] == got_cause.value, \
            f"{what}: {st}, expected {got_cause.name} (program {[hex(w) for w in ops]})"
        if pc is not None:
            state = b.regs.unpack("STATE", await b.read("STATE"))
            assert state["PC"] == pc, f"{what}: STATE.PC {state['PC']}, expected {pc}"
        if mem.data != shadow:
            bad = next(i for i in range(len(shadow)) if mem.data[i] != shadow[i])
            raise AssertionError(f"{what}: memory byte {bad:#x} is {mem.data[bad]:#x}, "
                                 f"expected {shadow[bad]:#x} ({len(mem.writes) - n_writes} writes)")
        out, in_level = await drain_xout()
        assert out == model.xout, f"{what}: XOUT {out}, expected {model.xout}"
        model.xout = []
        assert in_level == 0, f"{what}: {in_level} words left in XIN"
        return got_cause

    hit_irq = False
    schedule = [(p, o) for p in PLANS for o in ("PROG", "QUEUE", "AGAIN")] + [("op3", "OP3")]
    rng.shuffle(schedule)
    while len(schedule) < n_ops:
        schedule.append((rng.choice(PLANS), rng.choice(["PROG", "QUEUE", "AGAIN"])))
    for i, (plan, op) in enumerate(schedule[:max(n_ops, len(schedule))]):
        data_base = DATA_AREA + 4 * rng.randrange(0x100)
        if plan == "nomod" and model.modset is not False:
            # a failing SETMOD first leaves no modulus (MODULUS), then the op that needs one
            ops, limbs, xin = gen("modulus", data_base)
            w0 = len(mem.writes)
            await launch("QUEUE", ops, limbs, xin, data_base)
            await b.wait_idle()
            cause = await check(f"op {i} (before nomod)", "QUEUE", ops, limbs, xin, data_base,
                                n_writes=w0, plan="modulus")
            cov.hit(op="QUEUE", cause=cause.name, point="none")
        if plan == "op3":
            ops, limbs, xin = [], 1, []
        elif plan == "length":
            ops, limbs, xin = [], model.L or 1, []
        else:
            ops, limbs, xin = gen(plan, data_base)
        prog_len = None
        if plan == "length":
            if op == "PROG":
                prog_len = rng.choice([0, blk.prog_depth + 1 + rng.randrange(8)])
            elif op == "AGAIN" and model.kept != []:
                # a DMA-fetched program replaces the queued one: AGAIN has nothing to run
                w0 = len(mem.writes)
                L = rng.randint(1, blk.max_limbs)
                put(data_base, rand_mod(L), L)
                prep = [encode(O.SETMOD, imm=0)]
                await launch("PROG", prep, L, [], data_base)
                await b.wait_idle()
                cause = await check(f"op {i} (before again)", "PROG", prep, L, [],
                                    data_base, n_writes=w0, plan="prep")
                cov.hit(op="PROG", cause=cause.name, point="none")
            if op in ("QUEUE", "AGAIN"):
                assert b.regs.unpack("QUEUE", await b.read("QUEUE"))["COUNT"] == 0
        elif op == "AGAIN":
            # queue the program and run it once, then AGAIN below runs it once more
            w0 = len(mem.writes)
            await launch("QUEUE", ops, limbs, xin, data_base)
            await b.wait_idle()
            cause = await check(f"op {i} (queued)", "QUEUE", ops, limbs, xin, data_base,
                                n_writes=w0, plan="prep")
            cov.hit(op="QUEUE", cause=cause.name, point="none")
        what = f"op {i}: {plan} via {op}, L={limbs}"
        if plan == "irq":
            await b.write("CTRL", control=True, IRQ_EN=1)
        n_writes = len(mem.writes)
        if op == "AGAIN":
            await b.clear()
            await b.write("LIMBS", VALUE=limbs)
            await push_xin(xin)
            await b.write("START", OP=Op.AGAIN.value)
        else:
            prog_addr = None
            if plan == "dma" and op == "PROG" and rng.random() < 0.4:
                plan = "dma_fetch"          # the program itself outside the windows
                prog_addr = rng.choice([WIN, BUSERR]) + 4 * rng.randrange(0x1000)
                xin = []
            await launch(op, ops, limbs, xin, data_base, prog_len, prog_addr)
        t_start = b.cycle
        point = "none"
        if plan.startswith("abort"):
            delay = {"abort_early": rng.randrange(0, 3), "abort_mid": rng.randrange(5, 60),
                     "abort_late": 0}[plan]
            await b.run_until(lambda c: c >= t_start + delay)
            if plan == "abort_late":
                await b.wait_idle()
            await b.write("ABORT", 0)
            t_abort = b.cycle
        if plan == "busy":
            await b.run_until(lambda c: c >= t_start + rng.randrange(0, 30))
            await b.write("START", OP=rng.randrange(4))
            st = await b.status()
            assert st["BUSY"] and st["ERROR"] and st["CAUSE"] == C.BUSY.value, f"{what}: {st}"
        await b.wait_idle()
        st = await b.status()
        if plan.startswith("abort") and st["CAUSE"] == C.ABORTED.value:
            assert st["DONE"] and st["ERROR"], f"{what}: {st}"
            point = "early" if plan == "abort_early" else "mid"
            late = [a for c, a in mem.writes[n_writes:] if c >= t_abort]
            assert not late, f"{what}: memory written after ABORT: {late[:4]}"
            base_ok = {data_base + 4 * (OUT_IMM + k) for k in range(8 * blk.max_limbs)}
            stray = [a for c, a in mem.writes[n_writes:] if a not in base_ok]
            assert not stray, f"{what}: memory written outside the STORE targets: {stray[:4]}"
            shadow[:] = mem.data
            # what the program left is not defined by the ABORT: start from a new modulus
            out, in_level = await drain_xout()
            assert in_level == 0, f"{what}: XIN not emptied by the ABORT"
            model.modset, model.kept, model.xout = None, None, []
            cause = C.ABORTED
        else:
            if plan.startswith("abort"):
                point = "after_end"
            cause = await check(what, op, ops, limbs, xin, data_base, n_writes=n_writes,
                                plan=plan)
        hit_irq |= await b.check_irq_and_clear(plan, what)
        cov.hit(op=op, cause=cause.name, point=point)
    assert hit_irq
    return cov
