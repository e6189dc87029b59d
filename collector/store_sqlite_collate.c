/* store_sqlite_collate: the "vi" collation, Vietnamese dictionary order
 * for the names officers read in lists (schools, communes).
 *
 * The alphabet is a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y
 * (f j w z, from foreign names, in their Latin places); letters compare
 * first without their tone marks, then by tone (none, huyền, hỏi, ngã,
 * sắc, nặng), then by case, then by bytes, so the order is total and
 * stable. Byte order would put "Ân Phú" after "Bình Minh", and "Đông"
 * anywhere glibc's UTF-8 bytes land. Only precomposed (NFC) letters are
 * known, which is what the register, the CLI and the console store;
 * anything else sorts by code point after the letters. The collation is
 * named only in queries, never in the schema, so other tools can still
 * open the file. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "collector/store_sqlite.h"

struct vi_letter {
	uint32_t cp;
	uint8_t rank; /* in the alphabet above, from 0 */
	uint8_t tone;
	uint8_t upper;
};

/* Every precomposed Vietnamese letter outside ASCII, by code point
 * (generated from Unicode's NFC compositions of the 12 vowels with the
 * 5 tone marks, and Đ đ). */
static const struct vi_letter letters[] = {
	{0x00C0,  0, 1, 1}, /* À */
	{0x00C1,  0, 4, 1}, /* Á */
	{0x00C2,  2, 0, 1}, /* Â */
	{0x00C3,  0, 3, 1}, /* Ã */
	{0x00C8,  7, 1, 1}, /* È */
	{0x00C9,  7, 4, 1}, /* É */
	{0x00CA,  8, 0, 1}, /* Ê */
	{0x00CC, 12, 1, 1}, /* Ì */
	{0x00CD, 12, 4, 1}, /* Í */
	{0x00D2, 18, 1, 1}, /* Ò */
	{0x00D3, 18, 4, 1}, /* Ó */
	{0x00D4, 19, 0, 1}, /* Ô */
	{0x00D5, 18, 3, 1}, /* Õ */
	{0x00D9, 26, 1, 1}, /* Ù */
	{0x00DA, 26, 4, 1}, /* Ú */
	{0x00DD, 31, 4, 1}, /* Ý */
	{0x00E0,  0, 1, 0}, /* à */
	{0x00E1,  0, 4, 0}, /* á */
	{0x00E2,  2, 0, 0}, /* â */
	{0x00E3,  0, 3, 0}, /* ã */
	{0x00E8,  7, 1, 0}, /* è */
	{0x00E9,  7, 4, 0}, /* é */
	{0x00EA,  8, 0, 0}, /* ê */
	{0x00EC, 12, 1, 0}, /* ì */
	{0x00ED, 12, 4, 0}, /* í */
	{0x00F2, 18, 1, 0}, /* ò */
	{0x00F3, 18, 4, 0}, /* ó */
	{0x00F4, 19, 0, 0}, /* ô */
	{0x00F5, 18, 3, 0}, /* õ */
	{0x00F9, 26, 1, 0}, /* ù */
	{0x00FA, 26, 4, 0}, /* ú */
	{0x00FD, 31, 4, 0}, /* ý */
	{0x0102,  1, 0, 1}, /* Ă */
	{0x0103,  1, 0, 0}, /* ă */
	{0x0110,  6, 0, 1}, /* Đ */
	{0x0111,  6, 0, 0}, /* đ */
	{0x0128, 12, 3, 1}, /* Ĩ */
	{0x0129, 12, 3, 0}, /* ĩ */
	{0x0168, 26, 3, 1}, /* Ũ */
	{0x0169, 26, 3, 0}, /* ũ */
	{0x01A0, 20, 0, 1}, /* Ơ */
	{0x01A1, 20, 0, 0}, /* ơ */
	{0x01AF, 27, 0, 1}, /* Ư */
	{0x01B0, 27, 0, 0}, /* ư */
	{0x1EA0,  0, 5, 1}, /* Ạ */
	{0x1EA1,  0, 5, 0}, /* ạ */
	{0x1EA2,  0, 2, 1}, /* Ả */
	{0x1EA3,  0, 2, 0}, /* ả */
	{0x1EA4,  2, 4, 1}, /* Ấ */
	{0x1EA5,  2, 4, 0}, /* ấ */
	{0x1EA6,  2, 1, 1}, /* Ầ */
	{0x1EA7,  2, 1, 0}, /* ầ */
	{0x1EA8,  2, 2, 1}, /* Ẩ */
	{0x1EA9,  2, 2, 0}, /* ẩ */
	{0x1EAA,  2, 3, 1}, /* Ẫ */
	{0x1EAB,  2, 3, 0}, /* ẫ */
	{0x1EAC,  2, 5, 1}, /* Ậ */
	{0x1EAD,  2, 5, 0}, /* ậ */
	{0x1EAE,  1, 4, 1}, /* Ắ */
	{0x1EAF,  1, 4, 0}, /* ắ */
	{0x1EB0,  1, 1, 1}, /* Ằ */
	{0x1EB1,  1, 1, 0}, /* ằ */
	{0x1EB2,  1, 2, 1}, /* Ẳ */
	{0x1EB3,  1, 2, 0}, /* ẳ */
	{0x1EB4,  1, 3, 1}, /* Ẵ */
	{0x1EB5,  1, 3, 0}, /* ẵ */
	{0x1EB6,  1, 5, 1}, /* Ặ */
	{0x1EB7,  1, 5, 0}, /* ặ */
	{0x1EB8,  7, 5, 1}, /* Ẹ */
	{0x1EB9,  7, 5, 0}, /* ẹ */
	{0x1EBA,  7, 2, 1}, /* Ẻ */
	{0x1EBB,  7, 2, 0}, /* ẻ */
	{0x1EBC,  7, 3, 1}, /* Ẽ */
	{0x1EBD,  7, 3, 0}, /* ẽ */
	{0x1EBE,  8, 4, 1}, /* Ế */
	{0x1EBF,  8, 4, 0}, /* ế */
	{0x1EC0,  8, 1, 1}, /* Ề */
	{0x1EC1,  8, 1, 0}, /* ề */
	{0x1EC2,  8, 2, 1}, /* Ể */
	{0x1EC3,  8, 2, 0}, /* ể */
	{0x1EC4,  8, 3, 1}, /* Ễ */
	{0x1EC5,  8, 3, 0}, /* ễ */
	{0x1EC6,  8, 5, 1}, /* Ệ */
	{0x1EC7,  8, 5, 0}, /* ệ */
	{0x1EC8, 12, 2, 1}, /* Ỉ */
	{0x1EC9, 12, 2, 0}, /* ỉ */
	{0x1ECA, 12, 5, 1}, /* Ị */
	{0x1ECB, 12, 5, 0}, /* ị */
	{0x1ECC, 18, 5, 1}, /* Ọ */
	{0x1ECD, 18, 5, 0}, /* ọ */
	{0x1ECE, 18, 2, 1}, /* Ỏ */
	{0x1ECF, 18, 2, 0}, /* ỏ */
	{0x1ED0, 19, 4, 1}, /* Ố */
	{0x1ED1, 19, 4, 0}, /* ố */
	{0x1ED2, 19, 1, 1}, /* Ồ */
	{0x1ED3, 19, 1, 0}, /* ồ */
	{0x1ED4, 19, 2, 1}, /* Ổ */
	{0x1ED5, 19, 2, 0}, /* ổ */
	{0x1ED6, 19, 3, 1}, /* Ỗ */
	{0x1ED7, 19, 3, 0}, /* ỗ */
	{0x1ED8, 19, 5, 1}, /* Ộ */
	{0x1ED9, 19, 5, 0}, /* ộ */
	{0x1EDA, 20, 4, 1}, /* Ớ */
	{0x1EDB, 20, 4, 0}, /* ớ */
	{0x1EDC, 20, 1, 1}, /* Ờ */
	{0x1EDD, 20, 1, 0}, /* ờ */
	{0x1EDE, 20, 2, 1}, /* Ở */
	{0x1EDF, 20, 2, 0}, /* ở */
	{0x1EE0, 20, 3, 1}, /* Ỡ */
	{0x1EE1, 20, 3, 0}, /* ỡ */
	{0x1EE2, 20, 5, 1}, /* Ợ */
	{0x1EE3, 20, 5, 0}, /* ợ */
	{0x1EE4, 26, 5, 1}, /* Ụ */
	{0x1EE5, 26, 5, 0}, /* ụ */
	{0x1EE6, 26, 2, 1}, /* Ủ */
	{0x1EE7, 26, 2, 0}, /* ủ */
	{0x1EE8, 27, 4, 1}, /* Ứ */
	{0x1EE9, 27, 4, 0}, /* ứ */
	{0x1EEA, 27, 1, 1}, /* Ừ */
	{0x1EEB, 27, 1, 0}, /* ừ */
	{0x1EEC, 27, 2, 1}, /* Ử */
	{0x1EED, 27, 2, 0}, /* ử */
	{0x1EEE, 27, 3, 1}, /* Ữ */
	{0x1EEF, 27, 3, 0}, /* ữ */
	{0x1EF0, 27, 5, 1}, /* Ự */
	{0x1EF1, 27, 5, 0}, /* ự */
	{0x1EF2, 31, 1, 1}, /* Ỳ */
	{0x1EF3, 31, 1, 0}, /* ỳ */
	{0x1EF4, 31, 5, 1}, /* Ỵ */
	{0x1EF5, 31, 5, 0}, /* ỵ */
	{0x1EF6, 31, 2, 1}, /* Ỷ */
	{0x1EF7, 31, 2, 0}, /* ỷ */
	{0x1EF8, 31, 3, 1}, /* Ỹ */
	{0x1EF9, 31, 3, 0}, /* ỹ */
};

/* The ranks of ASCII a..z in that alphabet. */
static const uint8_t ascii_rank[26] = {
	0, 3, 4, 5, 7, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 32,
};

#define PRIMARY_LETTERS 200	 /* above every ASCII non-letter */
#define PRIMARY_OTHER 0x200000u /* above every letter */

struct vi_key {
	uint32_t primary;
	uint8_t tone, upper;
};

/* Decodes one UTF-8 character at s[*i] (n bytes); a malformed byte is
 * taken alone and sorts after everything valid. */
static uint32_t next_cp(const unsigned char *s, int n, int *i)
{
	unsigned char c = s[*i];
	int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
			       : (c & 0xF8) == 0xF0	   ? 4
							   : 0;
	uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
	if (len == 0 || *i + len > n) {
		(*i)++;
		return 0x110000u + c;
	}
	for (int k = 1; k < len; k++) {
		if ((s[*i + k] & 0xC0) != 0x80) {
			(*i)++;
			return 0x110000u + c;
		}
		cp = (cp << 6) | (s[*i + k] & 0x3Fu);
	}
	*i += len;
	return cp;
}

static struct vi_key key_of(uint32_t cp)
{
	struct vi_key k = {0, 0, 0};
	if (cp < 128) {
		if (cp >= 'a' && cp <= 'z')
			k.primary = PRIMARY_LETTERS + ascii_rank[cp - 'a'];
		else if (cp >= 'A' && cp <= 'Z')
			k.primary = PRIMARY_LETTERS + ascii_rank[cp - 'A'],
			k.upper = 1;
		else
			k.primary = cp;
		return k;
	}
	size_t lo = 0, hi = sizeof(letters) / sizeof(letters[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (letters[mid].cp == cp) {
			k.primary = PRIMARY_LETTERS + letters[mid].rank;
			k.tone = letters[mid].tone;
			k.upper = letters[mid].upper;
			return k;
		}
		if (letters[mid].cp < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	k.primary = PRIMARY_OTHER + cp;
	return k;
}

/* One level of the comparison over both strings: 0 when equal there. */
static int compare_level(const unsigned char *a, int na, const unsigned char *b,
			 int nb, int level)
{
	int i = 0, j = 0;
	while (i < na && j < nb) {
		struct vi_key ka = key_of(next_cp(a, na, &i));
		struct vi_key kb = key_of(next_cp(b, nb, &j));
		uint32_t x = level == 0 ? ka.primary : level == 1 ? ka.tone : ka.upper;
		uint32_t y = level == 0 ? kb.primary : level == 1 ? kb.tone : kb.upper;
		if (x != y)
			return x < y ? -1 : 1;
	}
	if (i < na || j < nb)
		return i < na ? 1 : -1; /* a prefix first */
	return 0;
}

int sqlite_collate_vi(void *arg, int na, const void *a, int nb, const void *b)
{
	(void)arg;
	for (int level = 0; level < 3; level++) {
		int c = compare_level(a, na, b, nb, level);
		if (c != 0)
			return c;
	}
	int c = memcmp(a, b, (size_t)(na < nb ? na : nb));
	return c != 0 ? c : (na > nb) - (na < nb);
}

int sqlite_collation_register(sqlite3 *db)
{
	return sqlite3_create_collation_v2(db, "vi", SQLITE_UTF8, NULL,
					   sqlite_collate_vi, NULL) == SQLITE_OK
		       ? 0
		       : -EIO;
}
