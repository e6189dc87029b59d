/* route: the web console's requests as plain data, the route table's
 * matching and the decoding of query strings and form bodies.
 *
 * Nothing here knows h2o: web.c turns h2o's request into a struct
 * web_request, and this part (and the fuzz harness) sees only bytes. Every
 * decoded value is checked: percent escapes well formed, no NUL or other
 * control byte, valid UTF-8, within the caller's buffer. */
#ifndef EDUWATCH_WEB_ROUTE_H
#define EDUWATCH_WEB_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_MAX_PARAMS 4
#define ROUTE_PARAM_MAX 64

struct web_header {
	const char *name; /* lower case */
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* A request, borrowed from the server for the handler's run. */
struct web_request {
	const char *method;
	size_t method_len;
	const char *path; /* the path only, without '?' and the query */
	size_t path_len;
	const char *query; /* after '?', or "" */
	size_t query_len;
	const char *authority; /* Host (h2o keeps it out of the headers) */
	size_t authority_len;
	const struct web_header *headers;
	size_t nheaders;
	const char *body;
	size_t body_len;
	char peer[64]; /* the client's address, for the audit log */
};

/* One line of a route table: "GET" "/schools/{}" matches /schools/X
 * where X is 1..ROUTE_PARAM_MAX bytes of [A-Za-z0-9._-]. */
struct route {
	const char *method;
	const char *pattern;
	unsigned flags; /* the table owner's */
	void (*handler)(void); /* the table owner's type, cast back */
};

enum route_result {
	ROUTE_FOUND,
	ROUTE_NOT_FOUND,
	ROUTE_BAD_METHOD, /* the path exists with another method */
};

/* Finds the first route of the table that matches. params receive the
 * {} segments, NUL-terminated. */
enum route_result route_match(const struct route *table, size_t n,
			      const struct web_request *req,
			      const struct route **found,
			      char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1],
			      size_t *nparams);

/* The value of name in an application/x-www-form-urlencoded text (a query
 * string or a form body), decoded into out. 0; -ENOENT when absent;
 * -EINVAL when the value is malformed (bad escape, control byte, invalid
 * UTF-8) or does not fit in cap - 1 bytes. The first occurrence wins. */
int route_param(const char *src, size_t n, const char *name, char *out,
		size_t cap);

/* Calls fn for every value of name in order (for bulk actions: id=1&id=2),
 * stopping at fn's non-zero return. -EINVAL on a malformed value. */
int route_param_each(const char *src, size_t n, const char *name,
		     int (*fn)(void *arg, const char *value), void *arg);

/* The value of a request header (name in lower case), or NULL. */
const char *route_header(const struct web_request *req, const char *name,
			 size_t *len);

/* The value of a cookie from the Cookie header into out: 0, -ENOENT, or
 * -EINVAL when it is longer than cap - 1 or holds bytes a cookie value
 * cannot hold. */
int route_cookie(const struct web_request *req, const char *name, char *out,
		 size_t cap);

/* method equals the NUL-terminated m. */
bool route_method_is(const struct web_request *req, const char *m);

#endif
