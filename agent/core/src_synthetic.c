/* source_synthetic: test.synthetic events at testing.synthetic_rate per
 * second, for the chaos tests. It is the example of a source that owns its
 * settings: its keys (testing.*) are declared in synthetic_settings.c and
 * nowhere else. After each event is in the spool, it appends
 * "boot seq" to testing.synthetic_log, so the test can compare what the
 * agent emitted with what the collector stored. Off unless configured. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/source.h"
#include "agent/core/synthetic_settings.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/wire.h"

struct synthetic {
	const struct synthetic_settings *conf;
	struct source_env env;
	uv_timer_t timer;
	int log_fd;
	uint64_t count;
};

static void tick(uv_timer_t *timer)
{
	struct synthetic *sy = timer->data;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint64_t seq = 0;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	wire_pack_kv_u64(&pk, "n", ++sy->count);
	int rc = agent_emit(sy->env.agent, "test.synthetic", 1, false, sb.data,
			    sb.size, &seq);
	msgpack_sbuffer_destroy(&sb);
	if (rc != 0 || sy->log_fd < 0)
		return;
	char line[64];
	int n = snprintf(line, sizeof(line), "%llu %llu\n",
			 (unsigned long long)agent_boot_id(sy->env.agent),
			 (unsigned long long)seq);
	if (write(sy->log_fd, line, (size_t)n) != n)
		log_warn("synthetic: cannot write the emit log");
}

static int sy_init(const struct source_env *env, void **state)
{
	const struct synthetic_settings *conf = env->config;
	*state = NULL;
	if (conf == NULL || conf->rate <= 0)
		return 0;
	struct synthetic *sy = alloc_zeroed(1, sizeof(*sy));
	if (sy == NULL)
		return -ENOMEM;
	sy->env = *env;
	sy->conf = conf;
	sy->log_fd = -1;
	if (conf->log[0]) {
		sy->log_fd = open(conf->log,
				  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (sy->log_fd < 0) {
			int e = -errno;
			alloc_free(sy);
			return e;
		}
	}
	uv_timer_init(env->loop, &sy->timer);
	sy->timer.data = sy;
	*state = sy;
	return 0;
}

static int sy_start(void *state)
{
	struct synthetic *sy = state;
	uint64_t every = 1000 / (uint64_t)sy->conf->rate;
	return uv_timer_start(&sy->timer, tick, every ? every : 1,
			      every ? every : 1);
}

static void sy_stop(void *state)
{
	struct synthetic *sy = state;
	uv_close((uv_handle_t *)&sy->timer, NULL);
}

static void sy_free(void *state)
{
	struct synthetic *sy = state;
	if (sy->log_fd >= 0)
		close(sy->log_fd);
	alloc_free(sy);
}

const struct source_ops source_synthetic = {
	.name = "synthetic",
	.init = sy_init,
	.start = sy_start,
	.stop = sy_stop,
	.free = sy_free,
};
