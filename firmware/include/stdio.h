/* Gluon libc subset: formatted output on the UART.
 *
 * Conversions: %d %i %u %o %x %X %p %s %c %%, flags - 0 + space #, width
 * and precision (numbers or *), length modifiers hh h l ll z j t.
 * No floating point.  %p prints 0x and 8 hex digits.
 */
#ifndef GLUON_STDIO_H
#define GLUON_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef EOF
#define EOF (-1)
#endif

int putchar(int c);
int puts(const char *s);             /* writes s and a newline */
int getchar(void);                   /* waits for a UART byte */

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
int sprintf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#ifdef __cplusplus
}
#endif

#endif /* GLUON_STDIO_H */
