/* jsonout: writing JSON text by hand for CLI output, safely. */
#ifndef EDUWATCH_JSONOUT_H
#define EDUWATCH_JSONOUT_H

#include <stddef.h>
#include <stdio.h>

#include <msgpack.h>

/* Writes s as a JSON string: quotes, backslashes and control bytes
 * escaped; valid UTF-8 passed through, and each byte of an invalid
 * sequence (a file name can hold anything) written as U+FFFD, so the
 * output is always valid JSON. */
void json_print_string(FILE *f, const char *s);
void json_print_strn(FILE *f, const char *s, size_t n);

/* Writes a msgpack value as JSON: maps with string keys, arrays, strings,
 * integers, floats, booleans and nil; binary as a hex string. */
void json_print_msgpack(FILE *f, const msgpack_object *o);

#endif
