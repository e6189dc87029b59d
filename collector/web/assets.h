/* assets: the console's static files, built into the binary (the
 * vendored uPlot, our console.js), each served under a name that holds
 * its content's hash so browsers may cache it for a year. */
#ifndef EDUWATCH_WEB_ASSETS_H
#define EDUWATCH_WEB_ASSETS_H

#include <stddef.h>

struct asset {
	const char *name;	  /* hashed, e.g. "uplot-1a2b3c4d5e6f.js" */
	const char *content_type;
	const char *data;
	size_t len;
};

enum asset_id { ASSET_UPLOT_JS, ASSET_UPLOT_CSS, ASSET_CONSOLE_JS, ASSET_COUNT };

const struct asset *assets_get(enum asset_id id);
/* The asset whose hashed name is name, or NULL. */
const struct asset *assets_find(const char *name);

#endif
