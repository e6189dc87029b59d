/* The YARA scanner child against a folder swapped for a symlink between
 * the parent's walk and the child's open (issue 12, "Scanner child
 * TOCTOU"). The real child code (scanchild_main: the sandbox as nobody
 * with CAP_DAC_READ_SEARCH, seccomp in the release build, libyara) runs
 * in a forked process and is driven over pipes with the parent's own
 * framing, request by request, so the swap happens exactly between the
 * walk and the open. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>

#include "agent/core/childproc.h"
#include "agent/scan/scanchild.h"
#include "common/wire.h"
#include "tests/support/testutil.h"

struct kid {
	pid_t pid;
	int to, from;
};

static void kid_start(struct kid *k, const char *rules)
{
	int in[2], out[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	k->pid = fork();
	assert_true(k->pid >= 0);
	if (k->pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		char *argv[] = {"_scanner", "--rules", (char *)rules, NULL};
		_exit(scanchild_main(3, argv));
	}
	close(in[0]);
	close(out[1]);
	k->to = in[1];
	k->from = out[0];
}

static void kid_stop(struct kid *k)
{
	int status;
	close(k->to);
	close(k->from);
	waitpid(k->pid, &status, 0);
}

/* Reads one answer; copies its "t", "r" and "why" out. */
static void kid_read(struct kid *k, char *t, char *r, char *why)
{
	static char buf[1 << 16];
	size_t len;
	assert_int_equal(childproc_recv(k->from, buf, sizeof(buf), &len), 0);
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, buf, len, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	t[0] = r[0] = why[0] = '\0';
	wire_get_str(&up.data, "t", t, 16);
	wire_get_str(&up.data, "r", r, 16);
	if (wire_get_str(&up.data, "why", why, 128) != 0)
		wire_get_str(&up.data, "msg", why, 128);
	msgpack_unpacked_destroy(&up);
}

static void kid_ask(struct kid *k, const char *path, size_t root_len,
		    const struct stat *seen, char *r, char *why)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, seen ? 5 : root_len ? 3 : 2);
	wire_pack_kv_str(&pk, "p", path);
	wire_pack_kv_str(&pk, "o", "student");
	if (root_len || seen)
		wire_pack_kv_u64(&pk, "rl", root_len);
	if (seen) {
		wire_pack_kv_u64(&pk, "d", (uint64_t)seen->st_dev);
		wire_pack_kv_u64(&pk, "i", (uint64_t)seen->st_ino);
	}
	assert_int_equal(childproc_send(k->to, sb.data, sb.size), 0);
	msgpack_sbuffer_destroy(&sb);
	char t[16];
	kid_read(k, t, r, why);
	assert_string_equal(t, "res");
}

static void put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

static void test_swapped_folder(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	const char *dir = testutil_tempdir("scanchild");
	char rules[600], pub[600], sub[600], old[600], file[600], secret[600],
		sfile[600];
	snprintf(rules, sizeof(rules), "%s/marker.yar", dir);
	put(rules, "rule secret_marker { strings: $a = \"TOPSECRET-EXAM-KEY\" "
		   "condition: $a }\n", 0644);
	/* The root-only folder and its secret. */
	snprintf(secret, sizeof(secret), "%s/rootonly", dir);
	assert_int_equal(mkdir(secret, 0700), 0);
	snprintf(sfile, sizeof(sfile), "%s/note.txt", secret);
	put(sfile, "TOPSECRET-EXAM-KEY answers\n", 0600);
	/* The student's tree the parent walked. */
	snprintf(pub, sizeof(pub), "%s/home", dir);
	snprintf(sub, sizeof(sub), "%s/home/docs", dir);
	snprintf(old, sizeof(old), "%s/home/docs.old", dir);
	snprintf(file, sizeof(file), "%s/home/docs/note.txt", dir);
	assert_int_equal(mkdir(pub, 0755), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	put(file, "homework\n", 0644);
	struct stat seen;
	assert_int_equal(lstat(file, &seen), 0);

	struct kid k;
	char t[16], r[16], why[128];
	kid_start(&k, rules);
	kid_read(&k, t, r, why);
	assert_string_equal(t, "ready");

	kid_ask(&k, file, strlen(pub), &seen, r, why);
	assert_string_equal(r, "clean");

	/* The swap: the folder the parent walked becomes a link to the
	 * root-only folder. */
	assert_int_equal(rename(sub, old), 0);
	assert_int_equal(symlink(secret, sub), 0);
	kid_ask(&k, file, strlen(pub), &seen, r, why);
	assert_string_not_equal(r, "match");
	assert_string_equal(r, "skip");
	/* Without the root or the inode (an older parent), the walk from
	 * "/" still follows no link. */
	kid_ask(&k, file, 0, NULL, r, why);
	assert_string_equal(r, "skip");
	assert_string_equal(why, "symlink");

	/* A real folder again, but another file at the name: not the one
	 * the parent saw. */
	assert_int_equal(unlink(sub), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	put(file, "TOPSECRET-EXAM-KEY copied\n", 0644);
	kid_ask(&k, file, strlen(pub), &seen, r, why);
	assert_string_equal(r, "skip");
	assert_string_equal(why, "changed since the walk");
	/* The same file, asked as the parent would now: scanned. */
	assert_int_equal(lstat(file, &seen), 0);
	kid_ask(&k, file, strlen(pub), &seen, r, why);
	assert_string_equal(r, "match");
	kid_stop(&k);
	testutil_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_swapped_folder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
