package ssh

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/transport"
)

// wrap makes the remote shell run script in a process group of its own and
// print that group's id on stderr before anything else runs.
//
// Under OpenSSH the login shell already leads its own session and process
// group (sshd calls setsid() before starting it), so the common path costs
// only shell builtins: read the group id from /proc, check it is the
// shell's own pid, report it (with ":L": no new group was needed), and run
// the script. When the login shell is /bin/sh itself, invoked as sh (so a
// bash standing in for sh is in its POSIX mode), it runs the script itself
// (eval, with the wrapper's two variables unset first), as `sh -c` would;
// any other login shell execs sh on it. Elsewhere (no /proc, another
// server) setsid(1) makes a new group; its inner shell runs the script as a
// child so a signal death still exits 128+n. The script is always passed
// as one quoted word, never spliced, and written once (a command line is
// bounded: Linux takes 128 KiB in one argument).
//
// leads says an earlier command on the same connection needed no new
// group (its login shell led its own, or setsid(1) is missing): the same
// server and account answer every session alike, so the check is skipped
// (reading /proc/PID/stat costs a shell that reads a byte a syscall about
// a millisecond).
func wrap(script, token string, leads bool) string {
	if leads {
		return wrapHead + transport.Quote(script) + leaderTail(token)
	}
	return wrapHead + transport.Quote(script) + wrapTail(token)
}

const wrapHead = "zdu_s="

// wrapTail is the whole wrapper after the script's word.
func wrapTail(token string) string {
	marker := `echo "zdu-pgid:` + token + `:$$" >&2; `
	return `; zdu_p=; read -r _ _ _ _ zdu_p _ 2>/dev/null </proc/$$/stat; ` +
		`if [ "$zdu_p" != "$$" ] && command -v setsid >/dev/null 2>&1; then ` +
		`exec setsid -w sh -c ` + transport.Quote(marker+`sh -c "$1"`) + ` zdu "$zdu_s"; fi; unset zdu_p; ` +
		runTail(token)
}

// leaderTail is the wrapper after the script's word on a connection whose
// login shells lead their group.
func leaderTail(token string) string { return "; " + runTail(token) }

// runTail reports the login shell's group and runs the script.
func runTail(token string) string {
	return `echo "zdu-pgid:` + token + `:$$:L" >&2; ` +
		`if [ "${0##*/}" = sh ] && [ /proc/$$/exe -ef /bin/sh ]; then eval "unset zdu_s; $zdu_s"; ` +
		`else exec sh -c "$zdu_s"; fi`
}

// Unwrap returns the script and token of a command line wrap made; ok is
// false for any other command line. Stand-ins for nodes (the rehearsal's
// sandbox, the fleet simulator) read commands with it.
func Unwrap(cmd string) (script, token string, ok bool) {
	rest, found := strings.CutPrefix(cmd, wrapHead)
	if !found {
		return "", "", false
	}
	script, rest, found = transport.Unquote(rest)
	if !found {
		return "", "", false
	}
	const at = `echo "zdu-pgid:`
	i := strings.Index(rest, at)
	if i < 0 {
		return "", "", false
	}
	token, _, _ = strings.Cut(rest[i+len(at):], ":")
	if strings.ContainsAny(token, `'"$ \`) || rest != wrapTail(token) && rest != leaderTail(token) {
		return "", "", false
	}
	return script, token, true
}

// killScript ends process group pgid: SIGTERM, up to grace for it to go,
// then SIGKILL. With become the kill runs through sudo, since the group
// holds root's processes.
func killScript(pgid int, grace time.Duration, become bool) string {
	g := "-" + strconv.Itoa(pgid)
	polls := int(grace / (100 * time.Millisecond))
	s := fmt.Sprintf("kill -TERM %s 2>/dev/null || exit 0; i=0; "+
		"while [ $i -lt %d ] && kill -0 %s 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; "+
		"kill -KILL %s 2>/dev/null; exit 0", g, polls, g, g)
	if become {
		return "sudo -n sh -c " + transport.Quote(s)
	}
	return s
}

// pgidFilter takes the wrapper's "zdu-pgid:TOKEN:PGID" line out of stderr
// and passes everything else on. Lines before it (a noisy .bashrc) pass
// through; after it, bytes flow untouched.
type pgidFilter struct {
	marker  []byte
	next    io.Writer
	pending []byte
	done    bool
	found   chan int // receives the group id once
	// leads: the wrapper reported ":L", no new group needed (read once
	// the command has ended).
	leads bool
}

// maxPending bounds how much stderr is held back looking for the marker.
const maxPending = 64 << 10

func newPgidFilter(token string, next io.Writer) *pgidFilter {
	return &pgidFilter{marker: []byte("zdu-pgid:" + token + ":"), next: next, found: make(chan int, 1)}
}

func (f *pgidFilter) Write(p []byte) (int, error) {
	if f.done {
		return f.next.Write(p)
	}
	f.pending = append(f.pending, p...)
	for !f.done {
		nl := bytes.IndexByte(f.pending, '\n')
		if nl < 0 {
			break
		}
		line := f.pending[:nl]
		f.pending = f.pending[nl+1:]
		if rest, ok := bytes.CutPrefix(line, f.marker); ok {
			// Group 1 (init) or 0 would make the kill hit far more than the
			// command: accept only a real group id.
			id, flag, _ := bytes.Cut(rest, []byte(":"))
			if id, err := strconv.Atoi(string(id)); err == nil && id > 1 {
				f.leads = string(flag) == "L"
				f.found <- id
			}
			f.done = true
			break
		}
		if _, err := f.next.Write(line); err != nil {
			return len(p), err
		}
		_, _ = f.next.Write([]byte{'\n'})
	}
	if f.done || len(f.pending) > maxPending {
		f.done = true
		rest := f.pending
		f.pending = nil
		if len(rest) > 0 {
			_, _ = f.next.Write(rest)
		}
	}
	return len(p), nil
}

// flush passes on what is still held back once the command has ended.
func (f *pgidFilter) flush() {
	if len(f.pending) > 0 {
		_, _ = f.next.Write(f.pending)
		f.pending = nil
	}
	f.done = true
}
