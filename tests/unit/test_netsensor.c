/* Unit tests for the LAN sensor's pieces that need no capture: the IOC set,
 * the detectors' dedupe and bounds, and the sandbox the helper enters. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/net/iocset.h"
#include "agent/net/netdetect.h"
#include "agent/platform/sandbox.h"
#include "common/event.h"
#include "common/wire.h"

/* ---- iocset ------------------------------------------------------------ */

static struct iocset *set_of(const char *text)
{
	char err[128];
	struct iocset *set = iocset_new();
	assert_non_null(set);
	assert_int_equal(iocset_add_text(set, text, strlen(text), err,
					 sizeof(err)), 0);
	return set;
}

static void test_ioc_suffix_match(void **state)
{
	(void)state;
	struct iocset *set = set_of("# list\n  Evil.Example.  # c2\n"
				    "*.bad.test\n\n203.0.113.66\n2001:db8::66\n");
	const char *m = NULL;
	assert_int_equal(iocset_domain_count(set), 2);
	assert_int_equal(iocset_ip_count(set), 2);
	assert_true(iocset_match_domain(set, "evil.example", &m));
	assert_string_equal(m, "evil.example");
	assert_true(iocset_match_domain(set, "A.B.EVIL.example.", &m));
	assert_string_equal(m, "EVIL.example.");
	assert_true(iocset_match_domain(set, "x.bad.test", NULL));
	assert_true(iocset_match_domain(set, "bad.test", NULL));
	/* A suffix counts only at a label boundary. */
	assert_false(iocset_match_domain(set, "notevil.example", NULL));
	assert_false(iocset_match_domain(set, "evil.example.org", NULL));
	assert_false(iocset_match_domain(set, "example", NULL));
	assert_false(iocset_match_domain(set, "", NULL));
	uint8_t v4[4] = {203, 0, 113, 66}, v4b[4] = {203, 0, 113, 67};
	uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x66};
	assert_true(iocset_match_ip(set, 4, v4));
	assert_false(iocset_match_ip(set, 4, v4b));
	assert_true(iocset_match_ip(set, 6, v6));
	assert_false(iocset_match_ip(set, 6, (uint8_t[16]){0}));
	iocset_free(set);
}

static void test_ioc_errors_name_the_line(void **state)
{
	(void)state;
	char err[128];
	struct iocset *set = iocset_new();
	const char *bad[] = {"ok.example\nbad domain\n", "ok.example\n\na..b\n",
			     "x.example\n-\xff.example\n"};
	const char *where[] = {"2: ", "3: empty label", "2: "};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(iocset_add_text(set, bad[i], strlen(bad[i]),
						 err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, where[i]));
	}
	char label[80];
	memset(label, 'a', 64);
	memcpy(label + 64, ".example", 9);
	assert_int_equal(iocset_add_text(set, label, strlen(label), err,
					 sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "63"));
	iocset_free(set);
}

static void test_ioc_hundred_thousand(void **state)
{
	(void)state;
	char err[128], line[64];
	struct iocset *set = iocset_new();
	for (int i = 0; i < 120000; i++) {
		int n = snprintf(line, sizeof(line), "host%d.ioc%d.example\n", i,
				 i % 97);
		assert_int_equal(iocset_add_text(set, line, (size_t)n, err,
						 sizeof(err)), 0);
	}
	assert_int_equal(iocset_domain_count(set), 120000);
	for (int i = 0; i < 120000; i += 997) {
		snprintf(line, sizeof(line), "www.host%d.ioc%d.example", i,
			 i % 97);
		assert_true(iocset_match_domain(set, line, NULL));
		snprintf(line, sizeof(line), "host%d.ioc%d.example", i,
			 (i + 1) % 97);
		assert_false(iocset_match_domain(set, line, NULL));
	}
	iocset_free(set);
}

/* ---- detectors --------------------------------------------------------- */

struct seen {
	int alerts;
	char kind[32];
	char json[1024];
};

static void on_alert(void *arg, const char *kind, int sev, const char *body,
		     size_t len)
{
	struct seen *s = arg;
	char *json = NULL;
	assert_true(event_kind_known(kind));
	assert_in_range(sev, 0, 10);
	assert_int_equal(wire_check_msgpack(body, len, 8), 0);
	assert_int_equal(event_body_to_json(body, len, &json), 0);
	snprintf(s->kind, sizeof(s->kind), "%s", kind);
	snprintf(s->json, sizeof(s->json), "%s", json);
	free(json);
	s->alerts++;
}

/* An ARP reply: sender (mac, ip) to this PC. */
static size_t arp_reply(uint8_t *f, const uint8_t mac[6], const uint8_t ip[4])
{
	static const uint8_t pc_mac[6] = {2, 0, 0, 0, 0, 0x20};
	static const uint8_t pc_ip[4] = {10, 0, 0, 20};
	static const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 2};
	memcpy(f, pc_mac, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	memcpy(f + 14, hdr, 8);
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, ip, 4);
	memcpy(f + 32, pc_mac, 6);
	memcpy(f + 38, pc_ip, 4);
	return 42;
}

static void test_dedupe_folds_repeats(void **state)
{
	(void)state;
	struct netdetect_config cfg;
	struct seen seen = {0};
	uint8_t f[64];
	const uint8_t gw[4] = {10, 0, 0, 1};
	const uint8_t gw_mac[6] = {2, 0, 0, 0, 0, 1};
	const uint8_t evil[6] = {2, 0, 0, 0, 0, 0x66};
	netdetect_config_defaults(&cfg);
	cfg.has_gateway = true;
	memcpy(cfg.gateway_ip, gw, 4);
	cfg.has_gateway_mac = true;
	memcpy(cfg.gateway_mac, gw_mac, 6);
	cfg.dedupe_window_s = 60;
	struct netdetect *nd = netdetect_new(&cfg, on_alert, &seen);
	uint64_t t = 1000000;
	for (int i = 0; i < 10; i++)
		netdetect_packet(nd, f, arp_reply(f, evil, gw), t + i * 1000000u);
	assert_int_equal(seen.alerts, 1);
	assert_string_equal(seen.kind, "net.arp_spoof");
	assert_non_null(strstr(seen.json, "\"repeats\":0"));
	/* After the window the incident is reported again with the count of
	 * what was folded in between. */
	netdetect_packet(nd, f, arp_reply(f, evil, gw), t + 70 * 1000000u);
	assert_int_equal(seen.alerts, 2);
	assert_non_null(strstr(seen.json, "\"repeats\":9"));
	/* The real gateway's own replies never alert. */
	netdetect_packet(nd, f, arp_reply(f, gw_mac, gw), t + 71 * 1000000u);
	assert_int_equal(seen.alerts, 2);
	struct netdetect_stats st;
	netdetect_get_stats(nd, &st);
	assert_int_equal(st.packets, 12);
	assert_int_equal(st.suppressed, 9);
	netdetect_free(nd);
}

/* A DNS query for name from 10.0.0.<host> to 10.0.0.1. */
static size_t dns_query(uint8_t *f, uint8_t host, const char *name)
{
	static const uint8_t eth[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0x20,
					0x08, 0x00};
	size_t n = 0;
	uint8_t dns[300] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t d = 12;
	for (const char *p = name; *p;) {
		size_t len = strcspn(p, ".");
		dns[d++] = (uint8_t)len;
		memcpy(dns + d, p, len);
		d += len;
		p += len + (p[len] == '.');
	}
	dns[d++] = 0;
	dns[d++] = 0, dns[d++] = 1, dns[d++] = 0, dns[d++] = 1;
	memcpy(f, eth, 14);
	n = 14;
	uint8_t ip[20] = {0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0,
			  10, 0, 0, host, 10, 0, 0, 1};
	size_t total = 20 + 8 + d;
	ip[2] = (uint8_t)(total >> 8);
	ip[3] = (uint8_t)total;
	memcpy(f + n, ip, 20);
	n += 20;
	uint8_t udp[8] = {0x9c, 0x40, 0, 53, (uint8_t)((8 + d) >> 8),
			  (uint8_t)(8 + d), 0, 0};
	memcpy(f + n, udp, 8);
	n += 8;
	memcpy(f + n, dns, d);
	return n + d;
}

/* IOC DNS queries as frames: a listed parent domain matches whatever the
 * case, a near miss never does, however often it is asked, and a name
 * longer than most still matches. */
static void test_ioc_dns_queries(void **state)
{
	(void)state;
	struct netdetect_config cfg;
	struct seen seen = {0};
	char err[128];
	uint8_t f[400];
	netdetect_config_defaults(&cfg);
	struct iocset *set = iocset_new();
	assert_int_equal(iocset_add_text(set, "evil.example\n", 13, err,
					 sizeof(err)), 0);
	cfg.ioc = set;
	struct netdetect *nd = netdetect_new(&cfg, on_alert, &seen);
	uint64_t t = 1000000;
	netdetect_packet(nd, f, dns_query(f, 21, "www.evil.example"), t);
	assert_int_equal(seen.alerts, 1);
	assert_non_null(strstr(seen.json, "\"matched\":\"evil.example\""));
	/* The same name in capitals, from another PC (names arrive
	 * lower-cased from the parser). */
	netdetect_packet(nd, f, dns_query(f, 22, "WWW.EVIL.EXAMPLE"), t + 1);
	assert_int_equal(seen.alerts, 2);
	assert_non_null(strstr(seen.json, "\"query\":\"www.evil.example\""));
	assert_non_null(strstr(seen.json, "\"matched\":\"evil.example\""));
	/* Near misses, one of them twice: no alert. */
	netdetect_packet(nd, f, dns_query(f, 23, "www.evil.examplf"), t + 2);
	netdetect_packet(nd, f, dns_query(f, 24, "www.evil.examplf"), t + 3);
	netdetect_packet(nd, f, dns_query(f, 25, "www.evil.exampl"), t + 4);
	assert_int_equal(seen.alerts, 2);
	/* A long name still matches by its parent. */
	netdetect_packet(nd, f,
			 dns_query(f, 26, "a123456789.b123456789.c123456789."
					  "d123456789.e123456789.evil.example"),
			 t + 5);
	assert_int_equal(seen.alerts, 3);
	netdetect_free(nd);
	iocset_free(set);
}

static void test_flood_of_macs_stays_bounded(void **state)
{
	(void)state;
	struct netdetect_config cfg;
	struct seen seen = {0};
	uint8_t f[64];
	netdetect_config_defaults(&cfg);
	struct netdetect *nd = netdetect_new(&cfg, on_alert, &seen);
	/* 200,000 forged MACs, one IP each: tables evict, nothing grows and
	 * no MAC is blamed for another's claims. */
	for (uint32_t i = 0; i < 200000; i++) {
		uint8_t mac[6] = {2, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
				  (uint8_t)i, 1};
		uint8_t ip[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
				 (uint8_t)i};
		netdetect_packet(nd, f, arp_reply(f, mac, ip), 1000 + i);
	}
	assert_int_equal(seen.alerts, 0);
	/* Garbage is counted, not parsed past its end. */
	netdetect_packet(nd, f, 13, 5);
	struct netdetect_stats st;
	netdetect_get_stats(nd, &st);
	assert_int_equal(st.malformed, 1);
	netdetect_free(nd);
}

/* ---- sandbox ----------------------------------------------------------- */

/* Runs body in a sandboxed child; returns its wait status. */
static int in_sandbox(int (*body)(int fd), int fd)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[200];
		struct sandbox_policy p = {.out_fd = fd};
		if (sandbox_enter(&p, err, sizeof(err)) != 0)
			_exit(99);
		_exit(body(fd));
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

static int writes_to_pipe(int fd)
{
	return write(fd, "ok", 2) == 2 ? 0 : 1;
}

static int opens_a_socket(int fd)
{
	(void)fd;
	return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 2;
}

static int opens_for_writing(int fd)
{
	(void)fd;
	return open("/tmp/eduwatch-sandbox-test", O_WRONLY | O_CREAT, 0600) >= 0
		       ? 0
		       : 3;
}

static int writes_elsewhere(int fd)
{
	(void)fd;
	return write(STDOUT_FILENO, "", 0) >= 0 ? 0 : 4;
}

static void test_sandbox_kills_what_it_forbids(void **state)
{
	(void)state;
	if (!sandbox_has_seccomp())
		skip();
	int fds[2];
	char buf[4] = "";
	assert_int_equal(pipe(fds), 0);
	int st = in_sandbox(writes_to_pipe, fds[1]);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(read(fds[0], buf, 2), 2);
	assert_memory_equal(buf, "ok", 2);
	int (*forbidden[])(int) = {opens_a_socket, opens_for_writing,
				   writes_elsewhere};
	for (size_t i = 0; i < 3; i++) {
		st = in_sandbox(forbidden[i], fds[1]);
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), SIGSYS);
	}
	assert_int_equal(access("/tmp/eduwatch-sandbox-test", F_OK), -1);
	close(fds[0]);
	close(fds[1]);
}

/* What glibc's stdio does on the first write to a character device
 * (/dev/null, a terminal): isatty(), an ioctl(TCGETS). */
static int asks_isatty(int fd)
{
	errno = 0;
	return isatty(fd) == 0 && errno == ENOTTY ? 0 : 5;
}

/* What every log line does: the first formatting of a time makes glibc
 * read the time zone file. */
static int formats_a_time(int fd)
{
	struct tm tm;
	char buf[64];
	time_t t = 1800000000;
	(void)fd;
	return gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%FT%T", &tm) &&
			       localtime_r(&t, &tm)
		       ? 0
		       : 10;
}

static int other_ioctl(int fd)
{
	int n = 0;
	return ioctl(fd, FIONREAD, &n) == 0 ? 0 : 6;
}

/* Runs body in a child sandboxed as the scanner is (read_files). */
static int in_file_sandbox(int (*body)(int fd), int fd)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[200];
		struct sandbox_policy p = {.out_fd = fd, .read_files = true};
		if (sandbox_enter(&p, err, sizeof(err)) != 0)
			_exit(99);
		_exit(body(fd));
	}
	int status = 0;
	waitpid(pid, &status, 0);
	return status;
}

/* A walk relative to an open directory, as the scanner's openat walk
 * does: read-only opens are allowed, opens for writing are not. */
static int walks_with_openat(int fd)
{
	(void)fd;
	int dir = open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return 7;
	int f = openat(dir, "passwd", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int sub = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	return f >= 0 && sub >= 0 ? 0 : 8;
}

static int writes_with_openat(int fd)
{
	(void)fd;
	int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
	return openat(dir, "eduwatch-sandbox-test", O_WRONLY | O_CREAT, 0600) >= 0
		       ? 0
		       : 9;
}

static void test_sandbox_answers_isatty_and_openat(void **state)
{
	(void)state;
	if (!sandbox_has_seccomp())
		skip();
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	/* "Not a terminal", never a kill: sniff >/dev/null must work. */
	int st = in_sandbox(asks_isatty, fds[1]);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = in_file_sandbox(asks_isatty, fds[1]);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = in_sandbox(formats_a_time, fds[1]);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Any other ioctl still kills. */
	st = in_sandbox(other_ioctl, fds[1]);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	st = in_file_sandbox(walks_with_openat, fds[1]);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = in_file_sandbox(writes_with_openat, fds[1]);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	assert_int_equal(access("/tmp/eduwatch-sandbox-test", F_OK), -1);
	close(fds[0]);
	close(fds[1]);
}

static int reports_uid(int fd)
{
	uid_t u = getuid();
	return write(fd, &u, sizeof(u)) == sizeof(u) ? 0 : 1;
}

static void test_sandbox_leaves_root(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	int fds[2];
	uid_t uid = 0;
	assert_int_equal(pipe(fds), 0);
	int st = in_sandbox(reports_uid, fds[1]);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(read(fds[0], &uid, sizeof(uid)), sizeof(uid));
	assert_int_not_equal(uid, 0);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ioc_suffix_match),
		cmocka_unit_test(test_ioc_errors_name_the_line),
		cmocka_unit_test(test_ioc_hundred_thousand),
		cmocka_unit_test(test_dedupe_folds_repeats),
		cmocka_unit_test(test_ioc_dns_queries),
		cmocka_unit_test(test_flood_of_macs_stays_bounded),
		cmocka_unit_test(test_sandbox_kills_what_it_forbids),
		cmocka_unit_test(test_sandbox_leaves_root),
		cmocka_unit_test(test_sandbox_answers_isatty_and_openat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
