/* Gluon libc subset: exit and integer helpers. */
#ifndef GLUON_STDLIB_H
#define GLUON_STDLIB_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

/* Ends the run through tohost: status 0 stores 1 (pass), any other status
 * (taken modulo 256) stores (status << 1) | 1 (fail); then spins forever. */
__attribute__((noreturn)) void exit(int status);

int       abs(int x);
long      labs(long x);
long long llabs(long long x);
int       atoi(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* GLUON_STDLIB_H */
