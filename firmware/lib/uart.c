/* Gluon UART driver: polled TX and RX through the status register. */
#include "gluon/sdk.h"

void gluon_uart_putc(char c)
{
    while (!(GLUON_UART_STATUS & GLUON_UART_STATUS_TX_READY_MASK))
        ;
    GLUON_UART_TXDATA = (uint8_t)c;
}

void gluon_uart_write(const char *s, size_t n)
{
    while (n--)
        gluon_uart_putc(*s++);
}

int gluon_uart_try_getc(void)
{
    if (!(GLUON_UART_STATUS & GLUON_UART_STATUS_RX_VALID_MASK))
        return -1;
    return (int)(GLUON_UART_RXDATA & 0xffu);
}

int gluon_uart_getc(void)
{
    int c;

    while ((c = gluon_uart_try_getc()) < 0)
        ;
    return c;
}
