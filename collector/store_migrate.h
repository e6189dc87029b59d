/* store_migrate: a province's SQLite store copied into an empty
 * PostgreSQL store (`eduwatch-collector store migrate`), then verified.
 *
 * The SQLite file is opened read-only and read inside one transaction:
 * WAL gives that reader one consistent snapshot while a collector keeps
 * writing to the file. The target's schema is created or brought to this
 * collector's version first; a target that already holds schools, agents,
 * events or users is refused. Every table is copied with COPY, in
 * dependency order, in ONE PostgreSQL transaction: a migration that fails
 * anywhere leaves the target as empty as it found it, so it can simply be
 * run again. Each table's columns are matched by name, with the backends'
 * few differences handled explicitly (store_migrate.c). Then the copy is
 * verified: every table's row count on both sides, and a sample of events
 * compared field by field. */
#ifndef EDUWATCH_STORE_MIGRATE_H
#define EDUWATCH_STORE_MIGRATE_H

#include "common/check.h"

#include <stdio.h>

struct store_migrate_options {
	const char *from; /* the SQLite file's path */
	const char *to;	  /* a "postgresql://..." store.url */
	long batch;	  /* rows per COPY chunk (a progress line each) */
	FILE *out;	  /* the counts table and progress */
};

/* Copies and verifies. Returns 0 when every count matched and every
 * sampled event was equal; -EINVAL for a source that is not an eduwatch
 * store, one of a newer or older schema, or a non-empty target; -EAGAIN
 * when PostgreSQL cannot be reached; -EIO for a failed copy or a
 * mismatch. err says why. */
EW_MUST_CHECK
int store_migrate(const struct store_migrate_options *o, char *err,
		  size_t errlen);

#endif
