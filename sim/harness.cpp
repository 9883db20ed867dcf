// Gluon simulation harness: drives the Verilator model of sim/simtop.py with no Python in the
// per-cycle loop. Built and run by gluon.sim.verilator (`gluon sim`); not meant to be run by hand.
//
//   Vsim --image FILE [--tohost ADDR] [--max-cycles N] [--stats FILE] [--insn-trace FILE]
//        [--wave FILE [--period-ps P] [--wave-from C] [--wave-to C]] [--progress-fd FD]
//        [--dump ADDR:LEN:FILE]... [--quiet]
//        [--dmi IN_FD:OUT_FD [--halt-at-start]]
//
// The image file holds segments: repeated { u32 addr, u32 nbytes, nbytes of data } (little
// endian). They are written into RAM through the SoC's debug port while `hold` keeps the core
// in reset; then the core runs until a store to `tohost`, a write to SIMCTRL.EXIT, or the cycle
// limit. UART bytes go to stdout as they are written. The stats file is JSON.
//
// --dmi: Debug Module Interface accesses from sim/gdbserver.py, one text line each on IN_FD:
// "r AA" or "w AA VVVVVVVV" (hex); the answer, "VVVVVVVV" (the register's value before the
// access), goes to OUT_FD. The pipe is looked at once every 1024 cycles while the hart runs (a
// poll() with no wait: no measurable cost), and each access goes through the model's DMI
// handshake inside the ordinary cycle loop, so UART output and the stop conditions are never
// missed. While the hart is halted and no access is pending, the harness waits on the pipe
// without clocking the model: simulated time stands still. --halt-at-start sets haltreq before
// the core leaves reset, so it halts at the reset vector. End of file on IN_FD ends the run.
// --progress-fd: about twice a second, a line "cycles last_pc" on that file descriptor (the
// caller shows it). SIGINT/SIGTERM end the run at the next check (every 65,536 cycles) with
// reason "interrupted" and the stats written as usual, so the caller can say where it stopped.
// Waveforms: the time axis is in picoseconds with the SoC's real clock period (--period-ps),
// and only cycles in [--wave-from, --wave-to) are dumped.
// Port names: Amaranth joins interface members with "__", which Verilator spells "___05F".

#include "Vsimtop.h"
#include "verilated.h"
#ifdef GLUON_TRACE_FST
#include "verilated_fst_c.h"
typedef VerilatedFstC Wave;
#define GLUON_TRACE
#elif defined(GLUON_TRACE_VCD)
#include "verilated_vcd_c.h"
typedef VerilatedVcdC Wave;
#define GLUON_TRACE
#endif

#include <poll.h>

#include <chrono>
#include <csignal>
#include <unistd.h>
#include <cinttypes>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

// Cycle attribution, for the whole run and for the region firmware marks with PERF.CTRL.ENABLE
// (the same signal the hardware counters use).
struct Counts {
    uint64_t cycles = 0, instret = 0, busy = 0, core_bus = 0;
    uint64_t busy_slot[16] = {0}, dma_slot[16] = {0};
};

static void json_counts(FILE *f, const char *name, const Counts &c) {
    fprintf(f, "\"%s\": {\"cycles\": %" PRIu64 ", \"instret\": %" PRIu64 ", \"busy_cycles\": %" PRIu64
               ", \"core_bus_cycles\": %" PRIu64 ", \"busy_per_slot\": [", name, c.cycles, c.instret, c.busy, c.core_bus);
    for (int i = 0; i < 16; i++) fprintf(f, "%s%" PRIu64, i ? ", " : "", c.busy_slot[i]);
    fprintf(f, "], \"dma_per_slot\": [");
    for (int i = 0; i < 16; i++) fprintf(f, "%s%" PRIu64, i ? ", " : "", c.dma_slot[i]);
    fprintf(f, "]}");
}

struct Dump { uint32_t addr, len; std::string file; };

static Vsimtop *top;
static uint64_t sim_time = 0;             // picoseconds
static uint64_t period_ps = 10;           // clock period on the waveform's time axis
#ifdef GLUON_TRACE
static Wave *wave = nullptr;
static bool dumping = false;               // inside the --wave-from/--wave-to window
#endif
static volatile sig_atomic_t stop_signal = 0;
static void on_signal(int sig) { stop_signal = sig; }

// The model's own evaluation function. Vsimtop::eval() wraps it with bookkeeping this
// single-threaded harness does not need (a deferred-delete list and a cross-thread message
// queue, each behind a mutex: ~10 % of the minimal SoC's instructions), so once the model is
// initialised by a first eval() the cycle loop calls it directly. Traced models keep eval().
// This assumes a model built without --threads (sim/verilator.py builds none).
void Vsimtop___024root___eval(Vsimtop___024root *vlSelf);

static void half(int clk) {
    top->clk = clk;
#ifdef GLUON_TRACE
    top->eval();
    if (dumping) wave->dump(sim_time);
#else
    Vsimtop___024root___eval(top->rootp);
#endif
    sim_time += clk ? period_ps / 2 : period_ps - period_ps / 2;
}

// One full clock cycle; outputs sampled by the caller before calling this reflect the cycle.
static inline void tick() { half(1); half(0); }

static void die(const char *msg) { fprintf(stderr, "gluon-harness: %s\n", msg); exit(70); }

// One request on the debug port (4-phase handshake, see sim/simtop.py); returns the read data.
// Errors are fatal (a loader bug: the image was checked against RAM before).
static uint32_t debug_xfer(uint32_t byte_addr, bool we, uint32_t data, uint32_t sel) {
    top->dbg_we = we; top->dbg_adr = byte_addr >> 2; top->dbg_wdata = data; top->dbg_sel = sel;
    top->dbg_req = 1;
    int guard = 0;
    do { tick(); if (++guard > 1000) die("debug port: no response"); } while (!top->dbg_done);
    if (top->dbg_err) {
        char buf[96]; snprintf(buf, sizeof buf, "bus error at address 0x%08x", byte_addr); die(buf);
    }
    uint32_t r = top->dbg_rdata;
    top->dbg_req = 0;
    guard = 0;
    do { tick(); if (++guard > 1000) die("debug port: stuck"); } while (top->dbg_done);
    return r;
}

// The debugger's pipe: lines in, lines out (see the top of this file).
struct DmiPipe {
    int in = -1, out = -1;
    std::string buf;
    bool eof = false;
    // A complete request line if one is there; waits up to timeout_ms for one.
    bool next(std::string &line, int timeout_ms) {
        for (;;) {
            size_t nl = buf.find('\n');
            if (nl != std::string::npos) { line = buf.substr(0, nl); buf.erase(0, nl + 1); return true; }
            if (eof) return false;
            pollfd p = {in, POLLIN, 0};
            if (poll(&p, 1, timeout_ms) <= 0) return false;
            char tmp[4096];
            ssize_t n = read(in, tmp, sizeof tmp);
            if (n <= 0) { eof = true; return false; }
            buf.append(tmp, n);
            timeout_ms = 0;
        }
    }
    void reply(uint32_t v) {
        char s[16]; int n = snprintf(s, sizeof s, "%08x\n", v);
        if (write(out, s, n) != n) eof = true;
    }
};

// Start one DMI access from a request line; false if the line is not one.
static bool dmi_start(const std::string &line) {
    unsigned addr = 0, data = 0;
    if (line.size() >= 3 && line[0] == 'r' && sscanf(line.c_str() + 1, "%x", &addr) == 1) {
        top->dmi_we = 0;
    } else if (line.size() >= 3 && line[0] == 'w' && sscanf(line.c_str() + 1, "%x %x", &addr, &data) == 2) {
        top->dmi_we = 1;
    } else return false;
    top->dmi_addr = addr; top->dmi_wdata = data; top->dmi_req = 1;
    return true;
}

int main(int argc, char **argv) {
    const char *image = nullptr, *stats = nullptr, *itrace = nullptr, *fstfile = nullptr;
    const char *pcfile = nullptr;
    uint64_t pc_every = 0;
    uint32_t tohost = 0;
    uint64_t max_cycles = 100000000ULL;
    uint64_t wave_from = 0, wave_to = UINT64_MAX;
    int progress_fd = -1;
    bool quiet = false;
    DmiPipe dmi;
    bool halt_at_start = false;
    std::vector<Dump> dumps;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto next = [&]() -> const char * { if (i + 1 >= argc) die("missing option value"); return argv[++i]; };
        if (a == "--image") image = next();
        else if (a == "--tohost") tohost = (uint32_t)strtoul(next(), nullptr, 0);
        else if (a == "--max-cycles") max_cycles = strtoull(next(), nullptr, 0);
        else if (a == "--stats") stats = next();
        else if (a == "--insn-trace") itrace = next();
        else if (a == "--wave") fstfile = next();
        else if (a == "--period-ps") period_ps = strtoull(next(), nullptr, 0);
        else if (a == "--wave-from") wave_from = strtoull(next(), nullptr, 0);
        else if (a == "--wave-to") wave_to = strtoull(next(), nullptr, 0);
        else if (a == "--progress-fd") progress_fd = atoi(next());
        else if (a == "--quiet") quiet = true;
        else if (a == "--dmi") {
            if (sscanf(next(), "%d:%d", &dmi.in, &dmi.out) != 2) die("--dmi wants IN_FD:OUT_FD");
        }
        else if (a == "--halt-at-start") halt_at_start = true;
        else if (a == "--pc-sample") { pc_every = strtoull(next(), nullptr, 0); pcfile = next(); }
        else if (a == "--dump") {
            std::string s = next();
            size_t p1 = s.find(':'), p2 = s.find(':', p1 + 1);
            if (p1 == std::string::npos || p2 == std::string::npos) die("--dump wants ADDR:LEN:FILE");
            dumps.push_back({(uint32_t)strtoul(s.substr(0, p1).c_str(), nullptr, 0),
                             (uint32_t)strtoul(s.substr(p1 + 1, p2 - p1 - 1).c_str(), nullptr, 0),
                             s.substr(p2 + 1)});
        } else if (a.rfind("+verilator", 0) == 0) {
        } else { fprintf(stderr, "gluon-harness: unknown option %s\n", a.c_str()); return 64; }
    }
    if (!image) die("--image is required");
    if (period_ps < 2) die("--period-ps must be at least 2");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    Verilated::commandArgs(argc, argv);
    top = new Vsimtop;
#ifdef GLUON_TRACE
    if (fstfile) {
        Verilated::traceEverOn(true);
        wave = new Wave;
        top->trace(wave, 99);
        wave->open(fstfile);
    }
#else
    if (fstfile) die("this model was built without tracing");
#endif

    // Reset, then load with the core held.
    // The model resets itself (power-on counter) during its first cycles.
    // The clock starts high so that a falling edge comes before the first rising one: the
    // gated domains sample their enables and inputs on it (hdl/simgate.py).
    top->hold = 1; top->clk = 1; top->tohost_addr = tohost;
    top->dbg_req = 0; top->dmi_req = 0;
    top->eval();              // initialisation (static/initial/settle), then half() as usual
    half(0);
    for (int i = 0; i < 8; i++) tick();

    FILE *img = fopen(image, "rb");
    if (!img) die("cannot open image file");
    uint32_t hdr[2];
    while (fread(hdr, 4, 2, img) == 2) {
        uint32_t addr = hdr[0], n = hdr[1];
        std::vector<uint8_t> buf(n);
        if (n && fread(buf.data(), 1, n, img) != n) die("truncated image file");
        uint32_t a = addr, end = addr + n;
        while (a < end) {
            uint32_t word_addr = a & ~3u, word = 0, sel = 0;
            for (int b = 0; b < 4; b++) {
                uint32_t ba = word_addr + b;
                if (ba >= a && ba < end) { word |= (uint32_t)buf[ba - addr] << (8 * b); sel |= 1u << b; }
            }
            debug_xfer(word_addr, true, word, sel);
            a = word_addr + 4;
        }
    }
    fclose(img);

    FILE *tr = nullptr;
    if (itrace) { tr = fopen(itrace, "w"); if (!tr) die("cannot open instruction trace file"); }

    if (halt_at_start) {
        // dmcontrol = haltreq | dmactive, through the same handshake (the Debug Module is not
        // held in reset by hold)
        top->dmi_we = 1; top->dmi_addr = 0x10; top->dmi_wdata = 0x80000001u; top->dmi_req = 1;
        int guard = 0;
        do { tick(); if (++guard > 1000) die("DMI: no response (no Debug Module in this configuration?)"); } while (!top->dmi_done);
        top->dmi_req = 0;
        do { tick(); } while (top->dmi_done);
    }
    const bool dmi_on = dmi.in >= 0;
    int dmi_state = 0;                 // 0 idle, 1 waiting for dmi_done, 2 for its fall

    // Run (hold is registered in the model: the core starts one cycle after this tick).
    top->hold = 0; tick();
    uint64_t cycles = 0, instret = 0, tohost_refused = 0;
    uint32_t result = 0, last_pc = 0x80000000u;
    const char *reason = "max-cycles";
    Counts all, region;
    bool region_seen = false;
    std::map<uint32_t, uint64_t> pc_hist;
    auto t0 = std::chrono::steady_clock::now();
    timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
#ifdef GLUON_TRACE
    // Loading is not part of the program's run: the window counts from its first cycle.
    sim_time = 0;
    auto wave_window = [&](uint64_t c) { dumping = wave && c >= wave_from && c < wave_to; };
    wave_window(0);
#endif
    auto last_report = t0;
    while (cycles < max_cycles) {
        // The debugger's accesses first: a cycle skipped while halted is not sampled below.
        if (dmi_on) {
            if (dmi_state == 1 && top->dmi_done) {
                dmi.reply(top->dmi_rdata); top->dmi_req = 0; dmi_state = 2;
            } else if (dmi_state == 2 && !top->dmi_done) {
                dmi_state = 0;
            }
            if (dmi_state == 0 && (top->halted || (cycles & 1023) == 0)) {
                std::string line;
                bool idle_halted = top->halted && !top->exit_stb && !top->tohost_stb;
                if (dmi.next(line, idle_halted ? 100 : 0)) {
                    if (dmi_start(line)) dmi_state = 1;
                } else if (dmi.eof) {
                    reason = "detached"; break;
                } else if (idle_halted) {
                    if (stop_signal) { reason = "interrupted"; break; }
                    continue;          // halted, nothing asked: no clock
                }
            }
        }
        if ((cycles & 0xFFFF) == 0 && cycles) {
            if (stop_signal) { reason = "interrupted"; break; }
            if (progress_fd >= 0) {
                auto now = std::chrono::steady_clock::now();
                if (now - last_report >= std::chrono::milliseconds(500)) {
                    char buf[64];
                    int n = snprintf(buf, sizeof buf, "%" PRIu64 " %08x\n", cycles, last_pc);
                    if (write(progress_fd, buf, n) < 0) progress_fd = -1;
                    last_report = now;
                }
            }
        }
#ifdef GLUON_TRACE
        if (cycles == wave_from || cycles == wave_to) wave_window(cycles);
#endif
        // Sample this cycle's combinational outputs, then clock.
        if (top->uart_tx_stb) {
            fputc(top->uart_tx_byte, stdout);
            if (top->uart_tx_byte == '\n') fflush(stdout);
        }
        bool retire = top->trace___05Fvalid;
        if (retire) {
            instret++;
            last_pc = top->trace___05Fpc;
            if (tr) fprintf(tr, "%" PRIu64 " %08x %08x %d %d %08x\n", cycles, top->trace___05Fpc,
                            top->trace___05Finsn, top->trace___05Frd_we, top->trace___05Frd, top->trace___05Frd_data);
        }
        uint32_t busy = top->copro_busy, dma = top->dma_req;
        bool en = top->perf_enable;
        region_seen |= en;
        bool core_bus = top->core_bus;
        for (Counts *c : {&all, en ? &region : nullptr}) {
            if (!c) continue;
            c->cycles++;
            c->instret += retire;
            c->core_bus += core_bus;
            if (busy | dma) {                      // the per-slot loop only when a slot is active
                c->busy += busy != 0;
                for (int i = 0; i < 16; i++) { c->busy_slot[i] += busy >> i & 1; c->dma_slot[i] += dma >> i & 1; }
            }
        }
        if (pc_every && cycles % pc_every == 0) pc_hist[last_pc]++;
        bool stop = false;
        if (top->tohost_refused) {          // a U-mode store: the run's end is M-mode's
            fprintf(stderr, "gluon-harness: ignored a store of 0x%08x to tohost made with effective "
                            "privilege U (cycle %" PRIu64 ")\n", top->tohost_data, cycles);
            tohost_refused++;
        }
        if (top->tohost_stb) { result = top->tohost_data; reason = "tohost"; stop = true; }
        else if (top->exit_stb) { result = top->exit_code; reason = "simctrl"; stop = true; }
        tick();
        cycles++;
        if (stop) break;
    }
    auto t1 = std::chrono::steady_clock::now();
    double secs = std::chrono::duration<double>(t1 - t0).count();
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double cpu_secs = (c1.tv_sec - c0.tv_sec) + 1e-9 * (c1.tv_nsec - c0.tv_nsec);
    fflush(stdout);
    if (tr) fclose(tr);

    // Memory dumps (the core stays where it stopped; hold it so it cannot interfere).
    top->hold = 1; tick(); tick();
    for (auto &d : dumps) {
        FILE *f = fopen(d.file.c_str(), "wb");
        if (!f) die("cannot open dump file");
        for (uint32_t a = d.addr & ~3u; a < d.addr + d.len; a += 4) {
            uint32_t w = debug_xfer(a, false, 0, 0xF);
            for (int b = 0; b < 4; b++) if (a + b >= d.addr && a + b < d.addr + d.len) fputc(w >> (8 * b) & 0xFF, f);
        }
        fclose(f);
    }

    if (stats) {
        FILE *f = fopen(stats, "w");
        if (!f) die("cannot open stats file");
        fprintf(f, "{\"reason\": \"%s\", \"tohost\": %u, \"cycles\": %" PRIu64 ", \"instret\": %" PRIu64
                   ", \"seconds\": %.6f, \"cpu_seconds\": %.6f, \"last_pc\": %u, \"region_seen\": %s, "
                   "\"tohost_refused\": %" PRIu64 ", ",
                reason, result, cycles, instret, secs, cpu_secs, last_pc, region_seen ? "true" : "false",
                tohost_refused);
        json_counts(f, "all", all);
        fprintf(f, ", ");
        json_counts(f, "region", region);
        fprintf(f, "}\n");
        fclose(f);
    }
    if (pcfile) {
        FILE *f = fopen(pcfile, "w");
        if (!f) die("cannot open pc sample file");
        for (auto &kv : pc_hist) fprintf(f, "%08x %" PRIu64 "\n", kv.first, kv.second);
        fclose(f);
    }
#ifdef GLUON_TRACE
    if (wave) wave->close();
#endif
    top->final();
    delete top;
    (void)quiet;
    return 0;
}
