"""Firmware SDK: programs built with gluon.firmware.cc, run on the Unicorn
reference (gluon.sim.refsim), checked against values computed in Python
(hashlib, zlib, Python integers) from the input recipes in each example's
header comment."""

import hashlib
import textwrap
import zlib
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from gluon.firmware import cc
from gluon.firmware.cc import CompileError, compile
from gluon.sim.refsim import RefSimError, run_elf

EXAMPLES = Path(cc.__file__).parent / "examples"
RAM_BASE = 0x8000_0000
MASK32 = 0xFFFF_FFFF


# ---- helpers -------------------------------------------------------------

def lcg(seed):
    """The examples' generator: x = (1664525 x + 1013904223) mod 2^32, yielding each new x."""
    x = seed
    while True:
        x = (1664525 * x + 1013904223) & MASK32
        yield x


def take(gen, n):
    return [next(gen) for _ in range(n)]


def hash31(values):
    h = 0
    for v in values:
        h = (h * 31 + (v & MASK32)) & MASK32
    return h


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    return tmp_path_factory.mktemp("firmware")


@pytest.fixture(scope="module")
def build(outdir):
    """build(example_name or C text, name=..., **compile_kwargs) -> ELF path."""
    def _build(source, name=None, **kwargs):
        if source.endswith(".c") and "\n" not in source:
            src = EXAMPLES / source
            name = name or src.stem
        else:
            assert name, "inline sources need a name"
            src = outdir / f"{name}.c"
            src.write_text(textwrap.dedent(source))
        opt = kwargs.get("opt", "-O2")
        return compile([src], outdir / f"{name}{opt}.elf", **kwargs)
    return _build


def run_ok(elf, **kwargs):
    r = run_elf(elf, **kwargs)
    assert r.reason == "tohost", f"run ended by {r.reason} ({r.error}) after {r.instructions} instructions; output {r.text!r}"
    assert r.tohost == 1, f"tohost={r.tohost:#x} (exit code {r.exit_code}); output {r.text!r}"
    return r


def symbols(elf):
    with open(elf, "rb") as f:
        e = ELFFile(f)
        table = {s.name: s for s in e.get_section_by_name(".symtab").iter_symbols()}
        return {n: (s["st_value"], s["st_size"],
                    e.get_section(s["st_shndx"]).name if isinstance(s["st_shndx"], int) else s["st_shndx"])
                for n, s in table.items() if n}


# ---- examples against Python references -------------------------------------

def test_hello(build):
    r = run_ok(build("hello.c"))
    assert r.text == (
        "Hello from Gluon!\n"
        "ints: -123 456 4000000000 0xbeef 0XBEEF\n"
        "width: [   42] [42   ] [00042] [+42] [ 7] [0x002a]\n"
        "chars: G \"gluon\" [  ab] 100%\n"
        "64-bit: -1234567890123 18446744073709551615 0x0123456789abcdef\n"
        "pointer: 0x10000000\n"
        "sysinfo: id=0x474c554e \"GLUN\" clk=50000000 Hz ram=0x80000000 (128 KiB) coprocs=0x0 [none]\n")
    assert r.exit_code == 0


def test_sort(build):
    data = sorted(take(lcg(12345), 1024))
    r = run_ok(build("sort.c"))
    assert r.text == (
        "sort: n=1024 seed=12345\n"
        "sorted: yes\n"
        f"min=0x{data[0]:08x} median=0x{data[512]:08x} max=0x{data[1023]:08x}\n"
        f"checksum=0x{hash31(data):08x}\n")


def test_crc32(build):
    buf = bytes(x >> 24 for x in take(lcg(0x00C0FFEE), 8192))
    crc = zlib.crc32(buf)
    r = run_ok(build("crc32.c"))
    assert r.text == (
        "crc32: len=8192 seed=0x00c0ffee\n"
        f"crc32(table)   = 0x{crc:08x}\n"
        f"crc32(bitwise) = 0x{crc:08x}\n"
        "crc32(\"123456789\") = 0xcbf43926\n")


def test_matmul(build):
    n = 32
    elems = [(x >> 24) - 128 for x in take(lcg(2024), 2 * n * n)]
    a = [elems[i * n:(i + 1) * n] for i in range(n)]
    b = [elems[n * n + i * n:n * n + (i + 1) * n] for i in range(n)]
    c = [[sum(a[i][k] * b[k][j] for k in range(n)) for j in range(n)] for i in range(n)]
    r = run_ok(build("matmul.c"))
    assert r.text == (
        "matmul: n=32 seed=2024\n"
        f"trace={sum(c[i][i] for i in range(n))}\n"
        f"c[0][0]={c[0][0]} c[31][31]={c[31][31]}\n"
        f"checksum=0x{hash31(v for row in c for v in row):08x}\n")


def test_sha256_sw(build):
    texts = ["", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"]
    lines = [f'sha256("{t}") = {hashlib.sha256(t.encode()).hexdigest()}' for t in texts]
    msg = bytes(x >> 24 for x in take(lcg(0x5EED), 3000))
    lines.append(f"sha256(lcg 3000 bytes, seed 0x5eed) = {hashlib.sha256(msg).hexdigest()}")
    lines.append("streaming: match")
    r = run_ok(build("sha256_sw.c"))
    assert r.text == "\n".join(lines) + "\n"


@pytest.mark.parametrize("opt", ["-O0", "-Os"])
def test_examples_other_opt_levels(build, opt):
    """-O0 and -Os link with -nostdlib too, and give the same output as -O2."""
    for name in ("sort.c", "sha256_sw.c"):
        ref = run_ok(build(name))
        r = run_ok(build(name, opt=opt))
        assert r.text == ref.text, f"{name} at {opt}"


def test_examples_instruction_budget(build):
    """Each example stays well under the ~5 M instruction budget for HDL simulation."""
    for name in ("hello.c", "sort.c", "crc32.c", "matmul.c", "sha256_sw.c"):
        r = run_ok(build(name))
        assert 1000 < r.instructions < 5_000_000, f"{name}: {r.instructions}"


# ---- exit convention -------------------------------------------------------------

@pytest.mark.parametrize("n, body, tohost", [
    (0, "return 0;", 1),
    (1, "exit(3);", 7),
    (2, "return 5;", 11),
    (3, "exit(255);", 0x1FF),
    (4, "exit(-1);", 0x1FF),         # status modulo 256
    (5, "exit(256);", 1),
])
def test_exit_values(build, n, body, tohost):
    elf = build(f"""
        #include <stdlib.h>
        int main(void) {{ {body} }}
        """, name=f"exit_{n}")
    r = run_elf(elf)
    assert (r.reason, r.tohost) == ("tohost", tohost)
    assert r.exit_code == (tohost >> 1)


def test_simctrl_exit(build):
    elf = build("""
        #include <gluon/sdk.h>
        int main(void) { gluon_simctrl_exit(0x55); }
        """, name="simctrl")
    r = run_elf(elf)
    assert (r.reason, r.tohost, r.exit_code) == ("simctrl", 0x55, 42)


def test_elf_layout(build):
    elf = build("hello.c")
    syms = symbols(elf)
    with open(elf, "rb") as f:
        e = ELFFile(f)
        assert e["e_entry"] == RAM_BASE
        assert e["e_flags"] & 0x1 == 0, "EF_RISCV_RVC set: compressed code"
        text = e.get_section_by_name(".text")
        assert text["sh_addr"] == RAM_BASE
        words = text.data()
        # Every instruction is 32 bits: the two low bits of each word are 11.
        assert all(words[i] & 3 == 3 for i in range(0, len(words), 4))
        loads = [s for s in e.iter_segments() if s["p_type"] == "PT_LOAD"]
        assert all(RAM_BASE <= s["p_paddr"] < RAM_BASE + 128 * 1024 for s in loads)
    assert syms["_start"][0] == RAM_BASE
    tohost, size, section = syms["tohost"]
    # tohost at the top of RAM, above the stack (which grows down, towards the guard)
    assert section == ".tohost" and tohost == RAM_BASE + 128 * 1024 - 16 and size == 4
    assert syms["fromhost"][0] == tohost + 8
    assert syms["__stack_top"][0] == RAM_BASE + 128 * 1024 - 32 < tohost
    guard = syms["__stack_guard_start"][0]
    assert syms["_end"][0] <= guard and guard % 4096 == 0
    assert syms["__stack_guard_end"][0] == guard + 256 < syms["__stack_top"][0]


def test_final_state(build):
    """Architectural end state: gp/sp set by crt0, the run ends on the store in exit()."""
    elf = build("sort.c")
    syms = symbols(elf)
    r = run_ok(elf)
    assert r.regs[0] == 0
    assert r.regs[3] == syms["__global_pointer$"][0]
    assert r.regs[2] == syms["__stack_top"][0]           # main returned: sp back at the top
    start, size, _ = syms["exit"]
    assert start <= r.pc < start + size


def test_ram_size_override(build, outdir):
    src = outdir / "stack.c"
    src.write_text(textwrap.dedent("""
        #include <stdio.h>
        #include <stdint.h>
        extern char __stack_top[];
        int main(void) {
            volatile char probe;
            printf("top=0x%08x sp_in_range=%d\\n", (unsigned)(uintptr_t)__stack_top,
                   (uintptr_t)&probe < (uintptr_t)__stack_top &&
                   (uintptr_t)&probe > (uintptr_t)__stack_top - 256);
            return 0;
        }
        """))
    elf = compile([src], outdir / "stack64k.elf", ram_size=64 * 1024)
    assert symbols(elf)["__stack_top"][0] == RAM_BASE + 0x10000 - 32
    r = run_ok(elf, ram_size=64 * 1024)
    assert r.text == "top=0x8000ffe0 sp_in_range=1\n"


def test_program_too_big_for_ram(build, outdir):
    src = outdir / "big.c"
    src.write_text("static volatile char big[200 * 1024];\n"
                   "int main(void) { big[sizeof big - 1] = 1; return big[sizeof big - 1] - 1; }\n")
    with pytest.raises(CompileError, match="does not fit in RAM"):
        compile([src], outdir / "big.elf")
    compile([src], outdir / "big.elf", ram_size=256 * 1024)     # fits in a larger RAM


# ---- libc subset ----------------------------------------------------------------

# (C format, C arguments, expected text)
PRINTF_CASES = [
    ("%d", "-42", "-42"),
    ("%i", "2147483647", "2147483647"),
    ("%d", "(-2147483647 - 1)", "-2147483648"),
    ("%u", "4294967295u", "4294967295"),
    ("%5d|%-5d|%05d", "42, 42, -42", "   42|42   |-0042"),
    ("%+d % d %+d", "5, 5, -5", "+5  5 -5"),
    ("%x %X %#x %#X", "0xdeadbeefu, 0xdeadbeefu, 255u, 255u", "deadbeef DEADBEEF 0xff 0XFF"),
    ("%08x|%#010x|%-8x|", "0xbeefu, 0xbeefu, 0xbeefu", "0000beef|0x0000beef|beef    |"),
    ("%o %#o", "8u, 8u", "10 010"),
    ("%.3d|%8.3d|%-8.3d|", "7, -7, 7", "007|    -007|007     |"),
    ("%.0d|%5.0d|", "0, 0", "|     |"),
    ("%#x", "0u", "0"),
    ("%lld", "(-9223372036854775807LL - 1)", "-9223372036854775808"),
    ("%llu", "18446744073709551615ULL", "18446744073709551615"),
    ("%llx %llX", "0x0123456789abcdefULL, 0xfedcba9876543210ULL", "123456789abcdef FEDCBA9876543210"),
    ("%020lld|%-20lld|", "-1234567890123LL, 1234567890123LL", "-0000001234567890123|1234567890123       |"),
    ("%ld %lu %lx", "-5L, 4000000000UL, 0xabcdefUL", "-5 4000000000 abcdef"),
    ("%hd %hu %hhd %hhu", "70000, 70000, 300, 300", "4464 4464 44 44"),
    ("%zu %zx", "(size_t)123, (size_t)255", "123 ff"),
    ("%c%c%3c|%-3c|", "'a', 'b', 'c', 'd'", "ab  c|d  |"),
    ("%s|%8s|%-8s|%.2s|%5.1s|", "\"x\", \"right\", \"left\", \"trunc\", \"abc\"", "x|   right|left    |tr|    a|"),
    ("%s", "(const char *)0", "(null)"),
    ("%*d|%-*d|%.*s", "6, 42, 6, 42, 3, \"abcdef\"", "    42|42    |abc"),
    ("%p %p", "(void *)0x1234, (void *)0x80000000", "0x00001234 0x80000000"),
    ("100%%", "0", "100%"),
]


def test_printf_formats(build):
    body = "\n".join(
        f'    n = snprintf(buf, sizeof buf, "{fmt}", {args}); printf("%s\\n", buf); (void)n;'
        for fmt, args, _ in PRINTF_CASES)
    elf = build(f"""
        #include <stddef.h>
        #include <stdio.h>
        int main(void) {{
            char buf[96];
            int n;
        {body}
            return 0;
        }}
        """, name="printf_formats", extra_flags=["-Wno-format", "-Wno-format-extra-args"])
    r = run_ok(elf)
    got = r.text.split("\n")[:-1]
    for (fmt, args, want), line in zip(PRINTF_CASES, got, strict=True):
        assert line == want, f"printf({fmt!r}, {args}) gave {line!r}, want {want!r}"


def test_snprintf_truncation_and_printf_return(build):
    elf = build("""
        #include <stdio.h>
        int main(void) {
            char buf[5] = "XXXX";
            int a = snprintf(buf, sizeof buf, "%d", 123456);
            int b = snprintf(NULL, 0, "%s-%d", "hello", 42);
            char one[1] = { 'Z' };
            int c = snprintf(one, 1, "abc");
            int d = printf("[%s]", buf);
            printf(" %d %d %d %d %d\\n", a, b, c, one[0], d);
            char s[32];
            int e = sprintf(s, "%04x:%s", 0xab, "ok");
            puts(s);
            printf("%d\\n", e);
            return 0;
        }
        """, name="snprintf")
    r = run_ok(elf)
    assert r.text == "[1234] 6 8 3 0 6\n00ab:ok\n7\n"


def test_string_functions(build):
    elf = build("""
        #include <stdint.h>
        #include <stdio.h>
        #include <string.h>
        #include <stdlib.h>
        struct big { uint32_t w[40]; };
        static struct big src, dst;
        static int fails;
        #define CHECK(c) do { if (!(c)) { printf("FAIL line %d: %s\\n", __LINE__, #c); fails++; } } while (0)
        int main(void) {
            char b[64];
            for (int i = 0; i < 64; i++) b[i] = (char)i;
            memmove(b + 3, b + 1, 20);                       /* overlap, dst above src */
            CHECK(b[3] == 1 && b[22] == 20 && b[2] == 2);
            memmove(b + 1, b + 5, 20);                       /* overlap, dst below src */
            CHECK(b[1] == 3 && b[18] == 20 && b[20] == 24);
            for (int off = 0; off < 4; off++)                 /* every alignment */
                for (int len = 0; len < 24; len++) {
                    char s[40], d[40];
                    for (int i = 0; i < 40; i++) { s[i] = (char)(i * 7 + 1); d[i] = 0; }
                    memcpy(d + off, s + (3 - off), len);
                    CHECK(memcmp(d + off, s + (3 - off), len) == 0);
                    CHECK(d[off + len] == 0);
                    memset(d + off, 0xA5, len);
                    for (int i = 0; i < len; i++) CHECK((unsigned char)d[off + i] == 0xA5);
                    CHECK(d[off + len] == 0);
                }
            for (int i = 0; i < 40; i++) src.w[i] = i * 3u;
            dst = src;                                        /* the compiler calls memcpy */
            CHECK(dst.w[39] == 117);
            CHECK(memcmp("abc", "abd", 3) < 0 && memcmp("abd", "abc", 3) > 0);
            CHECK(memcmp("\\xff", "\\x01", 1) > 0);           /* compares unsigned bytes */
            CHECK(strlen("") == 0 && strlen("gluon") == 5);
            CHECK(strcmp("a", "b") < 0 && strcmp("b", "a") > 0 && strcmp("same", "same") == 0);
            CHECK(strcmp("ab", "abc") < 0);
            CHECK(strncmp("abcX", "abcY", 3) == 0 && strncmp("abcX", "abcY", 4) < 0);
            char c[8];
            CHECK(strcmp(strcpy(c, "copy"), "copy") == 0);
            const char *h = "hello";
            CHECK(strchr(h, 'l') == h + 2 && strchr(h, 0) == h + 5 && strchr(h, 'z') == NULL);
            CHECK(abs(-5) == 5 && labs(-6L) == 6 && llabs(-7LL) == 7 && atoi("  -123x") == -123);
            printf("fails=%d\\n", fails);
            return fails;
        }
        """, name="strings")
    r = run_ok(elf)
    assert r.text == "fails=0\n"


INT64_PAIRS = [
    (1234567890123456789, 1000000007), (-1234567890123456789, 1000000007),
    (1234567890123456789, -3), (-(2**63), -1), (2**64 - 1, 10), (2**64 - 1, 2**63 + 5),
    (7, 0), (-7, 0), (2**40, 2**40 + 1), (12345, 67),
]


def c_div(a, b):
    """C semantics (truncation), with RISC-V's results for division by zero."""
    if b == 0:
        return -1, a
    q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    return q, a - b * q


def test_int64_division_helpers(build):
    lines = []
    for a, b in INT64_PAIRS:
        if a >= 2**63 or b >= 2**63:
            lines.append(f'    u(0x{a:x}ULL, 0x{b:x}ULL);')
        else:
            lines.append(f'    s({a}LL, {b}LL);' if a != -(2**63) else f'    s(-9223372036854775807LL - 1, {b}LL);')
    elf = build("""
        #include <stdint.h>
        #include <stdio.h>
        /* volatile operands: the divisions happen at run time, in the helpers */
        static void s(volatile int64_t a, volatile int64_t b) {
            printf("%lld %lld\\n", (long long)(b ? a / b : -1), (long long)(b ? a % b : a));
        }
        static void u(volatile uint64_t a, volatile uint64_t b) {
            printf("%llu %llu\\n", (unsigned long long)(a / b), (unsigned long long)(a % b));
        }
        int main(void) {
        """ + "\n".join(lines) + """
            volatile uint64_t z = 0, n = 99;
            extern uint64_t __udivdi3(uint64_t, uint64_t);
            extern uint64_t __umoddi3(uint64_t, uint64_t);
            printf("%llx %llu\\n", __udivdi3(n, z), __umoddi3(n, z));
            return 0;
        }
        """, name="int64")
    want = []
    for a, b in INT64_PAIRS:
        if a >= 2**63 or b >= 2**63:
            want.append(f"{a // b} {a % b}")
        elif b == 0:
            want.append(f"-1 {a}")
        else:
            q, rem = c_div(a, b)
            if (a, b) == (-(2**63), -1):
                q = -(2**63)                        # wraps, as on the hardware
            want.append(f"{q} {rem}")
    want.append("ffffffffffffffff 99")
    r = run_ok(elf)
    assert r.text.splitlines() == want


# ---- SDK: CSRs, UART, timer, traps -----------------------------------------------

def test_csr_macros(build):
    elf = build("""
        #include <stdio.h>
        #include <gluon/sdk.h>
        int main(void) {
            write_csr(mscratch, 0x12345678);
            uint32_t a = read_csr(mscratch);
            uint32_t old = set_csr(mscratch, 0x80000001u);
            uint32_t b = read_csr(mscratch);
            clear_csr(mscratch, 0x12000000u);
            uint32_t c = swap_csr(mscratch, 5);       /* small constant: csrrwi */
            uint32_t d = read_csr(mscratch);
            uint64_t i0 = gluon_rdinstret(), c0 = gluon_rdcycle();
            printf("%08x %08x %08x %08x %08x %d\\n", (unsigned)a, (unsigned)old, (unsigned)b,
                   (unsigned)c, (unsigned)d, (int)(i0 != 0 || c0 != 0));
            return 0;
        }
        """, name="csr")
    r = run_ok(elf)
    assert r.text == "12345678 12345678 92345679 80345679 00000005 1\n"


def test_uart_input(build):
    elf = build("""
        #include <stdio.h>
        #include <gluon/sdk.h>
        int main(void) {
            int c;
            while ((c = getchar()) != '\\n')
                putchar(c >= 'a' && c <= 'z' ? c - 32 : c);
            printf("|%d\\n", gluon_uart_try_getc());
            return 0;
        }
        """, name="uart_echo")
    r = run_ok(elf, uart_input=b"gluon 1!\n")
    assert r.text == "GLUON 1!|-1\n"


def test_timer_delay(build):
    elf = build("""
        #include <stdio.h>
        #include <gluon/sdk.h>
        int main(void) {
            uint64_t t0 = gluon_mtime();
            gluon_delay_us(100);
            uint64_t dt = gluon_mtime() - t0;
            uint64_t want = 100ull * gluon_timer_hz() / 1000000u;
            printf("%s\\n", dt >= want && dt < want + 3000 ? "ok" : "bad");
            gluon_set_mtimecmp(0x123456789ull);
            printf("%08x %08x\\n", (unsigned)GLUON_CLINT_MTIMECMPH, (unsigned)GLUON_CLINT_MTIMECMP);
            return 0;
        }
        """, name="timer")
    r = run_ok(elf)
    assert r.text == "ok\n00000001 23456789\n"


def test_default_trap_handler(build):
    elf = build("""
        int main(void) {
            __asm__ volatile(".globl bad_insn\\nbad_insn: .word 0xffffffff");
            return 0;
        }
        """, name="trap_default")
    bad = symbols(elf)["bad_insn"][0]
    r = run_elf(elf)
    assert (r.reason, r.tohost, r.exit_code) == ("tohost", 0x1FF, 255)
    assert r.text == (f"\n*** trap: mcause=0x00000002 (illegal instruction) "
                      f"mepc=0x{bad:08x} mtval=0xffffffff\n")


def test_trap_handler_hook(build):
    """A program's own gluon_trap_handler replaces the weak default: it can
    change saved registers and resume after the trapping instruction."""
    elf = build("""
        #include <stdio.h>
        #include <gluon/sdk.h>
        static int ecalls, breaks;
        void gluon_trap_handler(uint32_t mcause, uint32_t mepc, uint32_t mtval) {
            if (mcause == GLUON_MCAUSE_ECALL_M) {
                ecalls++;
                gluon_trap_regs[10] = gluon_trap_regs[17] * 2;    /* a0 = a7 * 2 */
            } else if (mcause == GLUON_MCAUSE_BREAKPOINT) {
                breaks++;
            } else {
                gluon_trap_default(mcause, mepc, mtval);
            }
            write_csr(mepc, mepc + 4);         /* resume after the trap, the usual RISC-V way */
        }
        static uint32_t syscall(uint32_t n) {
            register uint32_t a7 __asm__("a7") = n;
            register uint32_t a0 __asm__("a0");
            __asm__ volatile("ecall" : "=r"(a0) : "r"(a7) : "memory");
            return a0;
        }
        int main(void) {
            uint32_t x = syscall(21);
            __asm__ volatile("ebreak");
            uint32_t y = syscall(50);
            printf("%u %u ecalls=%d breaks=%d regs=%p\\n", (unsigned)x, (unsigned)y, ecalls, breaks,
                   (void *)gluon_trap_regs);
            return 0;
        }
        """, name="trap_hook")
    r = run_ok(elf)
    assert r.text == "42 100 ecalls=2 breaks=1 regs=0x00000000\n"
    assert r.traps == 3


# ---- refsim ------------------------------------------------------------------------

def test_refsim_max_instructions(build):
    elf = build("int main(void) { for (;;) __asm__ volatile(\"\"); }\n", name="forever")
    r = run_elf(elf, max_instructions=50_000)
    assert (r.reason, r.tohost, r.instructions) == ("max_instructions", None, 50_000)


def test_refsim_unmapped_access(build):
    elf = build("""
        #include <stdint.h>
        int main(void) { return *(volatile uint32_t *)0x40000000u; }
        """, name="unmapped")
    r = run_elf(elf)
    assert r.reason == "error" and "UNMAPPED" in r.error and r.tohost is None


def test_refsim_bad_inputs(outdir):
    with pytest.raises(RefSimError, match="not found"):
        run_elf(outdir / "missing.elf")
    with pytest.raises(ValueError):
        run_elf(outdir / "missing.elf", max_instructions=0)
    not_elf = outdir / "not_elf.c"
    not_elf.write_text("int main(void) { return 0; }\n")
    with pytest.raises(RefSimError, match="not a valid ELF"):
        run_elf(not_elf)


# ---- compile errors and the CLI -------------------------------------------------------

def test_missing_source_file(outdir):
    with pytest.raises(CompileError, match="source file not found: .*nope.c"):
        compile([outdir / "nope.c"], outdir / "nope.elf")


def test_bad_options(outdir):
    src = outdir / "ok.c"
    src.write_text("int main(void) { return 0; }\n")
    with pytest.raises(CompileError, match="optimisation level"):
        compile([src], outdir / "ok.elf", opt="-O9")
    with pytest.raises(CompileError, match="ram_size"):
        compile([src], outdir / "ok.elf", ram_size=1000)
    with pytest.raises(CompileError, match="unsupported file type"):
        compile([outdir / "ok.c", Path(cc.__file__)], outdir / "ok.elf")


def test_compiler_error_is_shown(outdir):
    src = outdir / "broken.c"
    src.write_text("int main(void) { return undeclared_thing; }\n")
    with pytest.raises(CompileError) as info:
        compile([src], outdir / "broken.elf")
    assert "undeclared_thing" in str(info.value) and "broken.c" in str(info.value)


def test_cli(outdir, capsys):
    inc = outdir / "inc"
    inc.mkdir(exist_ok=True)
    (inc / "greeting.h").write_text("#define WHO \"CLI\"\n")
    src = outdir / "cli_main.c"
    src.write_text('#include <stdio.h>\n#include "greeting.h"\n'
                   'int main(void) { printf("%s %d\\n", WHO, TIMES); return 0; }\n')
    out = outdir / "cli.elf"
    assert cc.main(["-Os", "-o", str(out), "-I", str(inc), "-D", "TIMES=3", "-Wall",
                    "--ram-size", "64K", str(src)]) == 0
    r = run_ok(out, ram_size=64 * 1024)
    assert r.text == "CLI 3\n"
    assert symbols(out)["__stack_top"][0] == RAM_BASE + 64 * 1024 - 32

    capsys.readouterr()
    assert cc.main([str(outdir / "does_not_exist.c")]) != 0
    err = capsys.readouterr().err
    assert "source file not found" in err and "does_not_exist.c" in err and "Traceback" not in err

    assert cc.main(["-O7", str(src)]) != 0
    assert "invalid choice" in capsys.readouterr().err
