/* Gluon libc subset: memory and string functions.
 * The compiler may emit calls to memcpy, memset, memmove and memcmp by
 * itself (struct copies, large initialisers); these are always linked. */
#ifndef GLUON_STRING_H
#define GLUON_STRING_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void  *memcpy(void *restrict dst, const void *restrict src, size_t n);
void  *memmove(void *dst, const void *src, size_t n);
void  *memset(void *dst, int c, size_t n);
int    memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int    strcmp(const char *a, const char *b);
int    strncmp(const char *a, const char *b, size_t n);
char  *strcpy(char *restrict dst, const char *restrict src);
char  *strchr(const char *s, int c);

#ifdef __cplusplus
}
#endif

#endif /* GLUON_STRING_H */
