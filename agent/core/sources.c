/* The source table's code half (sources.h): every source the agent
 * runs, in start order. */
#include "agent/core/sources.h"

#include "agent/core/source.h"

#define AGENT_SOURCE_OPS(name) &source_##name,
const struct source_ops *const agent_sources[] = {
	AGENT_SOURCE_TABLE(AGENT_SOURCE_OPS)
};
