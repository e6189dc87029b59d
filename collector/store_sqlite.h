/* store_sqlite: the embedded store backend (SQLite, WAL, one writer
 * thread that batches inserts; separate connection for everything else).
 * Used only through collector/store.h. */
#ifndef EDUWATCH_STORE_SQLITE_H
#define EDUWATCH_STORE_SQLITE_H

#include "collector/store.h"

extern const struct store_backend store_sqlite_backend;

#endif
