package sandbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Policy decides what a node does with each command it is sent: a
// stand-in answers it, it runs, or it is refused. The SSH server asks it
// for every exec; nil runs everything.
type Policy interface {
	Judge(script string) Verdict
}

// Verdict is a Policy's decision on one command.
type Verdict struct {
	// Answer, when set, answers the command instead of running it and
	// returns its exit code.
	Answer func(ctx context.Context, stdout, stderr io.Writer) int
	// Run runs the command through /bin/sh -c.
	Run bool
	// Refused says why the command is neither answered nor run.
	Refused string
}

// RefusedExit is the exit code of a refused command.
const RefusedExit = 126

// internalScripts are the commands zdu's own step types send that only
// read (wait-process's pgrep, its value on stdin).
var internalScripts = []string{
	`IFS= read -r v; pgrep -x -- "$v"`,
	`IFS= read -r v; pgrep -f -- "$v"`,
}

// builtinCommands are the commands the built-in stand-in scripts answer
// (Layout.Bin, and ./sysupgrade in an Axway install's upgrade/bin).
var builtinCommands = []string{"systemctl", "apt-get", "dpkg-query", "nova-manage", "./sysupgrade"}

// builtinTools are the Axway install dirs' stand-ins, called by path.
var builtinTools = []string{"startinstance", "nodemanager", "sysupgrade"}

// Coverage says how a command is covered on the node rooted at root:
// "standin NAME-OR-PATTERN", "allow PATTERN", "builtin", "zdu", or "" when
// nothing covers it. local is true for a local-exec command (it runs on
// this machine: only allow covers it).
func (r *Rehearsal) Coverage(script, root string, local bool) (how string, st *StandIn) {
	cmd, _ := Unwrap(script)
	for _, s := range internalScripts {
		if cmd == s {
			return "zdu", nil
		}
	}
	if !local {
		for i := range r.StandIns {
			if r.StandIns[i].Command.Match(cmd) {
				return "standin " + r.StandIns[i].Command.Text, &r.StandIns[i]
			}
		}
	}
	for _, a := range r.Allow {
		if a.Match(cmd) {
			return "allow " + a.Text, nil
		}
	}
	if r.Builtins && !local && builtinCovers(cmd, root) {
		return "builtin", nil
	}
	return "", nil
}

// builtinCovers: cmd is one simple command whose program is a built-in
// stand-in (leading NAME=VALUE assignments and a sudo prefix aside).
func builtinCovers(cmd, root string) bool {
	w, ok := words(cmd)
	if !ok {
		return false
	}
	for len(w) > 0 && strings.Contains(w[0], "=") && isName(w[0][:strings.IndexByte(w[0], '=')]) {
		w = w[1:]
	}
	if len(w) > 0 && w[0] == "sudo" {
		w = w[1:]
		for len(w) > 0 && strings.HasPrefix(w[0], "-") {
			if w[0] == "-u" || w[0] == "-g" {
				w = w[1:]
			}
			if len(w) > 0 {
				w = w[1:]
			}
		}
	}
	if len(w) == 0 {
		return false
	}
	for _, b := range builtinCommands {
		if w[0] == b {
			return true
		}
	}
	p := filepath.Clean(w[0])
	if root != "" && filepath.IsAbs(p) && strings.HasPrefix(p, root+"/") {
		for _, t := range builtinTools {
			if filepath.Base(p) == t {
				return true
			}
		}
	}
	return false
}

// nodePolicy is a sandbox node's Policy: the rehearsal's coverage, with
// its stand-ins acting on the node's service.
type nodePolicy struct {
	r *Rehearsal
	n *Node
	s *Sandbox
}

func (p *nodePolicy) Judge(script string) Verdict {
	how, st := p.r.Coverage(script, p.n.Layout.Root, false)
	switch {
	case st != nil:
		cmd, _ := Unwrap(script)
		return Verdict{Answer: func(ctx context.Context, stdout, stderr io.Writer) int {
			return p.answer(ctx, st, cmd, stdout, stderr)
		}}
	case how != "":
		return Verdict{Run: true}
	}
	cmd, _ := Unwrap(script)
	p.log("REFUSED " + oneLine(cmd))
	return Verdict{Refused: "no stand-in covers this command and the rehearsal file does not allow it, so it was not run: " + oneLine(cmd)}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ⏎ ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

func (p *nodePolicy) log(line string) {
	f, err := os.OpenFile(p.n.Layout.Log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

// installedFile holds the version the node's next start runs (shared with
// the built-in scripts).
func (l Layout) installedFile() string { return filepath.Join(l.State, "state", "installed-version") }

// Installed is the version the node's next start runs.
func (n *Node) Installed() string {
	b, _ := os.ReadFile(n.Layout.installedFile())
	return strings.TrimSpace(string(b))
}

func (p *nodePolicy) answer(ctx context.Context, st *StandIn, cmd string, stdout, stderr io.Writer) int {
	key := st.Name
	if key == "" {
		key = st.Command.Text
	}
	if st.Name != "" {
		if b, err := os.ReadFile(filepath.Join(p.n.Layout.FailDir(), st.Name)); err == nil {
			c, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			p.log(fmt.Sprintf("FAIL %s exit %d", st.Name, c))
			fmt.Fprintf(stderr, "sandbox: injected failure %s (exit %d)\n", st.Name, c)
			return c
		}
	}
	p.log("STANDIN " + key + ": " + oneLine(cmd))
	if st.Duration > 0 {
		t := time.NewTimer(st.Duration)
		select {
		case <-ctx.Done():
			t.Stop()
			return 130
		case <-t.C:
		}
	}
	code := st.Exit
	svc := p.n.Service
	var err error
	switch st.Effect {
	case "stop":
		err = svc.Do(ctx, "stop")
	case "start":
		err = svc.Do(ctx, "start "+p.n.Installed())
	case "restart":
		err = svc.Do(ctx, "restart "+p.n.Installed())
	case "install-new":
		err = os.WriteFile(p.n.Layout.installedFile(), []byte(p.s.cfg.NewVersion+"\n"), 0o644)
	case "install-old":
		err = os.WriteFile(p.n.Layout.installedFile(), []byte(p.s.cfg.OldVersion+"\n"), 0o644)
	case "status":
		if !svc.Running() {
			code = 3
		}
	case "break-health":
		svc.SetHealthy(false)
	case "heal-health":
		svc.SetHealthy(true)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return 1
	}
	_, _ = io.WriteString(stdout, p.expand(st.Output))
	_, _ = io.WriteString(stderr, p.expand(st.Stderr))
	return code
}

// expand replaces the placeholders of a stand-in's output.
func (p *nodePolicy) expand(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		switch name := m[1 : len(m)-1]; name {
		case "installed":
			return p.n.Installed()
		case "old":
			return p.s.cfg.OldVersion
		case "new":
			return p.s.cfg.NewVersion
		case "node":
			return p.n.Spec.Name
		default:
			return p.r.Data[strings.TrimPrefix(name, "data.")]
		}
	})
}
