/* tests/fuzz/fuzz.h — what each fuzz target file defines: libFuzzer's two
 * entry points, and a check that the target can run here, which the
 * corpus replayer (replay.c) asks before calling them. */
#ifndef MH_FUZZ_H
#define MH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Called once before any input; may abort if the target cannot run. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
/* Run one input; returns 0 (libFuzzer's convention). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* NULL when the target can run; else a static text saying why not (e.g.
 * its codec module is not built), so the replayer can skip. */
const char *fuzz_unavailable(const char *argv0);

#endif
