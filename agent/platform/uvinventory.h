/* uvinventory: the part of the inventory libuv already abstracts (IPs and
 * MACs, CPU, RAM, uptime), filled the same way on every platform; each
 * platform's platform_inventory() adds what only it can tell. */
#ifndef EDUWATCH_UVINVENTORY_H
#define EDUWATCH_UVINVENTORY_H

#include "agent/platform/platform.h"

void platform_inventory_uv(struct inventory *out);

#endif
