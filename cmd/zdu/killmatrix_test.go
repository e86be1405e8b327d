package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/engine/sandbox"
	"github.com/zdu-dev/zdu/engine/summary"
	"github.com/zdu-dev/zdu/steps/lb/haproxy"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

// killPlan is a shipped plan as the kill matrix runs it.
type killPlan struct {
	name, plan, inv string // inv "": the sandbox's own shape (--nodes 3)
	// first is the first node of the serial, drained phase; phase its id.
	first, phase string
	// restartHold catches the node's restart in its middle (the stand-in
	// key), restartStep is the plan step it is called from; waitStep is the
	// wait that a held service start catches.
	restartHold, restartStep, waitStep string
}

var killPlans = []killPlan{
	{name: "nova-api", plan: "nova-api.yaml", first: "node-1", phase: "upgrade_api",
		restartHold: "restart", restartStep: "restart", waitStep: "enable.health"},
	{name: "axway-7.7", plan: "axway-7.7.yaml", inv: "axway-7.7.inventory.yaml", first: "Node-A", phase: "apply",
		restartHold: "startinstance-d", restartStep: "start_new_gateway", waitStep: "enable.health"},
}

// TestKillMatrix: each shipped plan runs against a persistent sandbox (zdu
// sandbox up) whose probe sends traffic through HAProxy from before the
// first process to after the last. zdu is killed with SIGKILL at every step
// boundary (one process per step: each is killed right after the journal
// records its first step end, and resumed), and, each on a sandbox of its
// own, in the middle of a drain, a restart and a wait. After every kill,
// zdu status lists every node HAProxy holds drained. Each time zdu resume
// completes the run: every balanced node answers the new version, none is
// drained, the journal of all the processes passes the engine's checks, and
// the probe saw no failed request (both plans promise zero downtime).
func TestKillMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the kill matrix runs each shipped plan several times")
	}
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	// Each case has a sandbox, a state and a run directory of its own, and
	// mostly waits on the plans' timers: they run side by side (go test's
	// -parallel, GOMAXPROCS by default, bounds how many at once).
	for _, kp := range killPlans {
		t.Run(kp.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				name string
				kill func(*testing.T, killPlan)
			}{
				{"every step boundary", killEveryBoundary},
				{"mid-drain", killMidDrain},
				{"mid-restart", killMidRestart},
				{"mid-wait", killMidWait},
			} {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.kill(t, kp)
				})
			}
		})
	}
}

// killRun is one run of a plan against a persistent sandbox.
type killRun struct {
	t                     *testing.T
	kp                    killPlan
	dir, runDir, stateDir string
	m                     sandbox.Manifest
	down                  bool
}

func newKillRun(t *testing.T, kp killPlan) *killRun {
	base := t.TempDir()
	k := &killRun{t: t, kp: kp, dir: filepath.Join(base, "sandbox"), runDir: filepath.Join(base, "run"), stateDir: filepath.Join(base, "state")}
	args := []string{"sandbox", "up", shippedPlan(kp.plan), "--dir", k.dir, "--rate", "100"}
	if kp.inv != "" {
		args = append(args, "-i", shippedPlan(kp.inv))
	}
	if r := k.zdu(nil, args...); r.code != 0 {
		t.Fatalf("zdu sandbox up: exit %d\n%s", r.code, r.out)
	}
	t.Cleanup(func() {
		if !k.down {
			k.zdu(nil, "sandbox", "down", "--dir", k.dir)
		}
	})
	m, err := sandbox.ReadManifest(k.dir)
	if err != nil {
		t.Fatal(err)
	}
	k.m = m
	return k
}

func shippedPlan(name string) string { return filepath.Join("..", "..", "plans", name) }

// proc is how a zdu process ended.
type proc struct {
	code   int
	killed bool // by SIGKILL
	out    string
}

// zdu runs the zdu binary to its end (bounded), env added.
func (k *killRun) zdu(env []string, args ...string) proc {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, zduBinary(k.t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		k.t.Fatalf("zdu %v did not end within 3 minutes:\n%s", args, out.String())
	}
	p := proc{code: cmd.ProcessState.ExitCode(), out: out.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			p.killed = true
		}
	}
	return p
}

// hold holds a sandbox node at a point (NODE:KEY, see zdu sandbox hold).
func (k *killRun) hold(spec string) {
	k.t.Helper()
	if r := k.zdu(nil, "sandbox", "hold", spec, "--dir", k.dir); r.code != 0 {
		k.t.Fatalf("zdu sandbox hold: %s", r.out)
	}
}

// release lets a held sandbox node go on.
func (k *killRun) release(spec string) {
	k.t.Helper()
	if r := k.zdu(nil, "sandbox", "release", spec, "--dir", k.dir); r.code != 0 {
		k.t.Fatalf("zdu sandbox release: %s", r.out)
	}
}

func (k *killRun) runArgs() []string {
	return []string{"run", shippedPlan(k.kp.plan), "-i", k.m.Inventory, "--run-dir", k.runDir, "--state", k.stateDir, "--log-format", "json"}
}

func (k *killRun) resume(extra ...string) proc {
	return k.zdu(nil, append([]string{"resume", k.runDir, "--state", k.stateDir, "--log-format", "json"}, extra...)...)
}

// start runs zdu in the background; kill SIGKILLs it and waits for its end.
func (k *killRun) start(args ...string) (kill func() proc) {
	k.t.Helper()
	cmd := exec.Command(zduBinary(k.t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	k.t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	return func() proc {
		select {
		case <-exited:
			k.t.Fatalf("zdu ended before it was killed (exit %d):\n%s", cmd.ProcessState.ExitCode(), out.String())
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		return proc{code: -1, killed: ws.Signaled() && ws.Signal() == syscall.SIGKILL, out: out.String()}
	}
}

// until polls cond (a minute at most).
func (k *killRun) until(what string, cond func() bool) {
	k.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			k.t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sandboxStatus is zdu sandbox status --format json.
func (k *killRun) sandboxStatus() []sandbox.NodeStatus {
	k.t.Helper()
	r := k.zdu(nil, "sandbox", "status", "--dir", k.dir, "--format", "json")
	var rep struct{ Nodes []sandbox.NodeStatus }
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || r.code != 0 {
		k.t.Fatalf("zdu sandbox status: exit %d, %v:\n%s", r.code, err, r.out)
	}
	return rep.Nodes
}

func (k *killRun) node(name string) sandbox.NodeStatus {
	for _, n := range k.sandboxStatus() {
		if n.Name == name {
			return n
		}
	}
	k.t.Fatalf("no node %s in the sandbox", name)
	return sandbox.NodeStatus{}
}

func (k *killRun) events() []journal.Event {
	f, err := os.Open(filepath.Join(k.runDir, "journal.jsonl"))
	if err != nil {
		return nil
	}
	defer f.Close()
	ev, _ := journal.Read(f)
	return ev
}

// started reports whether the journal has the step vertex started.
func (k *killRun) started(vertex string) bool {
	for _, e := range k.events() {
		if e.Vertex == vertex && e.Kind == journal.KindStep && e.State == journal.Started {
			return true
		}
	}
	return false
}

// ended reports whether the journal has the step vertex ended.
func (k *killRun) ended(vertex string) bool {
	for _, e := range k.events() {
		if e.Vertex == vertex && e.Kind == journal.KindStep && e.State != journal.Started {
			return true
		}
	}
	return false
}

// checkHonest: after a kill, zdu status says the run stopped without
// ending, and lists every node HAProxy holds drained as out of service.
func (k *killRun) checkHonest() {
	k.t.Helper()
	r := k.zdu(nil, "status", k.runDir, "--state", k.stateDir, "--format", "json")
	var st struct {
		State        string
		OutOfService []summary.Outstanding
	}
	if err := json.Unmarshal([]byte(r.out), &st); err != nil || r.code != 0 {
		k.t.Fatalf("zdu status: exit %d, %v:\n%s", r.code, err, r.out)
	}
	if !strings.HasPrefix(st.State, "stopped without ending") {
		k.t.Errorf("zdu status after a SIGKILL says %q", st.State)
	}
	listed := map[string]bool{}
	for _, o := range st.OutOfService {
		listed[o.Node] = true
	}
	for _, n := range k.sandboxStatus() {
		if n.LB != "" && n.LB != "ready" && !listed[n.Name] {
			k.t.Errorf("HAProxy holds %s %s, and zdu status does not list it out of service: %+v", n.Name, n.LB, st.OutOfService)
		}
	}
}

// finish checks the end: the run passed; every balanced node runs the new
// version and serves; no hold waits; the journal of every process passes
// the engine's checks; then the sandbox goes down and its probe, which ran
// across every crash, saw no failure.
func (k *killRun) finish(last proc) {
	t := k.t
	t.Helper()
	if last.code != 0 || last.killed {
		t.Fatalf("the last resumption: exit %d (killed %v):\n%s", last.code, last.killed, last.out)
	}
	for _, n := range k.sandboxStatus() {
		if m, _ := k.m.Node(n.Name); m.Balanced && (n.Version != "v2" || n.LB != "ready") {
			t.Errorf("node %s at the end: version %q, HAProxy %q; want v2, ready", n.Name, n.Version, n.LB)
		}
		if len(n.Waiting) > 0 {
			t.Errorf("node %s: stand-ins still wait on %v", n.Name, n.Waiting)
		}
	}
	events := k.events()
	planFile := shippedPlan(k.kp.plan)
	plan, _ := os.ReadFile(planFile)
	inv, _ := os.ReadFile(k.m.Inventory)
	live := &summary.Summary{}
	if b, err := os.ReadFile(filepath.Join(k.runDir, "summary.json")); err != nil || json.Unmarshal(b, live) != nil {
		t.Fatalf("summary.json: %v", err)
	}
	prog := enginetest.CompileAt(t, planFile, string(plan), string(inv))
	sum := summary.FromEvents(events)
	enginetest.CheckJournal(t, &enginetest.Run{Dir: k.runDir, Prog: prog,
		Result: run.Result{Status: "SUCCESS"}, Events: events, Live: live, Summary: sum})
	// The summary counts every node in every phase it took part in as
	// passed, whichever process ran its steps.
	for _, ph := range prog.Phases {
		for _, n := range ph.Nodes {
			for _, row := range sum.Nodes {
				if c := row.Phases[ph.ID]; row.Name == n.Name && c.State != journal.Passed {
					t.Errorf("summary: node %s in phase %s is %q, want passed", n.Name, ph.ID, c.State)
				}
			}
		}
	}
	r := k.zdu(nil, "sandbox", "down", "--dir", k.dir, "--format", "json")
	k.down = true
	var rep struct{ Probe *probe.Result }
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || rep.Probe == nil {
		t.Fatalf("zdu sandbox down: exit %d, %v:\n%s", r.code, err, r.out)
	}
	if rep.Probe.Requests < 50 || rep.Probe.Failed != 0 {
		t.Errorf("the probe across the crashes: %s", rep.Probe.Line())
	}
	if _, err := os.Stat(k.dir); !os.IsNotExist(err) {
		t.Errorf("zdu sandbox down left %s: %v", k.dir, err)
	}
}

// killEveryBoundary: one process per step; each dies right after the
// journal records its first step end.
func killEveryBoundary(t *testing.T, kp killPlan) {
	k := newKillRun(t, kp)
	crash := []string{"ZDU_FAULT_KILL_AFTER=1"}
	p := k.zdu(crash, k.runArgs()...)
	kills := 0
	for p.killed {
		kills++
		if kills > 200 {
			t.Fatal("more than 200 kills: the run does not get on")
		}
		k.checkHonest()
		// Steps of a parallel phase run side by side: those in flight at
		// the kill run again.
		p = k.zdu(crash, "resume", k.runDir, "--rerun-in-flight", "--state", k.stateDir, "--log-format", "json")
	}
	ends, resumed := 0, 0
	for _, e := range k.events() {
		switch {
		case (e.Kind == journal.KindStep || e.Kind == journal.KindRollback) && e.Step != "" &&
			(e.State == journal.Passed || e.State == journal.Failed || e.State == journal.Skipped):
			ends++
		case e.Kind == journal.KindRun && e.State == journal.Resumed:
			resumed++
		}
	}
	// Every step end was the last thing its process did.
	if ends != kills || resumed != kills || kills < 10 {
		t.Errorf("%d kills, %d resumptions, %d step ends in the journal: want one kill per step end, each resumed", kills, resumed, ends)
	}
	t.Logf("%s: killed at %d step boundaries, resumed each time", kp.name, kills)
	k.finish(p)
}

// killMidDrain: a slow request keeps the first node busy, so its drain
// waits; zdu dies while HAProxy holds the node in drain. zdu status must
// say so before anything is resumed; resume drains again (the step is
// idempotent) and completes.
func killMidDrain(t *testing.T, kp killPlan) {
	k := newKillRun(t, kp)
	var d net.Dialer
	lb := haproxy.NewClient("sandbox", "unix", k.m.Socket, d.DialContext)
	slow := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	k.until("a slow request on "+kp.first, func() bool {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Bounded: HAProxy keeps a server's session until it answers,
			// even once the client has gone.
			req, _ := http.NewRequestWithContext(ctx, "GET", k.m.URL+"/?delay=20s", nil)
			if resp, err := slow.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		time.Sleep(20 * time.Millisecond)
		row, err := lb.ServerStat(ctx, k.m.Backend, kp.first)
		return err == nil && row.Int("scur") > 0
	})
	kill := k.start(k.runArgs()...)
	k.until(kp.first+" drained by HAProxy", func() bool { return k.node(kp.first).LB == "drain" })
	if p := kill(); !p.killed {
		t.Fatalf("zdu was not killed: %+v", p)
	}
	drain := kp.phase + "/" + kp.first + "/drain.drain"
	if !k.started(drain) || k.ended(drain) {
		t.Fatalf("the drain of %s was not in flight when zdu was killed", kp.first)
	}
	k.checkHonest()
	// The slow requests end within their 20s; the resumed drain waits.
	k.finish(k.resume())
}

// killMidRestart: the first node's restart is held between its stop and
// its start; zdu dies there. The restart is not idempotent: resume refuses
// without --rerun-in-flight (naming it, changing nothing), then reruns it.
func killMidRestart(t *testing.T, kp killPlan) {
	k := newKillRun(t, kp)
	spec := kp.first + ":" + kp.restartHold
	k.hold(spec)
	kill := k.start(k.runArgs()...)
	k.until(kp.first+"'s restart held", func() bool { return slices.Contains(k.node(kp.first).Waiting, kp.restartHold) })
	if p := kill(); !p.killed {
		t.Fatalf("zdu was not killed: %+v", p)
	}
	k.checkHonest()
	k.release(spec)
	before := len(k.events())
	vertex := kp.phase + "/" + kp.first + "/" + kp.restartStep
	r := k.resume()
	if r.code != exitBadInput || !strings.Contains(r.out, vertex) || !strings.Contains(r.out, "--rerun-in-flight") {
		t.Errorf("resume with a restart in flight: exit %d, want 2 naming %s and --rerun-in-flight:\n%s", r.code, vertex, r.out)
	}
	if n := len(k.events()); n != before {
		t.Errorf("the refused resume wrote %d journal events", n-before)
	}
	if n := k.node(kp.first); n.LB != "drain" {
		t.Errorf("after the refused resume %s is %q in HAProxy, want still drained", kp.first, n.LB)
	}
	last := k.resume("--rerun-in-flight")
	// Before going on, the resumption looked at what the dead process
	// left: the node still drained on HAProxy.
	reconciled := false
	for _, e := range k.events()[before:] {
		if e.Kind == journal.KindDrift && e.Node == kp.first && e.Detail["reconcile"] == true {
			reconciled = e.State == journal.Passed
		}
	}
	if !reconciled {
		t.Errorf("the resumption did not journal that %s was still drained", kp.first)
	}
	k.finish(last)
}

// killMidWait: the first node's service comes up only once released; zdu
// dies while its health wait polls. The wait is idempotent: resume reruns
// it without being asked.
func killMidWait(t *testing.T, kp killPlan) {
	k := newKillRun(t, kp)
	spec := kp.first + ":" + sandbox.ServiceStart
	k.hold(spec)
	kill := k.start(k.runArgs()...)
	vertex := kp.phase + "/" + kp.first + "/" + kp.waitStep
	k.until(vertex+" waiting", func() bool { return k.started(vertex) })
	if p := kill(); !p.killed {
		t.Fatalf("zdu was not killed: %+v", p)
	}
	k.checkHonest()
	k.release(spec)
	k.finish(k.resume())
}
