/* echo.c: the default firmware for boards whose RAM is too small for the SDK (iCEBreaker).
 *
 * Prints "Gluon <clock> Hz, <RAM> KiB RAM" from SYSINFO, then echoes every byte received on
 * the UART (CR also sends LF). A 'q' ends the program with exit code 0 (tohost = 1), which
 * the board shows on its LEDs. Bare metal: register header only, no SDK runtime.
 */
#include <stdint.h>

#include "gluon/regs.h"

static void putc_(char c)
{
    while (!(GLUON_UART_STATUS & GLUON_UART_STATUS_TX_READY_MASK))
        ;
    GLUON_UART_TXDATA = (uint8_t)c;
}

static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void putu(uint32_t v)
{
    char buf[11];
    int i = 0;
    do {
        uint32_t q = v / 10u;
        buf[i++] = (char)('0' + (v - q * 10u));
        v = q;
    } while (v);
    while (i)
        putc_(buf[--i]);
}

int main(void)
{
    puts_("\r\nGluon ");
    putu(GLUON_SYSINFO_CLK_HZ);
    puts_(" Hz, ");
    putu(GLUON_SYSINFO_RAM_SIZE / 1024u);
    puts_(" KiB RAM. Echo; 'q' ends.\r\n");
    for (;;) {
        while (!(GLUON_UART_STATUS & GLUON_UART_STATUS_RX_VALID_MASK))
            ;
        char c = (char)(GLUON_UART_RXDATA & GLUON_UART_RXDATA_DATA_MASK);
        if (c == 'q') {
            puts_("\r\nbye\r\n");
            return 0;
        }
        putc_(c);
        if (c == '\r')
            putc_('\n');
    }
}
