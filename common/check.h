/* check: rules about results and invariants that the compiler and the
 * running program enforce, in every build.
 *
 * EW_MUST_CHECK marks a function whose result must not be dropped: an open,
 * load, parse, write, send or store call, whose failure the caller has to
 * handle. The Makefile builds with -Werror, so a dropped result is a build
 * error. Where dropping it is right (a best-effort cleanup after an earlier
 * failure), say so with EW_IGNORE(call) and a comment saying why: GCC does
 * not accept a plain (void) cast as silencing warn_unused_result.
 *
 * EW_ASSERT(cond) checks an invariant the code relies on (a connection
 * counter, a queue's length, a list's membership). It is never compiled
 * out, NDEBUG or not: a broken invariant in a root daemon is a bug to stop
 * at, with its file, line and expression on stderr, not a state to run on
 * in. Use it for what "cannot happen", never for input checking. */
#ifndef EDUWATCH_CHECK_H
#define EDUWATCH_CHECK_H

#if defined(__GNUC__) || defined(__clang__)
#define EW_MUST_CHECK __attribute__((warn_unused_result))
#define EW_NORETURN __attribute__((noreturn))
#define EW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define EW_MUST_CHECK
#define EW_NORETURN
#define EW_UNLIKELY(x) (x)
#endif

/* Drops a must-check result on purpose. The `!` makes it a new value, which
 * GCC (unlike clang) requires before a (void) cast counts. */
#define EW_IGNORE(call) ((void)!(call))

/* Prints "file:line: assertion failed: expr" and aborts. */
EW_NORETURN void ew_assert_fail(const char *file, int line, const char *expr);

#define EW_ASSERT(cond)                                                      \
	do {                                                                 \
		if (EW_UNLIKELY(!(cond)))                                    \
			ew_assert_fail(__FILE__, __LINE__, #cond);           \
	} while (0)

#endif
