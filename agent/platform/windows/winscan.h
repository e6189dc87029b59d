/* winscan: the Windows agent's `scan PATH...` command.
 *
 * On Linux `scan` runs in the scanner helper, whose children scan one
 * file each under seccomp (agent/scan/). Here the agent's process walks
 * the folders, opens each regular file (never through a link or
 * junction, checked on the handle) and hands the handle to one child,
 * `eduwatch-agent.exe _scanner`, in the jail of jail.h (restricted token,
 * job object), which reads it and runs libyara. The rules are loaded in
 * the parent as ruleload.h says (the installed bundle, its signed sources
 * compiled by this libyara when the compiled form is another version's,
 * or --rules) and sent to the child compiled. A child that dies on a file
 * makes that file an error and a new child takes the next ("restarts" in
 * the summary).
 * It prints what the Linux command prints: per file path, verdict, size,
 * and for a match its SHA-256 and rule names (never the file's bytes),
 * then a summary; --json gives the same objects. Symbolic links and
 * junctions are not followed. Exit 0 clean, 5 matches, 1 failure, 3 no
 * rules. */
#ifndef EDUWATCH_WINSCAN_H
#define EDUWATCH_WINSCAN_H

#include "agent/core/cli.h"

int winscan_main(const struct cli *cli);

/* The jailed child, `eduwatch-agent.exe _scanner`: reads the setup, the
 * rules and one request per file from stdin, answers on stdout. */
int winscan_child_main(void);

#endif
