/* host/describe.h — `modhostd -M FILE.so` (used by `modhost-module info`):
 * print a module's descriptor after the loader's checks, without calling
 * any of its hooks. */
#ifndef MH_DESCRIBE_H
#define MH_DESCRIBE_H

#include <stdio.h>

/* Open path with loader_open and print the descriptor to out.  Returns 0,
 * or 1 after printing the loader's refusal to err_out. */
int describe_module(const char *path, FILE *out, FILE *err_out);

#endif
