// Package transport defines how zdu reaches a host: one small interface that the
// local transport (this machine) and the SSH transport (a remote node) implement.
// Steps run commands and open sockets only through it, so a step never knows
// whether its node is local, remote or behind a jump host.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// MaxOutput bounds how much of a command's stdout and of its stderr is kept in a
// Result. Everything is still streamed to Command.Stdout/Stderr.
const MaxOutput = 1 << 20

// Command is one command to run on a host, through `sh -c` there.
type Command struct {
	// Script is the shell text handed to `sh -c`. It is already interpolated and
	// quoted by the caller; transports pass it through untouched.
	Script string
	// Env adds variables to the command's environment.
	Env map[string]string
	// Dir is the working directory; empty means the login default.
	Dir string
	// Stdin, when set, is copied to the command's standard input.
	Stdin io.Reader
	// Become runs the command through non-interactive sudo (sudo -n).
	Become bool
	// Stdout and Stderr receive the output as it arrives (node log). May be nil.
	Stdout, Stderr io.Writer
}

// Result is what a command left behind. A non-zero exit is not an error: the
// caller decides what an exit code means.
type Result struct {
	ExitCode  int
	Stdout    []byte // at most MaxOutput bytes
	Stderr    []byte // at most MaxOutput bytes
	Truncated bool   // output was longer than MaxOutput
}

// Transport runs commands on, and opens connections from, one host.
type Transport interface {
	// Run runs cmd and waits for it. When ctx ends first, the command and every
	// process it started are killed on the host before Run returns ctx's error.
	// The error is non-nil only when the command could not run to completion
	// (connection lost, killed on timeout); an exit code is reported in Result.
	Run(ctx context.Context, cmd Command) (Result, error)
	// Dial opens a connection from the host, e.g. to a unix socket that only
	// exists there ("unix", "/run/haproxy/admin.sock") or to "tcp", "127.0.0.1:9999".
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
	// Close releases the transport's connection, if any.
	Close() error
}

// Script builds the shell text that runs cmd: environment, working directory
// and sudo folded into one `sh -c`-ready string. Values are single-quoted.
func Script(cmd Command) string {
	s := ""
	if cmd.Dir != "" {
		s += "cd " + Quote(cmd.Dir) + " && "
	}
	for _, k := range sortedKeys(cmd.Env) {
		s += "export " + k + "=" + Quote(cmd.Env[k]) + "; "
	}
	s += cmd.Script
	if cmd.Become {
		return "sudo -n -- sh -c " + Quote(s)
	}
	return s
}

// Quote returns s as one POSIX shell word in single quotes. It never fails;
// callers that must reject NUL check for it before (a NUL cannot pass exec).
func Quote(s string) string {
	out := make([]byte, 0, len(s)+2)
	out = append(out, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, `'\''`...)
			continue
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// Unquote reads one word made of single-quoted parts and \' (as Quote
// writes them) at the start of s: the word, what follows it, and whether
// there was a quoted part at all.
func Unquote(s string) (word, rest string, ok bool) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		switch {
		case s[i] == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", s, false
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
			ok = true
		case strings.HasPrefix(s[i:], `\'`):
			b.WriteByte('\'')
			i += 2
		default:
			return b.String(), s[i:], ok
		}
	}
	return b.String(), "", ok
}

// ErrUnreachable wraps every failure to reach a host (dial, handshake, auth).
var ErrUnreachable = errors.New("host unreachable")

// UnreachableError names the host that could not be reached and why.
type UnreachableError struct {
	Host string
	Err  error
}

func (e *UnreachableError) Error() string   { return fmt.Sprintf("%s: %v", e.Host, e.Err) }
func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// LimitedBuffer keeps the first Max bytes written to it and counts the rest.
type LimitedBuffer struct {
	Max       int
	buf       []byte
	Truncated bool
}

func (b *LimitedBuffer) Write(p []byte) (int, error) {
	room := b.Max - len(b.buf)
	if room > len(p) {
		room = len(p)
	}
	if room > 0 {
		b.buf = append(b.buf, p[:room]...)
	}
	if room < len(p) {
		b.Truncated = true
	}
	return len(p), nil
}

// Bytes returns what was kept.
func (b *LimitedBuffer) Bytes() []byte { return b.buf }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
