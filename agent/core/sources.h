/* sources: the source table, one line per source.
 *
 * A source NAME is src_NAME.c, which defines source_NAME (source.h), and
 * NAME_settings.c beside it, which defines NAME_config: its keys in
 * agent.yaml (source_config). The line below is all the rest of the tree
 * knows of it. The two halves are separate objects on purpose: the
 * helper executables read agent.yaml through the settings alone, without
 * linking the sources' code and what it maps (TLS, the spool). */
#ifndef EDUWATCH_SOURCES_H
#define EDUWATCH_SOURCES_H

#include <stddef.h>

/* In start order. */
#define AGENT_SOURCE_TABLE(X)                                                 \
	X(inventory)                                                          \
	X(heartbeat)                                                          \
	X(synthetic)                                                          \
	X(netsensor)                                                          \
	X(av)                                                                 \
	X(scan)                                                               \
	X(backup)                                                             \
	X(drill)                                                              \
	X(ransom)

struct source_ops;
struct source_config;

#define AGENT_SOURCE_DECLARE(name)                                            \
	extern const struct source_ops source_##name;                         \
	extern const struct source_config name##_config;
AGENT_SOURCE_TABLE(AGENT_SOURCE_DECLARE)

/* The table's two halves, index for index (sources.c, settings.c). */
extern const struct source_ops *const agent_sources[];
extern const struct source_config *const agent_source_configs[];
extern const size_t agent_nsources;

#endif
