/* pgtest: see pgtest.h. The harness script is found next to this file's
 * source, from the repository root the tests run in. */
#include "tests/support/pgtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/check.h"
#include "tests/support/testutil.h"

#define HARNESS "tests/support/pg_harness.sh"

static char pg_dir[512];
static int db_serial;

/* Runs the harness with up to two arguments after DIR; returns its exit
 * status (or -1), with its stdout in out when out is not NULL. */
static int harness(const char *cmd, const char *arg, char *out, size_t len)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl("/bin/sh", "sh", HARNESS, cmd, pg_dir, arg, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t used = 0;
	ssize_t n;
	char sink[256];
	while ((n = read(fds[0], out && used + 1 < len ? out + used : sink,
			 out && used + 1 < len ? len - 1 - used
					       : sizeof(sink))) > 0)
		if (out && used + 1 < len)
			used += (size_t)n;
	close(fds[0]);
	if (out) {
		out[used] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

bool pgtest_start(void)
{
	snprintf(pg_dir, sizeof(pg_dir), "%s", testutil_tempdir("pg"));
	int rc = harness("start", NULL, NULL, 0);
	if (rc == 77) {
		testutil_rmtree(pg_dir);
		pg_dir[0] = '\0';
		return false;
	}
	if (rc != 0) {
		fprintf(stderr, "pgtest: the PostgreSQL server did not start "
				"(status %d); see %s/server.log\n",
			rc, pg_dir);
		exit(1);
	}
	return true;
}

void pgtest_newdb(char *url, size_t len)
{
	char name[32];
	snprintf(name, sizeof(name), "t%d", ++db_serial);
	if (harness("createdb", name, NULL, 0) != 0 ||
	    harness("url", name, url, len) != 0 || url[0] == '\0') {
		fprintf(stderr, "pgtest: cannot create database %s\n", name);
		exit(1);
	}
}

int pgtest_ctl(const char *command)
{
	return harness(command, NULL, NULL, 0);
}

void pgtest_stop(void)
{
	if (pg_dir[0] == '\0')
		return;
	/* A server that will not stop cleanly is killed; the test is over
	 * either way. */
	if (harness("stop", NULL, NULL, 0) != 0)
		EW_IGNORE(harness("kill", NULL, NULL, 0));
	testutil_rmtree(pg_dir);
	pg_dir[0] = '\0';
}
