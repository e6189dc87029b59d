/* scanchild: the YARA scanner's helper process, `eduwatch-agent _scanner`,
 * run from its own executable, eduwatch-scanner (childproc.h).
 *
 * libyara parses files anyone can plant, so it runs here and not in the
 * agent: the child loads its rules (a signed bundle, verified again, or
 * rule files compiled on the spot), enters the sandbox (nobody, only
 * CAP_DAC_READ_SEARCH, seccomp: no network, no exec, no writes but its
 * pipe) and then answers one request per file, in order:
 *
 *   parent -> child   {p: path, o: owner name, rl: length of the walk's
 *                      root in p, d: device, i: inode}  (rl, d, i optional:
 *                      the child walks from the root with no link followed
 *                      and skips a file whose device or inode changed)
 *   child -> parent   {t:"ready", rules: N}  once, or {t:"fail", msg}
 *                     {t:"res", p, r: "clean"|"match"|"skip"|"error",
 *                      why, size, sha256 (a match only),
 *                      m: [{rule, ns, tags: [..], meta: {..}}]}
 *
 * Never a byte of a file's content leaves the child: names, metadata and
 * the SHA-256 of a matching file only. The child paces itself to a CPU
 * share by measured sleeping. */
#ifndef EDUWATCH_SCANCHILD_H
#define EDUWATCH_SCANCHILD_H

#include "common/check.h"

#include <stddef.h>

/* The executable the scanner runs from, beside the agent's. */
#define SCANCHILD_HELPER "eduwatch-scanner"

/* The helper's main: argv after "_scanner". Returns the exit status. */
EW_MUST_CHECK
int scanchild_main(int argc, char **argv);

#endif
