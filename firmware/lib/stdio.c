/* Gluon libc subset: printf family on a small formatter.
 *
 * One formatter (format_to) writes through a sink: the UART for printf, a
 * bounded buffer for snprintf.  Conversions follow C11 7.21.6.1 for the
 * supported subset; see stdio.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gluon/sdk.h"

struct sink {
    char *buf;      /* NULL: send to the UART */
    size_t size;    /* buffer size including the final NUL */
    size_t len;     /* characters produced so far (all of them, C semantics) */
};

static void emit(struct sink *o, char c)
{
    if (!o->buf)
        gluon_uart_putc(c);
    else if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void emit_repeat(struct sink *o, char c, int n)
{
    while (n-- > 0)
        emit(o, c);
}

enum {
    F_LEFT  = 1 << 0,   /* '-' */
    F_ZERO  = 1 << 1,   /* '0' */
    F_PLUS  = 1 << 2,   /* '+' */
    F_SPACE = 1 << 3,   /* ' ' */
    F_ALT   = 1 << 4,   /* '#' */
};

/* Digits of v in base, least significant first; returns the count. */
static int to_digits(char *out, uint64_t v, unsigned base, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;

    /* Stay in 32-bit arithmetic while the value fits: cheaper than the
     * 64-bit division helper. */
    while (v >> 32) {
        out[n++] = digits[v % base];
        v /= base;
    }
    uint32_t w = (uint32_t)v;
    do {
        out[n++] = digits[w % base];
        w /= base;
    } while (w);
    return n;
}

static void format_int(struct sink *o, uint64_t mag, int negative, unsigned base,
                       int upper, int flags, int width, int prec)
{
    char digits[24];
    int ndig = 0;
    char sign = 0;
    const char *prefix = "";
    int npre;

    /* C: a zero value with an explicit precision of 0 prints no digits. */
    if (!(mag == 0 && prec == 0))
        ndig = to_digits(digits, mag, base, upper);

    if (negative)
        sign = '-';
    else if (flags & F_PLUS)
        sign = '+';
    else if (flags & F_SPACE)
        sign = ' ';

    if ((flags & F_ALT) && mag != 0) {
        if (base == 16)
            prefix = upper ? "0X" : "0x";
        else if (base == 8 && prec <= ndig)
            prefix = "0";
    }
    npre = (int)(prefix[0] != 0) + (int)(prefix[0] && prefix[1]);

    int zeros = prec > ndig ? prec - ndig : 0;
    int body = (sign != 0) + npre + zeros + ndig;
    int pad = width > body ? width - body : 0;

    /* '0' pads between sign/prefix and digits, unless a precision is given. */
    if ((flags & F_ZERO) && !(flags & F_LEFT) && prec < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!(flags & F_LEFT))
        emit_repeat(o, ' ', pad);
    if (sign)
        emit(o, sign);
    for (const char *p = prefix; *p; p++)
        emit(o, *p);
    emit_repeat(o, '0', zeros);
    while (ndig)
        emit(o, digits[--ndig]);
    if (flags & F_LEFT)
        emit_repeat(o, ' ', pad);
}

static void format_str(struct sink *o, const char *s, int flags, int width, int prec)
{
    int n = 0;

    if (!s)
        s = "(null)";
    while (s[n] && (prec < 0 || n < prec))
        n++;
    int pad = width > n ? width - n : 0;
    if (!(flags & F_LEFT))
        emit_repeat(o, ' ', pad);
    for (int i = 0; i < n; i++)
        emit(o, s[i]);
    if (flags & F_LEFT)
        emit_repeat(o, ' ', pad);
}

enum length { L_INT, L_CHAR, L_SHORT, L_LONG, L_LLONG, L_SIZE, L_MAX, L_PTRDIFF };

static void format_to(struct sink *o, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(o, *fmt);
            continue;
        }
        const char *start = fmt++;

        int flags = 0;
        for (;; fmt++) {
            if (*fmt == '-') flags |= F_LEFT;
            else if (*fmt == '0') flags |= F_ZERO;
            else if (*fmt == '+') flags |= F_PLUS;
            else if (*fmt == ' ') flags |= F_SPACE;
            else if (*fmt == '#') flags |= F_ALT;
            else break;
        }

        int width = 0;
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                flags |= F_LEFT;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }

        int prec = -1;
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                if (prec < 0)
                    prec = -1;
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    prec = prec * 10 + (*fmt++ - '0');
            }
        }

        enum length len = L_INT;
        switch (*fmt) {
        case 'h':
            len = L_SHORT;
            if (*++fmt == 'h') { len = L_CHAR; fmt++; }
            break;
        case 'l':
            len = L_LONG;
            if (*++fmt == 'l') { len = L_LLONG; fmt++; }
            break;
        case 'z': len = L_SIZE; fmt++; break;
        case 'j': len = L_MAX; fmt++; break;
        case 't': len = L_PTRDIFF; fmt++; break;
        default: break;
        }

        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v;
            switch (len) {
            case L_LLONG: v = va_arg(ap, long long); break;
            case L_MAX:   v = va_arg(ap, intmax_t); break;
            case L_LONG:  v = va_arg(ap, long); break;
            case L_SIZE:  v = (int32_t)va_arg(ap, size_t); break;
            case L_PTRDIFF: v = va_arg(ap, ptrdiff_t); break;
            case L_SHORT: v = (short)va_arg(ap, int); break;
            case L_CHAR:  v = (signed char)va_arg(ap, int); break;
            default:      v = va_arg(ap, int); break;
            }
            uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
            format_int(o, mag, v < 0, 10, 0, flags, width, prec);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v;
            switch (len) {
            case L_LLONG: v = va_arg(ap, unsigned long long); break;
            case L_MAX:   v = va_arg(ap, uintmax_t); break;
            case L_LONG:  v = va_arg(ap, unsigned long); break;
            case L_SIZE:  v = va_arg(ap, size_t); break;
            case L_PTRDIFF: v = (uint32_t)va_arg(ap, ptrdiff_t); break;
            case L_SHORT: v = (unsigned short)va_arg(ap, unsigned); break;
            case L_CHAR:  v = (unsigned char)va_arg(ap, unsigned); break;
            default:      v = va_arg(ap, unsigned); break;
            }
            unsigned base = *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16;
            format_int(o, v, 0, base, *fmt == 'X', flags & ~(F_PLUS | F_SPACE),
                       width, prec);
            break;
        }
        case 'p': {
            uint32_t v = (uint32_t)(uintptr_t)va_arg(ap, void *);
            char text[11] = "0x";
            for (int i = 0; i < 8; i++)
                text[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xfu];
            text[10] = 0;
            format_str(o, text, flags, width, -1);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            int pad = width > 1 ? width - 1 : 0;
            if (!(flags & F_LEFT))
                emit_repeat(o, ' ', pad);
            emit(o, c);
            if (flags & F_LEFT)
                emit_repeat(o, ' ', pad);
            break;
        }
        case 's':
            format_str(o, va_arg(ap, const char *), flags, width, prec);
            break;
        case '%':
            emit(o, '%');
            break;
        default:
            /* Unknown or truncated conversion: print it as written. */
            for (const char *p = start; p <= fmt && *p; p++)
                emit(o, *p);
            if (!*fmt)
                return;
            break;
        }
    }
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    char dummy;
    struct sink o = { buf ? buf : &dummy, buf ? size : 0, 0 };

    format_to(&o, fmt, ap);
    if (o.size)
        o.buf[o.len < o.size ? o.len : o.size - 1] = 0;
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int sprintf(char *buf, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(buf, SIZE_MAX, fmt, ap);
    va_end(ap);
    return n;
}

int vprintf(const char *fmt, va_list ap)
{
    struct sink o = { NULL, 0, 0 };

    format_to(&o, fmt, ap);
    return (int)o.len;
}

int printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int putchar(int c)
{
    gluon_uart_putc((char)c);
    return (unsigned char)c;
}

int puts(const char *s)
{
    while (*s)
        gluon_uart_putc(*s++);
    gluon_uart_putc('\n');
    return 0;
}

int getchar(void)
{
    return gluon_uart_getc();
}
