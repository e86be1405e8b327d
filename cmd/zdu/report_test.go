package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"gopkg.in/yaml.v3"

	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/rundir"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the report's screenshot to docs/img/report.png")

// reportSecret is the secret param's value: it must be nowhere in a report.
const reportSecret = "Sup3r-S3cr3t-T0ken-7781"

// novaWithRollback is the shipped nova plan with a secret param that a
// step and a rollback both use, and a rollback-on rule (scope changed)
// that restarts the API service of every node changed so far.
func novaWithRollback(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "plans", "nova-api.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var plan map[string]any
	if err := yaml.Unmarshal(b, &plan); err != nil {
		t.Fatal(err)
	}
	plan["params"].(map[string]any)["api_token"] = map[string]any{"type": "string", "secret": true, "required": true}
	phase := plan["phases"].([]any)[0].(map[string]any)
	if phase["id"] != "upgrade_api" {
		t.Fatalf("the nova plan's first phase is %v, want upgrade_api", phase["id"])
	}
	// The shipped plan's own node-scope rule (armed later, so chosen first)
	// and its canary and gates are not what this report shows.
	var steps []any
	for _, s := range phase["steps"].([]any) {
		if s.(map[string]any)["type"] != "rollback-on" {
			steps = append(steps, s)
		}
	}
	delete(phase, "canary")
	delete(plan, "gates")
	phase["steps"] = append([]any{
		map[string]any{"id": "restore_on_failure", "type": "rollback-on", "with": map[string]any{"rollback": "restore", "scope": "changed"}},
		map[string]any{"id": "announce", "type": "ssh-exec", "with": map[string]any{"command": "echo upgrading with token ${{ params.api_token }}"}},
	}, steps...)
	rollbacks, _ := plan["rollbacks"].(map[string]any)
	if rollbacks == nil {
		rollbacks = map[string]any{}
		plan["rollbacks"] = rollbacks
	}
	rollbacks["restore"] = []any{
		map[string]any{"id": "reinstall_old", "type": "ssh-exec", "with": map[string]any{"become": true, "command": "echo restoring with ${{ params.api_token }}"}},
		map[string]any{"id": "restart_old", "type": "ssh-exec", "with": map[string]any{"become": true, "command": "systemctl restart ${{ params.service }}"}},
	}
	out, err := yaml.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "nova-api.yaml")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	linkLibrary(t, dir)
	// The plan's added commands only echo: they may run for real.
	copyRehearsal(t, filepath.Join("..", "..", "plans", "nova-api.yaml"), dir, "echo *")
	return p
}

// chromiumPath finds Debian's chromium. Missing, the test fails as root
// (CI installs it: .ci/run) and is skipped otherwise.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getuid() == 0 {
		t.Fatal("chromium is not installed: apt-get install chromium (.ci/run does)")
	}
	t.Skip("chromium is not installed (apt-get install chromium, as root)")
	return ""
}

// artifactDir is where a test keeps what a person may want to look at
// afterwards: $ZDU_ARTIFACTS when set, else the test's temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("ZDU_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestReportInChromium rehearses the nova plan (with a secret param and a
// rollback) on 3 API nodes with node-2's upgrade failing, has zdu rehearse
// --report write the report, and loads it in headless Chromium with no
// network: no console error, no request but the file itself, one timeline
// row per node with the failure, the rollbacks and the compensation drawn,
// the probe chart there, and the secret nowhere in the DOM. It keeps a
// screenshot. Then, in the same browser, the report of the same run cut
// short (as if zdu had been killed mid-step): drawn as far as it went.
// zdu history and zdu show tell the same run.
func TestReportInChromium(t *testing.T) {
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	chromium := chromiumPath(t)
	dir := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	code := dispatch(context.Background(), []string{"rehearse", novaWithRollback(t), "--nodes", "3",
		"--fail", "node-2:apt-get", "--set", "api_token=" + reportSecret, "--report",
		"--run-dir", dir, "--log-format", "json", "--probe-timeout", "30s"}, &stdout, &stderr)
	if code != 10 {
		t.Fatalf("exit %d, want 10 (upgrade_api failed)\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), tail(stderr.String(), 3000))
	}
	reportFile := filepath.Join(dir, rundir.ReportHTML)
	if !strings.Contains(stdout.String(), "report: "+reportFile) {
		t.Errorf("zdu rehearse --report does not name the report:\n%s", stdout.String())
	}
	// The run directory holds the secret masked: check it was used at all.
	if log, _ := os.ReadFile(filepath.Join(dir, "nodes", "node-1.log")); !bytes.Contains(log, []byte("token ****")) {
		t.Fatalf("node-1's log does not show the masked secret:\n%s", log)
	}
	crashed := cutRun(t, dir, "node-2", "upgrade")

	ctx := browser(t, chromium)
	shot := check(t, ctx, reportFile, func(t *testing.T, ctx context.Context) {
		rows := eval[[]string](t, ctx, `[...document.querySelectorAll("#timeline .row")].map(r => r.dataset.node)`)
		if strings.Join(rows, " ") != "node-1 node-2 node-3 controller" {
			t.Errorf("timeline rows = %q, want one per node: node-1 node-2 node-3 controller", rows)
		}
		for sel, want := range map[string]int{
			`#timeline .row[data-node="node-2"] .bar.step.failed`:   1, // its upgrade
			`#timeline .row[data-node="node-1"] .bar.rbspan.passed`: 1, // rolled back as changed
			`#timeline .row[data-node="node-2"] .bar.rbspan.passed`: 1,
			`#timeline .row[data-node="node-2"] .bar.undo.passed`:   1, // re-enabled by compensation
			`#timeline .row[data-node="node-3"] .bar`:               0, // never started
			`#timeline .bar.open`:                                   0, // the run ended
			`#summary table.summary tr`:                             6, // title, header, 4 nodes
			`#summary td.failed`:                                    1,
			`details.log`:                                           2,
		} {
			if n := eval[int](t, ctx, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)); n != want {
				t.Errorf("%d of %s, want %d", n, sel, want)
			}
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("#probe-chart svg rect.ok").length`); n < 3 {
			t.Errorf("the probe chart has %d bars, want one a second of the run", n)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("#probe-chart .marker.drain").length`); n < 4 {
			t.Errorf("the probe chart marks %d drains, want 2 (node-1, node-2) on each of its 2 charts", n)
		}
		if got := eval[string](t, ctx, `document.getElementById("status").textContent`); got != "UPGRADE_API_FAILED" {
			t.Errorf("status %q", got)
		}
		// The logs open with the page's one script.
		eval[bool](t, ctx, `document.getElementById("toggle-logs").click(), true`)
		if n := eval[int](t, ctx, `document.querySelectorAll("details.log[open]").length`); n != 2 {
			t.Errorf("%d logs open after Expand all logs, want 2", n)
		}
		if !eval[bool](t, ctx, `document.body.innerText.includes("token ****")`) {
			t.Error("the expanded logs do not show the masked secret")
		}
		// For the screenshot: only the failed node's log open.
		eval[bool](t, ctx, `document.getElementById("toggle-logs").click(), true`)
		if n := eval[int](t, ctx, `document.querySelectorAll("details.log[open]").length`); n != 0 {
			t.Errorf("%d logs open after Collapse all logs, want none", n)
		}
		eval[bool](t, ctx, `document.querySelector('details.log[data-node="node-2"]').open = true`)
	})
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "img", "report.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	check(t, ctx, crashed, func(t *testing.T, ctx context.Context) {
		if eval[int](t, ctx, `document.querySelectorAll("#not-ended").length`) != 1 {
			t.Error("the report of a run cut short does not say it did not end")
		}
		if n := eval[int](t, ctx, `document.querySelectorAll("#timeline .row").length`); n != 4 {
			t.Errorf("%d timeline rows, want 4", n)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('#timeline .row[data-node="node-2"] .bar.step.open').length`); n != 1 {
			t.Errorf("%d open steps on node-2, want its upgrade, started and never ended", n)
		}
	})

	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), []string{"history"}, &out, &errb); code != 0 {
		t.Fatalf("zdu history: exit %d: %s", code, errb.String())
	}
	id := runID(t, dir)
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, id+" ") {
			line = l
		}
	}
	if !strings.Contains(line, " nova-api ") || !strings.Contains(line, "UPGRADE_API_FAILED (10)") || !strings.Contains(line, " of ") {
		t.Errorf("zdu history's line for %s = %q, want the plan, the outcome and the probe's failures:\n%s", id, line, out.String())
	}
	out.Reset()
	if code := dispatch(context.Background(), []string{"show", id}, &out, &errb); code != 0 {
		t.Fatalf("zdu show: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"outcome   UPGRADE_API_FAILED (10)", "report    " + reportFile, "| node-2 ", "FAILED (1)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("zdu show lacks %q:\n%s", want, out.String())
		}
	}
}

// check loads the report at path and runs more checks on it, after the
// ones every report passes: nothing but the file requested, no console
// message of level warning or error, the secret nowhere in the DOM. It
// returns a full-page screenshot, kept as an artifact.
func check(t *testing.T, ctx context.Context, path string, more func(*testing.T, context.Context)) []byte {
	t.Helper()
	var (
		mu       sync.Mutex
		requests []string
		console  []string
	)
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	if err := chromedp.Listen(lctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			requests = append(requests, r.Request.URL)
		}
	}); err != nil {
		t.Fatal(err)
	}
	messages := chromedp.Console(lctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				console = append(console, m.String())
			}
			mu.Unlock()
		}
	}()
	url := "file://" + path
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible("#timeline")); err != nil {
		t.Fatalf("loading %s: %v", url, err)
	}
	more(t, ctx)
	html := eval[string](t, ctx, `document.documentElement.outerHTML`)
	if strings.Contains(html, reportSecret) {
		t.Errorf("the secret is in the DOM of %s", path)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(artifactDir(t), strings.TrimSuffix(filepath.Base(filepath.Dir(path)), "/")+"-report.png")
	if err := os.WriteFile(name, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of %s: %s", path, name)
	// Messages come on their own goroutine: a last script run flushes them.
	eval[bool](t, ctx, `true`)
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(console) > 0 {
		t.Errorf("console messages loading %s:\n%s", path, strings.Join(console, "\n"))
	}
	for _, r := range requests {
		if r != url {
			t.Errorf("the page requested %s: a report loads nothing", r)
		}
	}
	return shot
}

// browser starts one headless Chromium for the test, with no network:
// every host name resolves to nothing, and no proxy is used.
func browser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // root in CI; the page is our own file
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
		chromedp.Flag("no-proxy-server", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return ctx
}

// eval runs a script on the page and returns its value.
func eval[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	ectx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ectx, chromedp.Evaluate[T](script))
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return v
}

// cutRun copies the run directory dir as a run that died when node's step
// had started: its journal up to that event (the last line torn), its logs
// as they are, no summary. It returns the copy's report.
func cutRun(t *testing.T, dir, node, step string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, rundir.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	var kept strings.Builder
	for i, l := range lines {
		kept.WriteString(l)
		var e journal.Event
		if json.Unmarshal([]byte(l), &e) == nil && e.Kind == journal.KindStep && e.State == journal.Started && e.Node == node && e.Step == step {
			if i+1 < len(lines) {
				kept.WriteString(lines[i+1][:len(lines[i+1])/2]) // torn
			}
			break
		}
	}
	cut := filepath.Join(t.TempDir(), "crashed")
	if err := os.MkdirAll(filepath.Join(cut, rundir.NodesDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cut, rundir.JournalFile), []byte(kept.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, rundir.NodesDir, "*.log"))
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		os.WriteFile(filepath.Join(cut, rundir.NodesDir, filepath.Base(l)), data, 0o600)
	}
	var out, errb bytes.Buffer
	report := filepath.Join(cut, "cut.html")
	if code := dispatch(context.Background(), []string{"report", cut, "-o", report}, &out, &errb); code != 0 {
		t.Fatalf("zdu report of a run cut short: exit %d: %s", code, errb.String())
	}
	return report
}

func runID(t *testing.T, dir string) string {
	t.Helper()
	rec, _, _, err := rundir.ReadRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	return rec.ID
}
