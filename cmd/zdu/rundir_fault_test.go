package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// rundirPlan drains each node, has it print FILL bytes (its node log fills a
// small disk), then marks that its next step ran, and puts it back.
const rundirPlan = `apiVersion: zdu/v1
name: faults
params:
  out: {type: string}
  fill: {type: int, default: 0}
  fail: {type: bool, default: false}
phases:
  - id: roll
    targets: all
    strategy: {batch: 1}
    steps:
      - {id: drain, type: lb-drain, with: {lb: web}}
      - id: fill
        type: ssh-exec
        with: {command: "head -c ${{ params.fill }} /dev/zero | tr '\\0' x; echo; [ ${{ params.fail }} = false ]"}
      - id: after
        type: ssh-exec
        with: {command: "touch ${{ params.out }}/after-${{ node.name }}"}
      - {id: enable, type: lb-enable, with: {lb: web}}
`

// faultLB is a loopback HAProxy balancing nodes a and b, and the plan and
// inventory for it in dir.
type faultLB struct {
	h         *loopback.HAProxy
	plan, inv string
	out       string // where the plan's steps leave their marks
}

func newFaultLB(t *testing.T, dir string) *faultLB {
	t.Helper()
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var servers []*loopback.Backend
	for _, n := range []string{"a", "b"} {
		b, err := loopback.NewBackend(n, "v1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		servers = append(servers, b)
	}
	h, err := loopback.StartHAProxy(ctx, loopback.HAProxyConfig{Backend: "app", Servers: servers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	f := &faultLB{h: h, plan: filepath.Join(dir, "plan.yaml"), inv: filepath.Join(dir, "inv.yaml"), out: filepath.Join(dir, "out")}
	inv := fmt.Sprintf(`apiVersion: zdu/v1
kind: Inventory
defaults: {transport: local}
nodes: [{name: a}, {name: b}]
loadBalancers:
  web: {driver: haproxy, backend: app, instances: [{name: h, socket: %q}]}
`, h.Socket)
	for path, text := range map[string]string{f.plan: rundirPlan, f.inv: inv} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(f.out, 0o700); err != nil {
		t.Fatal(err)
	}
	return f
}

// serving checks that HAProxy has every node in service (no MAINT, no
// DRAIN, its weight back).
func (f *faultLB) serving(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := f.h.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		row, ok := st.Find("app", n)
		if !ok {
			t.Fatalf("HAProxy has no server %s", n)
		}
		if s := row["status"]; s == "MAINT" || s == "DRAIN" || row["weight"] == "0" {
			t.Errorf("server %s left out of service: status %s, weight %s", n, s, row["weight"])
		}
	}
}

// zduProcess runs the zdu binary (bounded by a hang guard) and returns its
// exit code, stdout and stderr.
func zduProcess(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, zduBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("zdu %v did not end:\n%s\n%s", args, out.String(), errb.String())
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// TestDiskFull: the run directory is on a 256 KiB tmpfs, and node a's step
// prints a megabyte, which its log cannot hold. The journal write that
// follows fails: zdu says "journal write failed" on stderr before anything
// else about it, starts no further step (node a's next step and node b
// never run), puts node a back in HAProxy, and exits 80.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	dir := t.TempDir()
	f := newFaultLB(t, dir)
	small := filepath.Join(dir, "small")
	if err := os.Mkdir(small, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", small, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=256k,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(small, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", small, err)
		}
	})
	runDir := filepath.Join(small, "run")
	code, stdout, stderr := zduProcess(t, "run", f.plan, "-i", f.inv, "--set", "out="+f.out, "--set", "fill=1048576",
		"--run-dir", runDir, "--log-format", "json")
	if code != 80 {
		t.Errorf("exit %d, want 80 (the journal cannot be written)\nstdout:\n%s\nstderr:\n%s", code, stdout, tail(stderr, 3000))
	}
	i := strings.Index(stderr, "journal write failed: ")
	if i < 0 {
		t.Fatalf("stderr does not say the journal write failed:\n%s", tail(stderr, 3000))
	}
	if !strings.Contains(stderr[i:], "no space left on device") {
		t.Errorf("the message does not say why: %s", stderr[i:min(len(stderr), i+300)])
	}
	// Nothing of the stop came before it: it is the first word about it.
	if j := strings.Index(stderr, `"stopping"`); j >= 0 && j < i {
		t.Errorf("the stop was reported before the journal failure:\n%s", tail(stderr, 3000))
	}
	for _, n := range []string{"a", "b"} {
		if exists(filepath.Join(f.out, "after-"+n)) {
			t.Errorf("node %s's step after the failed journal write ran", n)
		}
	}
	f.serving(t)
	// The disk was full: nothing was written elsewhere instead.
	ents, err := os.ReadDir(small)
	if err != nil || len(ents) != 1 || ents[0].Name() != "run" {
		t.Errorf("the tmpfs holds %v (%v), want only the run directory", ents, err)
	}
}

// TestRunDirSymlinks: symlinks planted in a run directory are never written
// through. A new run refuses a directory holding anything; a resumed run
// finds run.log and a node's log replaced by symlinks to files outside and
// leaves those files as they were.
func TestRunDirSymlinks(t *testing.T) {
	dir := t.TempDir()
	f := newFaultLB(t, dir)
	outside := filepath.Join(dir, "victim")
	const victim = "not to be written\n"
	if err := os.WriteFile(outside, []byte(victim), 0o600); err != nil {
		t.Fatal(err)
	}
	checkVictim := func(when string) {
		t.Helper()
		if b, err := os.ReadFile(outside); err != nil || string(b) != victim {
			t.Errorf("%s: the file outside was written through a symlink: %q, %v", when, b, err)
		}
	}

	// A new run into a directory with a planted run.log.
	planted := filepath.Join(dir, "planted")
	if err := os.Mkdir(planted, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(planted, "run.log")); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := zduProcess(t, "run", f.plan, "-i", f.inv, "--set", "out="+f.out, "--run-dir", planted, "--log-format", "json")
	if code != 2 || !strings.Contains(stderr, "is not empty") || !strings.Contains(stderr, planted) {
		t.Errorf("a run into a directory holding a planted symlink: exit %d, want 2 naming it:\n%s", code, stderr)
	}
	checkVictim("new run")
	f.serving(t)

	// A failed run, then its files swapped for symlinks, then resume.
	runDir := filepath.Join(dir, "run")
	code, _, stderr = zduProcess(t, "run", f.plan, "-i", f.inv, "--set", "out="+f.out, "--set", "fail=true",
		"--run-dir", runDir, "--log-format", "json")
	if code == 0 {
		t.Fatalf("the failing run passed:\n%s", stderr)
	}
	for _, name := range []string{"run.log", filepath.Join("nodes", "a.log")} {
		p := filepath.Join(runDir, name)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("the failed run left no %s: %v\n%s", name, err, stderr)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, st.Mode().Perm())
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, p); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := os.Stat(runDir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("run directory: %v, want mode 0700", err)
	}
	code, _, stderr = zduProcess(t, "resume", runDir, "--log-format", "json")
	if code == 0 {
		t.Errorf("resume through planted symlinks passed:\n%s", stderr)
	}
	checkVictim("resume")
	f.serving(t)
}
