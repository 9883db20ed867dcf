/* PROVISIONAL Gluon register map.
 *
 * This file will be replaced by one generated from the Python register
 * declarations (same names, same values).  Write code only against the names
 * below, never against the literal addresses.
 */
#ifndef GLUON_REGS_H
#define GLUON_REGS_H

#include <stdint.h>

#define GLUON_UART_BASE        0x10000000u
#define GLUON_UART_TXDATA      (*(volatile uint32_t *)(GLUON_UART_BASE + 0x00))  /* W: byte to send */
#define GLUON_UART_STATUS      (*(volatile uint32_t *)(GLUON_UART_BASE + 0x04))  /* R */
#define GLUON_UART_STATUS_TX_READY_SHIFT 0   /* 1: TX FIFO has room */
#define GLUON_UART_STATUS_TX_READY_MASK  0x1u
#define GLUON_UART_STATUS_RX_VALID_SHIFT 1   /* 1: RX FIFO not empty */
#define GLUON_UART_STATUS_RX_VALID_MASK  0x2u
#define GLUON_UART_RXDATA      (*(volatile uint32_t *)(GLUON_UART_BASE + 0x08))  /* R: pops one byte, bits 7:0 */
#define GLUON_CLINT_BASE       0x02000000u
#define GLUON_CLINT_MSIP       (*(volatile uint32_t *)(GLUON_CLINT_BASE + 0x0000))
#define GLUON_CLINT_MTIMECMP   (*(volatile uint32_t *)(GLUON_CLINT_BASE + 0x4000))
#define GLUON_CLINT_MTIMECMPH  (*(volatile uint32_t *)(GLUON_CLINT_BASE + 0x4004))
#define GLUON_CLINT_MTIME      (*(volatile uint32_t *)(GLUON_CLINT_BASE + 0xBFF8))
#define GLUON_CLINT_MTIMEH     (*(volatile uint32_t *)(GLUON_CLINT_BASE + 0xBFFC))
#define GLUON_SYSINFO_BASE     0x10001000u
#define GLUON_SYSINFO_ID       (*(volatile uint32_t *)(GLUON_SYSINFO_BASE + 0x00)) /* reads 0x474C554E "GLUN" */
#define GLUON_SYSINFO_CLK_HZ   (*(volatile uint32_t *)(GLUON_SYSINFO_BASE + 0x04))
#define GLUON_SYSINFO_RAM_BASE (*(volatile uint32_t *)(GLUON_SYSINFO_BASE + 0x08))
#define GLUON_SYSINFO_RAM_SIZE (*(volatile uint32_t *)(GLUON_SYSINFO_BASE + 0x0C))
#define GLUON_SYSINFO_COPROCS  (*(volatile uint32_t *)(GLUON_SYSINFO_BASE + 0x10)) /* bit0 HASH, bit1 MODMUL, bit2 MATMUL */
#define GLUON_SIMCTRL_BASE     0x10002000u
#define GLUON_SIMCTRL_EXIT     (*(volatile uint32_t *)(GLUON_SIMCTRL_BASE + 0x00)) /* W: end the simulation with this tohost-style value */

#endif /* GLUON_REGS_H */
