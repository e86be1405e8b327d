package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// cmdMan is the hidden zdu __man: the zdu(1) manual page in roff, made from
// the usage text and each command's own flags, so that it cannot fall
// behind them. The package build writes it to /usr/share/man/man1/zdu.1.gz.
// Its date is SOURCE_DATE_EPOCH's, else the stamped revision's: the same
// build gives the same page.
func cmdMan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "zdu __man: takes no arguments")
		return exitBadInput
	}
	writeMan(stdout)
	return exitOK
}

func writeMan(w io.Writer) {
	date := revisionTime
	if s, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		date = time.Unix(s, 0).UTC().Format("2006-01-02")
	} else if len(date) >= 10 {
		date = date[:10]
	}
	v := version
	if v == "" {
		v = "(development build)"
	}
	fmt.Fprintf(w, ".TH ZDU 1 %q %q \"User Commands\"\n", date, "zdu "+v)
	fmt.Fprint(w, `.SH NAME
zdu \- declarative zero\-downtime upgrades
.SH SYNOPSIS
.nf
`)
	for _, l := range strings.Split(usage, "\n") {
		if strings.HasPrefix(l, "  zdu ") {
			fmt.Fprintln(w, roff(strings.TrimSpace(l)))
		}
	}
	fmt.Fprint(w, `.fi
.SH DESCRIPTION
zdu runs rolling upgrades written once as a YAML
.I plan
(phases, steps, conditions, rollback rules) against an
.I inventory
of nodes: it validates the plan, compiles it into a graph, and runs it node
by node over SSH, draining each node from the load balancer before touching
it and putting it back only once it is healthy. Host keys are verified,
interpolated values are shell\-quoted, secrets are masked in every output, and
every state change is journaled, so that a stopped run can be resumed.
.PP
.B zdu plan
is the dry run,
.B zdu rehearse
runs a plan on a local sandbox (SSH nodes, a real HAProxy, live traffic), and
.B zdu init
starts a plan for a new product from the shipped template library.
.SH COMMANDS
Flags may come before or after the arguments;
.B \-NAME
and
.B \-\-NAME
are the same.
`)
	for _, name := range visibleCommands() {
		if name == "help" {
			continue
		}
		fmt.Fprintf(w, ".SS %s\n", roff(name))
		for _, l := range strings.Split(usage, "\n") {
			if strings.HasPrefix(l, "  zdu "+name+" ") || l == "  zdu "+name {
				// The usage's notes in parentheses are the summary's job here.
				l, _, _ = strings.Cut(l, "   (")
				fmt.Fprintf(w, ".B %s\n.br\n", roff(strings.TrimSpace(l)))
			}
		}
		fmt.Fprintln(w, roff(capital(cmdInfos[name].summary))+".")
		fs := flagsOf(name)
		if fs == nil {
			continue
		}
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(w, ".TP\n.B %s", roff(dashed(f.Name)))
			if !isBool(f) {
				vn, _ := flag.UnquoteUsage(f)
				if vn == "" {
					vn = "value"
				}
				fmt.Fprintf(w, " \\fI%s\\fR", roff(vn))
			}
			fmt.Fprintln(w)
			u := f.Usage
			switch {
			case f.Name == "state":
				// Not this machine's: the page is built elsewhere.
				u += " (default $ZDU_STATE, else $XDG_STATE_HOME/zdu, else ~/.local/state/zdu)"
			case f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]":
				u += " (default " + f.DefValue + ")"
			}
			fmt.Fprintln(w, roff(u))
		})
	}
	fmt.Fprint(w, `.SH EXIT STATUS
.TP
.B 0
success
.TP
.B 2
bad input: an invalid plan, inventory or flag; nothing was run
.TP
.B 3
nodes held by another run; nothing was run
.TP
.B 80
a fatal error (an unreachable node at preflight, a journal that cannot be written)
.TP
.B 81
the availability probe saw more failures than the error budget allows
.TP
.B 82
a live gate fired
.TP
.B 83
a canary was aborted
.TP
.B 130
interrupted (SIGINT, SIGTERM, SIGHUP); drained nodes were put back
.PP
Otherwise the failing phase's declared exitCode.
.SH ENVIRONMENT
.TP
.B ZDU_LIBRARY
directories (a path list, like PATH) where
.B uses:
templates are looked for when they are not beside the file using them;
then plans/ beside the zdu binary, then /usr/share/zdu/plans.
.TP
.B ZDU_STATE
the state directory (locks, the record of every run); default
$XDG_STATE_HOME/zdu or ~/.local/state/zdu.
.TP
.B ZDU_MAX_INPUT_BYTES
the largest plan or inventory file read.
.SH FILES
.TP
.I /usr/share/zdu/plans
the shipped plans (nova\-api, axway\-7.7, keycloak) with example inventories,
and the template library (lib/) that
.B uses: lib/NAME.yaml
finds from any plan.
.TP
.I zdu\-runs/
run directories: journal.jsonl, run.log, nodes/, summary.txt, summary.json.
.SH EXAMPLES
.nf
zdu init ~/plans/myapp
zdu validate myapp.yaml \-i myapp.inventory.yaml
zdu rehearse /usr/share/zdu/plans/nova\-api.yaml \-\-nodes 2
zdu run myapp.yaml \-i prod.yaml \-\-set package=myapp \-\-probe http://lb/health
.fi
.SH SEE ALSO
The operator's reference is in /usr/share/doc/zdu (cli.md, plan\-language.md,
writing\-a\-plan.md, step\-types.md).
`)
}

// roff escapes text for a roff line: backslashes, hyphens (as minus
// signs, so that flags can be searched and pasted), and a leading dot or
// quote.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
