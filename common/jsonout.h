/* jsonout: writing JSON text by hand for CLI output, safely. */
#ifndef EDUWATCH_JSONOUT_H
#define EDUWATCH_JSONOUT_H

#include <stdio.h>

/* Writes s as a JSON string: quotes, backslashes and control bytes
 * escaped; UTF-8 passed through. */
void json_print_string(FILE *f, const char *s);

#endif
