#!/bin/bash
# The calls STYLE.md bans are refused by the compiler, with the flags the
# Makefile gives every file (-include common/banned.h), and the tree
# builds with them: a ban that is only a review comment gets broken.
# Scenarios run alone by name: make test ONLY=style_bans:banned_calls
# It runs gcc on the sources and no eduwatch binary, which no sanitizer
# build changes:
# ew-variants: release
. "$(dirname "$0")/lib.bash"
cd "$(dirname "$0")/../.."

scenario_forced_include() {
	local FLAGS
	FLAGS=$(make -s --no-print-directory -p -n VARIANT=release 2>/dev/null | sed -n 's/^BASE *:= *//p' | head -1)
	check "the Makefile force-includes common/banned.h" grep -q -- "-include common/banned.h" <<<"$FLAGS"
}

scenario_banned_calls() {
	local name out
	for name in gets sprintf vsprintf strcat strncat strncpy strtok atoi system popen strerror strsignal; do
		printf '#include <stdio.h>\nvoid *f(void);\nvoid *f(void) { return (void *)%s; }\n' "$name" >"$WORK/ban.c"
		out=$(gcc -std=c11 -D_GNU_SOURCE -I. -include common/banned.h -fsyntax-only "$WORK/ban.c" 2>&1)
		check "$name is refused by the compiler" grep -q "poisoned \"$name\"" <<<"$out"
	done
}

scenario_allowed_form() {
	printf '#include <stdio.h>\nint f(char *b, size_t n);\nint f(char *b, size_t n) { return snprintf(b, n, "ok"); }\n' >"$WORK/ok.c"
	check "snprintf, the allowed form, compiles" gcc -std=c11 -D_GNU_SOURCE -I. -include common/banned.h -fsyntax-only "$WORK/ok.c"
}

run_scenarios
