/* libFuzzer harness: hostile snapshot paths ("..", absolute, empty
 * components, NUL, very long, deep) handed to the restore path resolver
 * (agent/platform/beneath.h) the way restore uses it, beneath a temp folder in
 * which links were planted: to its parent, to an outside folder, to "/",
 * to itself, and a file where a folder is expected. Whatever the input,
 * nothing may appear outside the box: the outside folder stays empty, the
 * temp folder holds the box and the outside folder only, and "/" gains
 * nothing. Each input is one or more paths separated by '\n'. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/platform/beneath.h"
#include "tests/support/testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char top[512], box[600], outside[600];
static int boxfd = -1;
static long root_entries;
static unsigned runs;

static void make_box(void)
{
	char p[700];
	if (boxfd >= 0)
		close(boxfd);
	testutil_rmtree(box);
	if (mkdir(box, 0700) != 0)
		abort();
	snprintf(p, sizeof(p), "%s/up", box);
	symlink("..", p);
	snprintf(p, sizeof(p), "%s/out", box);
	symlink(outside, p);
	snprintf(p, sizeof(p), "%s/d", box);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/d/root", box);
	symlink("/", p);
	snprintf(p, sizeof(p), "%s/d/self", box);
	symlink(".", p);
	snprintf(p, sizeof(p), "%s/f", box);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	boxfd = open(box, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (boxfd < 0)
		abort();
}

static void setup(void)
{
	snprintf(top, sizeof(top), "%s", testutil_tempdir("restorepath"));
	snprintf(box, sizeof(box), "%s/box", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	if (mkdir(outside, 0700) != 0)
		abort();
	make_box();
	root_entries = testutil_count_entries("/");
}

static bool has_dotdot(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool start = i == 0 || p[i - 1] == '/';
		if (start && i + 2 <= n && p[i] == '.' && p[i + 1] == '.' &&
		    (i + 2 == n || p[i + 2] == '/'))
			return true;
	}
	return false;
}

/* One path, as restore treats it: its folder created, then a file, a
 * link and a folder made at its last component. */
static void one(const char *p, size_t n)
{
	int rc = beneath_check(p, n);
	if (has_dotdot(p, n) && rc == 0)
		abort(); /* ".." must never be walked */
	if (memchr(p, '\0', n) && rc == 0)
		abort();
	int pfd, dfd;
	char leaf[NAME_MAX + 1];
	if (beneath_open_parent(boxfd, p, n, BENEATH_CREATE, &pfd, leaf) == 0) {
		if (strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0 ||
		    strchr(leaf, '/') != NULL)
			abort();
		int fd = openat(pfd, leaf,
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0600);
		if (fd >= 0) {
			(void)!write(fd, "x", 1);
			close(fd);
		}
		symlinkat("/etc", pfd, leaf);
		mkdirat(pfd, leaf, 0700);
		close(pfd);
	}
	if (beneath_open_dir(boxfd, p, n, BENEATH_CREATE, &dfd) == 0) {
		int fd = openat(dfd, "written", O_WRONLY | O_CREAT | O_NOFOLLOW |
							O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		close(dfd);
	}
	if (beneath_open(boxfd, p, n, O_RDONLY, BENEATH_NO_OPENAT2, &dfd) == 0)
		close(dfd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (boxfd < 0)
		setup();
	/* Inputs nest folders hundreds deep: 2,000 runs left 64k entries that
	 * took minutes to delete on a busy disk, past the run's time limit.
	 * A fresh box every 100 runs keeps each removal to a few thousand. */
	if (++runs % 100 == 0)
		make_box();
	const char *p = (const char *)data;
	for (size_t off = 0; off <= size;) {
		const char *nl = memchr(p + off, '\n', size - off);
		size_t end = nl ? (size_t)(nl - p) : size;
		one(p + off, end - off);
		off = end + 1;
	}
	if (testutil_count_entries(outside) != 0 || testutil_count_entries(top) != 2 ||
	    testutil_count_entries("/") != root_entries)
		abort(); /* something was created outside the box */
	return 0;
}
