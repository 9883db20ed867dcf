/* boot.c: the UART boot loader of the board firmware (`gluon build --firmware boot`).
 *
 * It lives in the top BOOT_SIZE bytes of RAM (boards/fw/boot.ld) and loads programs into the
 * RAM below it over the UART, so new firmware runs without a new bitstream:
 * `gluon load --port /dev/ttyUSB1 app.elf`. The protocol (boards/boot.py implements the host
 * side; docs/fpga.md describes it), all numbers little-endian:
 *
 *   "GLB" 'P'                                  -> 'K' boot_base:u32 ram_size:u32
 *   "GLB" 'W' addr:u32 len:u32 data[len] crc:u32 -> 'K' | 'E' code   (crc = CRC-32 of data)
 *   "GLB" 'G' entry:u32                        -> 'K' and jump to entry | 'E' code
 *
 * Error codes: 'A' address range (data outside [RAM base, boot_base), entry not a word in it),
 * 'C' CRC mismatch (nothing is trusted: load again), 'T' a frame stopped for 0.25 s (a lost
 * byte). Bytes outside a frame are ignored, so a host can always resynchronise with "GLB".
 * The block of a 'W' frame is written as it arrives; a program runs only when the host sends
 * 'G' after every block was acknowledged.
 */
#include <stdint.h>

#include "gluon/regs.h"

extern char __boot_base[];

__attribute__((noinline)) static void put(uint8_t c)
{
    while (!(GLUON_UART_STATUS & GLUON_UART_STATUS_TX_READY_MASK))
        ;
    GLUON_UART_TXDATA = c;
}

__attribute__((noinline)) static void put32(uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        put((uint8_t)v);
}

static void puts_(const char *s)
{
    while (*s)
        put((uint8_t)*s++);
}

static void puthex(uint32_t v)
{
    for (int i = 28; i >= 0; i -= 4)
        put((uint8_t)"0123456789abcdef"[(v >> i) & 15]);
}

/* One received byte; -1 after `timeout` cycles without one (0: wait for ever). */
__attribute__((noinline)) static int get(uint32_t timeout)
{
    uint32_t t0 = GLUON_CLINT_MTIME;
    for (;;) {
        int32_t r = (int32_t)GLUON_UART_RXDATA;      /* VALID is bit 31 */
        if (r < 0)
            return r & 0xff;
        if (timeout && GLUON_CLINT_MTIME - t0 >= timeout)
            return -1;
    }
}

__attribute__((noinline)) static int get32(uint32_t timeout, uint32_t *v)
{
    uint32_t x = 0;
    for (int i = 0; i < 32; i += 8) {
        int c = get(timeout);
        if (c < 0)
            return -1;
        x |= (uint32_t)c << i;
    }
    *v = x;
    return 0;
}

__attribute__((noinline)) static uint32_t crc32_byte(uint32_t crc, uint8_t b)
{
    crc ^= b;
    for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1u));
    return crc;
}

static int in_ram(uint32_t addr, uint32_t len)
{
    uint32_t lo = GLUON_SYSINFO_RAM_BASE, hi = (uint32_t)__boot_base;
    return addr >= lo && addr <= hi && len <= hi - addr;
}

uint32_t main(void)
{
    const uint32_t timeout = GLUON_SYSINFO_CLK_HZ / 4u;
    const uint32_t boot_base = (uint32_t)__boot_base;
    puts_("\r\nGluon boot loader: load below 0x");
    puthex(boot_base);
    puts_("\r\n");
    for (;;) {
        /* "GLB" then the command; anything else is skipped */
        if (get(0) != 'G' || get(timeout) != 'L' || get(timeout) != 'B')
            continue;
        int cmd = get(timeout);
        uint32_t addr, len, crc_in, crc = 0xFFFFFFFFu;
        char err = 0;
        if (cmd == 'P') {
            put('K');
            put32(boot_base);
            put32(GLUON_SYSINFO_RAM_SIZE);
            continue;
        }
        if (cmd == 'W') {
            if (get32(timeout, &addr) || get32(timeout, &len)) {
                err = 'T';
            } else {
                int ok = in_ram(addr, len);
                for (uint32_t i = 0; i < len && !err; i++) {
                    int c = get(timeout);
                    if (c < 0)
                        err = 'T';
                    crc = crc32_byte(crc, (uint8_t)c);
                    if (ok)
                        ((volatile uint8_t *)addr)[i] = (uint8_t)c;
                }
                if (!err && get32(timeout, &crc_in))
                    err = 'T';
                else if (!err && !ok)
                    err = 'A';
                else if (!err && (crc ^ 0xFFFFFFFFu) != crc_in)
                    err = 'C';
            }
        } else if (cmd == 'G') {
            if (get32(timeout, &addr))
                err = 'T';
            else if ((addr & 3u) || !in_ram(addr, 4))
                err = 'A';
        } else {
            continue;
        }
        if (err) {
            put('E');
            put((uint8_t)err);
        } else {
            put('K');
            if (cmd == 'G') {
                while (!(GLUON_UART_STATUS & GLUON_UART_STATUS_TX_EMPTY_MASK))
                    ;
                return addr;
            }
        }
    }
}
