/* pgtest: the unit tests' door to a throwaway PostgreSQL server, run by
 * tests/support/pg_harness.sh (the same helper the integration scripts
 * use). A test binary starts one server, makes a fresh database per test
 * and stops the server at the end. */
#ifndef EDUWATCH_PGTEST_H
#define EDUWATCH_PGTEST_H

#include <stdbool.h>
#include <stddef.h>

/* Starts the server in a new temp dir. false when PostgreSQL is not
 * installed (the caller skips its PostgreSQL runs, saying so); a server
 * that is installed but will not start fails the test binary. */
bool pgtest_start(void);
/* A fresh, empty database; its store.url goes into url. */
void pgtest_newdb(char *url, size_t len);
/* Runs pg_harness.sh COMMAND on this server (stop, kill, restart). */
int pgtest_ctl(const char *command);
/* Stops the server and removes its dir. */
void pgtest_stop(void);

#endif
