package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// pinnedFlags is the command-line contract: every flag each command takes.
// A flag added, renamed or dropped changes this table, docs/cli.md and the
// tests that use it together.
var pinnedFlags = map[string][]string{
	"validate": {"format", "i", "inventory", "set", "set-file"},
	"plan":     {"format", "i", "inventory", "set", "set-file"},
	"graph":    {"fold", "format", "i", "inventory", "set", "set-file"},
	"run": {"dial-rate", "i", "inventory", "log-format", "max-connections", "max-dials", "probe", "probe-budget", "probe-rate", "probe-timeout",
		"report", "run-dir", "set", "set-file", "state", "stop-grace"},
	"rehearse": {"fail", "i", "inventory", "log-format", "nodes", "probe-budget", "probe-timeout", "rate",
		"report", "run-dir", "set", "set-file", "startup", "state", "stop-grace"},
	"resume": {"accept-changes", "dial-rate", "log-format", "max-connections", "max-dials", "probe", "probe-budget", "probe-rate", "probe-timeout",
		"rerun-in-flight", "run-dir", "set", "set-file", "state", "stop-grace"},
	"status":     {"format", "state", "watch"},
	"unlock":     {"state"},
	"abandon":    {"state"},
	"approve":    {"state"},
	"abort":      {"state"},
	"report":     {"o", "state"},
	"history":    {"format", "state"},
	"show":       {"format", "state"},
	"sandbox":    {"dir", "fail", "format", "i", "inventory", "nodes", "rate", "set", "startup"},
	"schema":     {},
	"version":    {},
	"init":       {"from", "name"},
	"completion": {},
}

var helpFlagRE = regexp.MustCompile(`(?m)^  -([a-z-]+)`)

// TestHelp: zdu COMMAND -h and zdu help COMMAND print the command's usage
// and exactly its pinned flags to stdout and exit 0; each flag is in
// docs/cli.md.
func TestHelp(t *testing.T) {
	docs, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		if strings.HasPrefix(c.name, "__") {
			continue // hidden: for the completion scripts and the package build
		}
		want, ok := pinnedFlags[c.name]
		if !ok {
			t.Errorf("command %s has no pinned flags", c.name)
			continue
		}
		for _, args := range [][]string{{c.name, "-h"}, {c.name, "--help"}, {"help", c.name}} {
			var out, errb bytes.Buffer
			code := dispatch(context.Background(), args, &out, &errb)
			if code != exitOK || !strings.Contains(out.String(), "zdu "+c.name) {
				t.Errorf("zdu %v: exit %d, want 0 and the usage on stdout:\n%s%s", args, code, out.String(), errb.String())
			}
			got := []string{}
			for _, m := range helpFlagRE.FindAllStringSubmatch(out.String(), -1) {
				got = append(got, m[1])
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("zdu %v lists flags %v, pinned %v", args, got, want)
			}
		}
		for _, f := range want {
			if len(f) > 1 && !bytes.Contains(docs, []byte("--"+f)) {
				t.Errorf("docs/cli.md does not document %s --%s", c.name, f)
			}
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"help", "help"}, {"help", "-h"}} {
		var out, errb bytes.Buffer
		if code := dispatch(context.Background(), args, &out, &errb); code != exitOK || !strings.Contains(out.String(), "zdu validate PLAN") {
			t.Errorf("zdu %v: exit %d:\n%s", args, code, out.String())
		}
	}
}

// TestValidateJSONKeys: validate --format json uses the keys docs/cli.md
// documents, and nothing else.
func TestValidateJSONKeys(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte("apiVersion: zdu/v1\nname: p\nphases:\n  - id: one\n    targets: all\n    steps:\n      - {id: s, type: ssh-exec, with: {command: \"echo ${{ params.nope }}\"}}\n"), 0o600)
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), []string{"validate", plan, "--format", "json"}, &out, &errb); code != exitBadInput {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got struct {
		Valid    bool `json:"valid"`
		Problems []struct {
			File string `json:"file"`
			Line int    `json:"line"`
			Col  int    `json:"col"`
			Path string `json:"path"`
			Msg  string `json:"msg"`
		} `json:"problems"`
		Warnings  []any    `json:"warnings"`
		Unchecked []string `json:"unchecked"`
	}
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got.Valid || len(got.Problems) != 1 {
		t.Fatalf("%+v", got)
	}
	p := got.Problems[0]
	if p.File != plan || p.Line != 7 || p.Col != 66 || p.Path != "phases[0].steps[0].with.command" || !strings.Contains(p.Msg, `unknown param "nope"`) {
		t.Errorf("problem %+v", p)
	}
	if len(got.Unchecked) == 0 || !strings.Contains(strings.Join(got.Unchecked, " "), "vars.NAME") {
		t.Errorf("without -i, unchecked must list what needs an inventory: %q", got.Unchecked)
	}
}

// TestVersion: a binary built from this checkout says its VCS revision,
// through zdu --version and zdu version alike.
func TestVersion(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	top, _ := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		// go stamps VCS information only where .git is a directory.
		t.Skip("a git worktree (.git is a file): go build stamps no revision here")
	}
	bin := filepath.Join(t.TempDir(), "zdu")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rev := strings.TrimSpace(string(head))
	for _, arg := range []string{"--version", "version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("zdu %s: %v", arg, err)
		}
		if !strings.HasPrefix(string(out), "zdu ") || !strings.Contains(string(out), "revision "+rev) {
			t.Errorf("zdu %s = %q, want revision %s", arg, out, rev)
		}
	}
}
