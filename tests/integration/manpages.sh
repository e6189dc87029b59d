#!/bin/bash
# Issue 20: a man page for both programs and for every command, generated
# from the usage text that --help prints (packaging/manpages.py), and the
# bash completion from the same. The commands come from the programs'
# own dispatch tables in the source, so a command added to a table
# without a line in --help has no page, and this test fails.
# Scenarios run alone: make test ONLY=manpages:completion
. "$(dirname "$0")/lib.bash"
TREE=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "$EW_BIN" && pwd)
VARIANT=$(basename "$(dirname "$BIN")")
BUILD=$(dirname "$(dirname "$BIN")")
MAN="$BUILD/$VARIANT/man"

# The pages and the completion every scenario reads, made once.
setup() {
	make -s -C "$TREE" BUILD="$BUILD" VARIANT="$VARIANT" man >"$WORK/make.out" 2>&1
	check "make man generates the pages ($(tail -1 "$WORK/make.out"))" test -f "$MAN/eduwatch-collector.8"
}

# The collector's table: {"command", "sub" or NULL, ...}.
collector_cmds() {
	sed -n '/^static const struct cli_command commands\[\]/,/^};/p' \
		"$TREE/collector/main.c" |
		sed -n 's/^[[:space:]]*{"\([a-z-]*\)", \(NULL\|"\([a-z-]*\)"\),.*/\1 \3/p'
}
# The agent's: the helpers' table and main()'s strcmp(cmd, ...) chain.
agent_cmds() {
	{
		grep -o '{"[a-z][a-z-]*", [A-Z_]*_HELPER}' "$TREE/agent/main.c" |
			sed 's/{"\([a-z-]*\)".*/\1/'
		sed -n 's/.*strcmp(cmd, "\([a-z][a-z-]*\)").*/\1/p' "$TREE/agent/main.c"
	} | sort -u
}

# Each command of both programs' tables has its page.
scenario_every_command_has_a_page() {
	n=$(collector_cmds | wc -l)
	check "the collector's command table was read ($n entries)" test "$n" -gt 20
	lacking=""
	while read -r cmd sub; do
		page="$MAN/eduwatch-collector-$cmd.8"
		if [ ! -f "$page" ]; then
			lacking="$lacking $cmd"
		elif [ -n "$sub" ] && ! grep -qw -- "$sub" "$page"; then
			lacking="$lacking $cmd:$sub"
		fi
	done < <(collector_cmds)
	check "every collector command and subcommand has its page${lacking:+ (lacking:$lacking)}" \
		test -z "$lacking"

	n=$(agent_cmds | wc -l)
	check "the agent's commands were read ($n)" test "$n" -ge 9
	lacking=""
	for cmd in $(agent_cmds); do
		[ -f "$MAN/eduwatch-agent-$cmd.8" ] || lacking="$lacking $cmd"
	done
	check "every agent command has its page${lacking:+ (lacking:$lacking)}" test -z "$lacking"
}

# Every page renders without a groff or man warning.
scenario_pages_render() {
	bad=""
	for p in "$MAN"/*.8; do
		w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$p" 2>&1 >/dev/null)
		[ -z "$w" ] || bad="$bad ${p##*/}: $w"
	done
	check "every page renders without warnings${bad:+ ($bad)}" test -z "$bad"
}

# The page says what --help says: each help line's words are in it.
scenario_pages_follow_help() {
	LC_ALL=C.UTF-8 MANWIDTH=200 man -E UTF-8 -l "$MAN/eduwatch-collector-token.8" \
		2>/dev/null | col -b >"$WORK/token.txt"
	check "eduwatch-collector-token(8) shows the synopsis --help gives" \
		grep -q "eduwatch-collector token create --school CODE \[--uses N\] \[--expires 7d\]" "$WORK/token.txt"
	LC_ALL=C.UTF-8 MANWIDTH=200 man -E UTF-8 -l "$MAN/eduwatch-agent.8" 2>/dev/null |
		col -b >"$WORK/agent.txt"
	check "eduwatch-agent(8) lists the options and exit codes" \
		grep -q -- "--config FILE" "$WORK/agent.txt"
}

# A page for a command --help does not list: the generator is driven by
# the help text, so a fake program whose help lacks 'token' gets no page.
scenario_help_drives_pages() {
	mkdir -p "$WORK/fake"
	"$BIN/eduwatch-collector" --help 2>&1 | grep -v '^  token ' >"$WORK/fake/help"
	printf '#!/bin/sh\ncat %s\n' "$WORK/fake/help" >"$WORK/fake/eduwatch-collector"
	chmod +x "$WORK/fake/eduwatch-collector"
	python3 "$TREE/packaging/manpages.py" "$WORK/fake/out" "$WORK/fake/eduwatch-collector"
	check "a command missing from --help gets no page (so the table check above fails)" \
		test ! -e "$WORK/fake/out/eduwatch-collector-token.8" -a -e "$WORK/fake/out/eduwatch-collector-school.8"
}

# Bash completion from the same help.
complete_words() { # complete_words PROGRAM WORD...: what TAB offers
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
		"_${1//-/_}"; printf "%s\n" "${COMPREPLY[@]}"' _ \
		"$MAN/completion/$1" "$@"
}
scenario_completion() {
	check "completion: 'eduwatch-collector sch<TAB>' gives school" \
		eq "$(complete_words eduwatch-collector sch)" "school"
	check "completion: 'eduwatch-collector report <TAB>' gives its subcommands" \
		eq "$(complete_words eduwatch-collector report '' | tr '\n' ' ')" \
		"draft export list show sign verify "
	check "completion: 'eduwatch-agent enroll --col<TAB>' gives --collector" \
		eq "$(complete_words eduwatch-agent enroll --col)" "--collector"
}
run_scenarios
