/* banned: the calls STYLE.md bans, refused by the compiler.
 *
 * The Makefile force-includes this file (-include common/banned.h) into
 * every translation unit, so a banned call is a build error, not a review
 * comment. Poisoning must come after the system headers that declare
 * these names (a declaration of a poisoned name is an error too), so the
 * headers are included here first; their include guards make the
 * sources' own includes of them no-ops.
 *
 * Why each is banned:
 *   gets, sprintf, vsprintf, strcat, strncat, strncpy: no bound, or a
 *     bound that silently truncates without a terminator (snprintf);
 *   strtok: hidden state, not reentrant;
 *   atoi: no error reporting (strtol/strtoll with bounds);
 *   system, popen: a shell (uv_spawn with an argument vector);
 *   strerror, strsignal: not thread-safe (uv_strerror, signals_name). */
#ifndef EDUWATCH_BANNED_H
#define EDUWATCH_BANNED_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#pragma GCC poison gets sprintf vsprintf strcat strncat strncpy strtok atoi
#pragma GCC poison system popen strerror strsignal

#endif
