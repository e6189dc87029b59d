/* i18n: the console's message catalogue, Vietnamese first, English
 * second, and dates as officers write them (dd/mm/yyyy, Vietnam time). */
#ifndef EDUWATCH_WEB_I18N_H
#define EDUWATCH_WEB_I18N_H

#include <stddef.h>
#include <stdint.h>

enum i18n_lang { I18N_VI, I18N_EN };

/* The text of key in lang; the key itself when it is missing (a test
 * checks that every key has both languages). */
const char *i18n_msg(enum i18n_lang lang, const char *key);
/* "vi" or "en" from a preference ("vi", "en") or an Accept-Language
 * header: the first of vi/en it names, else Vietnamese. */
enum i18n_lang i18n_pick(const char *pref, const char *accept, size_t alen);
const char *i18n_code(enum i18n_lang lang);
/* dd/mm/yyyy HH:MM in Vietnam's time (UTC+7, no daylight saving); "-"
 * for 0. */
void i18n_datetime(int64_t us, char *out, size_t cap);
/* A day "yyyy-mm-dd" (a snapshot's, a chart's) as dd/mm/yyyy; "-" for
 * anything else. */
void i18n_day(const char *iso, char *out, size_t cap);
/* Every key, for the catalogue's test. */
size_t i18n_count(void);
const char *i18n_key(size_t i);

#endif
