/* winscan: the Windows agent's `scan PATH...` command.
 *
 * On Linux `scan` runs in the scanner helper, whose children scan one
 * file each under seccomp (agent/scan/). Windows has no helper yet (its
 * isolation, a restricted token in a job object, is not written), so this
 * scans in the calling process, one file at a time, with the installed
 * bundle loaded as ruleload.h says (its signed sources compiled by this
 * libyara when the compiled form is another version's) or with --rules.
 * It prints what the Linux command prints: per file path, verdict, size,
 * and for a match its SHA-256 and rule names (never the file's bytes),
 * then a summary; --json gives the same objects. Symbolic links and
 * junctions are not followed. Exit 0 clean, 5 matches, 1 failure, 3 no
 * rules. */
#ifndef EDUWATCH_WINSCAN_H
#define EDUWATCH_WINSCAN_H

#include "agent/core/cli.h"

int winscan_main(const struct cli *cli);

#endif
