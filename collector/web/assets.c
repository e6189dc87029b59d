/* assets: static files embedded with the assembler's .incbin, so the
 * collector needs no web root on disk and no CDN. */
#include "collector/web/assets.h"

#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

/* Paths are relative to the top of the tree, where make runs. */
#define EMBED(sym, file)                                                   \
	__asm__(".section .rodata\n.balign 16\n.global " #sym "\n" #sym    \
		":\n.incbin \"" file "\"\n.global " #sym "_end\n" #sym       \
		"_end:\n.byte 0\n.previous\n");                            \
	extern const char sym[];                                           \
	extern const char sym##_end[]

EMBED(ew_asset_uplot_js, "collector/web/assets/uplot/uPlot.iife.min.js");
EMBED(ew_asset_uplot_css, "collector/web/assets/uplot/uPlot.min.css");
EMBED(ew_asset_console_js, "collector/web/assets/console.js");

static struct asset table[ASSET_COUNT];
static char names[ASSET_COUNT][48];

static void fill(enum asset_id id, const char *stem, const char *ext,
		 const char *type, const char *start, const char *end)
{
	unsigned char h[32];
	size_t len = (size_t)(end - start);
	SHA256((const unsigned char *)start, len, h);
	snprintf(names[id], sizeof(names[id]), "%s-%02x%02x%02x%02x%02x%02x.%s",
		 stem, h[0], h[1], h[2], h[3], h[4], h[5], ext);
	table[id] = (struct asset){names[id], type, start, len};
}

static void load(void)
{
	if (table[0].name != NULL)
		return;
	fill(ASSET_UPLOT_JS, "uplot", "js", "text/javascript; charset=utf-8",
	     ew_asset_uplot_js, ew_asset_uplot_js_end);
	fill(ASSET_UPLOT_CSS, "uplot", "css", "text/css; charset=utf-8",
	     ew_asset_uplot_css, ew_asset_uplot_css_end);
	fill(ASSET_CONSOLE_JS, "console", "js", "text/javascript; charset=utf-8",
	     ew_asset_console_js, ew_asset_console_js_end);
}

const struct asset *assets_get(enum asset_id id)
{
	load();
	return (unsigned)id < ASSET_COUNT ? &table[id] : NULL;
}

const struct asset *assets_find(const char *name)
{
	load();
	for (int i = 0; i < ASSET_COUNT; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}
