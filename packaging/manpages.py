#!/usr/bin/python3
"""Man pages and bash completion from a program's own --help.

The usage text compiled into each program is the one source: this reads
`PROGRAM --help`, splits its "Commands:" section into entries (a line
indented by two spaces starts one; lines indented less than the
description column continue its synopsis, deeper ones its description),
and writes
  PROGRAM.8               every command, the options and exit codes;
  PROGRAM-COMMAND.8       one page per command word (`school`, `report`...),
                          with every form of it the help lists;
  completion/PROGRAM      a bash completion script for commands, their
                          second words and their options.
So a command the help does not list has no page, and the test that
compares the programs' command tables with the pages catches it
(tests/integration/manpages.sh).

usage: manpages.py OUTDIR PROGRAM... (each PROGRAM a path to a binary)
"""
import collections
import os
import re
import subprocess
import sys

SUMMARY = {
    "eduwatch-collector": "the provincial collector of eduwatch: enrollment "
                          "CA, event store, scores, alerts, SOC feed, reports",
    "eduwatch-agent": "the eduwatch agent on a school PC: antivirus status, "
                      "YARA scans, backups, LAN sensor",
}
SOURCE = "eduwatch"


def roff(text):
    """One line of running text, safe for roff."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"(?<![\w])-", r"\\-", text)
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def parse_help(text):
    """(head lines, [(synopsis, description)], trailing sections)."""
    lines = text.splitlines()
    try:
        start = lines.index("Commands:") + 1
    except ValueError:
        sys.exit("manpages.py: no 'Commands:' section in the help text")
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    body = lines[start:end]
    indents = collections.Counter(
        len(l) - len(l.lstrip()) for l in body if len(l) - len(l.lstrip()) > 4)
    desc_col = indents.most_common(1)[0][0] if indents else 24
    entries = []
    for line in body:
        indent = len(line) - len(line.lstrip())
        if indent == 2 and line[2].isalpha():
            syn, desc = line, ""
            if len(line) > desc_col and line[desc_col - 2:desc_col] == "  ":
                syn, desc = line[:desc_col], line[desc_col:]
            entries.append([[syn.strip()], [desc.strip()] if desc.strip() else []])
        elif not entries:
            continue
        elif indent >= desc_col:
            entries[-1][1].append(line.strip())
        else:
            entries[-1][0].append(line.strip())
    rest = lines[end:]
    return lines[:start - 1], entries, rest


def sections(rest):
    """The blocks after the commands, by their heading, which may run
    over several lines up to the one ending in a colon:
    {"Options": [...], "Exit codes: 0 done, ...": []}."""
    out, cur, heading = collections.OrderedDict(), None, []
    for line in rest:
        if not line.strip():
            if heading:
                out[" ".join(heading)] = []
            cur, heading = None, []
            continue
        if cur is None:
            heading.append(line.strip())
            if line.endswith(":") or line.startswith("Exit"):
                cur = " ".join(heading).rstrip(":")
                out[cur] = []
                heading = []
            continue
        out[cur].append(line)
    if heading:
        out[" ".join(heading)] = []
    return out


def command_word(synopsis):
    return synopsis[0].split()[0]


def second_words(synopsis_lines):
    """The subcommand words of one entry: `report draft|show|export`,
    `user disable NAME | user unlock NAME`, `backup init | run | list`;
    not the values of an option (`--type ping|status|scan`)."""
    text = re.sub(r"\[[^\]]*\]", " ", " ".join(synopsis_lines))
    toks = text.split()
    word = re.compile(r"[a-z][a-z0-9-]*")
    words = []
    after_bar = True
    for i, tok in enumerate(toks[1:], start=1):
        if tok == "|":
            after_bar = True
            continue
        if tok == toks[0]:
            continue
        if after_bar or (i == 1):
            alts = tok.split("|")
            if not toks[i - 1].startswith("-") and all(word.fullmatch(a) for a in alts):
                words.extend(alts)
        after_bar = False
    return words


def th(name, title):
    return ('.TH "%s" 8 "" "%s" "%s"\n' % (name.upper(), SOURCE, title))


def page_main(prog, entries, extra):
    out = [th(prog, "eduwatch manual")]
    out.append(".SH NAME\n%s \\- %s\n" % (prog, SUMMARY.get(prog, prog)))
    out.append(".SH SYNOPSIS\n.B %s\n.I COMMAND\n[\\fIOPTIONS\\fR]\n" % prog)
    out.append(".SH DESCRIPTION\nEach command has its own page, "
               "\\fB%s\\-\\fICOMMAND\\fR(8); this page lists them all, as "
               "\\fB%s \\-\\-help\\fR does.\n" % (prog, prog))
    out.append(".SH COMMANDS\n")
    for syn, desc in entries:
        out.append(".TP\n.B %s\n" % roff(syn[0]))
        for s in syn[1:]:
            out.append(".br\n%s\n" % roff(s))
        if desc:
            out.append(".br\n%s\n" % roff(" ".join(desc)))
    out.extend(extra_sections(extra))
    words = sorted({command_word(s) for s, _ in entries})
    out.append(".SH SEE ALSO\n" + ",\n".join(
        "\\fB%s\\-%s\\fR(8)" % (prog, w) for w in words) + "\n")
    return "".join(out)


def extra_sections(extra):
    out = []
    for title, lines in extra.items():
        name = "OPTIONS" if title.startswith("Options") else \
            "EXIT STATUS" if title.startswith("Exit") else title.upper()
        out.append(".SH %s\n" % name)
        if title != "Options":
            out.append("%s%s\n" % (roff(title),
                                    ":" if title.startswith("Options") else ""))
        pending = None
        for line in lines:
            m = re.match(r"^  (-\S.*?)(?:\s{2,}(.*))?$", line)
            if m and title.startswith("Options"):
                out.append(".TP\n.B %s\n" % roff(m.group(1)))
                if m.group(2):
                    out.append("%s\n" % roff(m.group(2)))
                pending = True
            else:
                out.append("%s\n" % roff(line.strip()))
        out.append(".PP\n" if pending is None else "")
    return out


def page_command(prog, word, group, extra):
    name = "%s-%s" % (prog, word)
    out = [th(name, "eduwatch manual")]
    out.append(".SH NAME\n%s \\- the %s command of %s\n" %
               (name.replace("-", "\\-"), word, prog))
    out.append(".SH SYNOPSIS\n")
    for syn, _ in group:
        out.append(".nf\n\\fB%s\\fR %s\n" % (prog, roff(syn[0])))
        for s in syn[1:]:
            out.append("%s\n" % roff(" " * (len(prog) + 1) + s))
        out.append(".fi\n")
    out.append(".SH DESCRIPTION\n")
    for syn, desc in group:
        out.append(".TP\n.B %s\n%s\n" % (roff(" ".join(syn[0].split()[:2])),
                                          roff(" ".join(desc)) if desc else
                                          "See the synopsis."))
    out.extend(extra_sections(extra))
    out.append(".SH SEE ALSO\n\\fB%s\\fR(8)\n" % prog)
    return "".join(out)


def completion(prog, entries, extra):
    fn = "_" + prog.replace("-", "_")
    words = collections.OrderedDict()
    for syn, _ in entries:
        w = command_word(syn)
        slot = words.setdefault(w, [set(), set()])
        slot[0].update(second_words(syn))
        slot[1].update(re.findall(r"--[a-z0-9-]+", " ".join(syn)))
    globals_ = set()
    for title, lines in extra.items():
        if title.startswith("Options"):
            for line in lines:
                globals_.update(re.findall(r"(?<![\w-])-{1,2}[a-z][a-z0-9-]*", line.split("  ")[1] if line.startswith("  -") else ""))
    out = ["# bash completion for %s, generated from its --help by\n"
           "# packaging/manpages.py; do not edit.\n" % prog]
    out.append("%s()\n{\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}\n" % fn)
    out.append("\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
               "\t\tCOMPREPLY=($(compgen -W '%s' -- \"$cur\"))\n\t\treturn\n\tfi\n"
               % " ".join(sorted(words) + ["--help"]))
    out.append("\tlocal subs='' opts='%s'\n\tcase $cmd in\n" % " ".join(sorted(globals_)))
    for w, (subs, opts) in words.items():
        out.append("\t%s) subs='%s' opts=\"$opts %s\" ;;\n" %
                   (w, " ".join(sorted(subs)), " ".join(sorted(opts))))
    out.append("\tesac\n")
    out.append("\tif [ \"$COMP_CWORD\" -eq 2 ] && [ -n \"$subs\" ] && [[ $cur != -* ]]; then\n"
               "\t\tCOMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
               "\telif [[ $cur == -* ]]; then\n"
               "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
               "\telse\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\tfi\n}\n")
    out.append("complete -F %s %s\n" % (fn, prog))
    return "".join(out)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(os.path.join(outdir, "completion"), exist_ok=True)
    for binary in sys.argv[2:]:
        prog = os.path.basename(binary)
        res = subprocess.run([binary, "--help"], capture_output=True, text=True)
        text = res.stdout or res.stderr
        _, entries, rest = parse_help(text)
        extra = sections(rest)
        groups = collections.OrderedDict()
        for e in entries:
            groups.setdefault(command_word(e[0]), []).append(e)
        with open(os.path.join(outdir, prog + ".8"), "w") as f:
            f.write(page_main(prog, entries, extra))
        for word, group in groups.items():
            with open(os.path.join(outdir, "%s-%s.8" % (prog, word)), "w") as f:
                f.write(page_command(prog, word, group, extra))
        with open(os.path.join(outdir, "completion", prog), "w") as f:
            f.write(completion(prog, entries, extra))


if __name__ == "__main__":
    main()
