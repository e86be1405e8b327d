package run_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/zdu-dev/zdu/engine/enginetest"
	"github.com/zdu-dev/zdu/engine/journal"
	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/run"
	"github.com/zdu-dev/zdu/schema"
	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
	"github.com/zdu-dev/zdu/steps/transport/ssh/sshtest"
)

// Where a var or a param goes, and the `with` line that puts it there
// (VALUE is the interpolation).
var destinations = []struct {
	dest byte
	typ  string
	line string // the `with` key holding VALUE
	more string // further keys, after it
}{
	{'s', "ssh-exec", `command: "printf '%s' VALUE"`, ""},
	{'a', "haproxy-socket", `commands: "set server app/VALUE state drain"`, "socket: /nonexistent.sock"},
	{'u', "wait-http", `url: "http://127.0.0.1:9/p/VALUE"`, ""},
	{'h', "wait-port", `host: "VALUE"`, "port: 9"},
}

// TestInjectionCorpusValidate sends every payload of the corpus through a
// node's name, a var and a param into every destination, and through each
// driver's backend and server names: each is either taken (see the run
// test for what arrives) or refused by validate with the file, line and
// column of the name, the var, or the expression that inserts it.
func TestInjectionCorpusValidate(t *testing.T) {
	for _, p := range corpus {
		t.Run(p.name, func(t *testing.T) {
			if !p.noYAML {
				checkNodeName(t, p)
				for _, drv := range []struct {
					name string
					ok   byte
				}{{"haproxy", 'H'}, {"nginx", 'N'}, {"command", 'C'}} {
					checkLBName(t, p, drv.name, "servers", drv.ok)
					checkLBName(t, p, drv.name, "backend", drv.ok)
				}
			}
			for _, d := range destinations {
				for _, channel := range []string{"vars", "params"} {
					if channel == "vars" && p.noYAML {
						continue
					}
					checkValue(t, p, channel, d.dest, d.typ, d.line, d.more)
				}
			}
		})
	}
}

func checkNodeName(t *testing.T, p payload) {
	t.Helper()
	inv := "apiVersion: zdu/v1\nnodes:\n  - name: " + yamlQuote(p.v) + "\n"
	_, probs := load.ParseInventory("inv.yaml", []byte(inv))
	wantAt(t, "node name", probs, "inv.yaml", 3, 11)
}

func checkLBName(t *testing.T, p payload, driver, key string, ok byte) {
	t.Helper()
	keys := map[string]string{
		"haproxy": "    instances: [{name: h, socket: /s}]\n",
		"nginx":   "    instances: [{name: h, upstream: /u}]\n",
		"command": "    commands: {disable: x, enable: y}\n",
	}
	lbYAML := "    backend: app\n    servers: {n1: " + yamlQuote(p.v) + "}\n"
	line, col := 7, 19
	if key == "backend" {
		lbYAML = "    backend: " + yamlQuote(p.v) + "\n"
		line, col = 6, 14
	}
	inv := "apiVersion: zdu/v1\nnodes: [{name: n1}]\nloadBalancers:\n  web:\n    driver: " + driver + "\n" + lbYAML + keys[driver]
	_, probs := load.ParseInventory("inv.yaml", []byte(inv))
	what := driver + " " + key
	if key == "backend" && driver == "nginx" {
		ok = 'H' // an upstream's name is a name, not an address
	}
	if p.accepts(ok) {
		if len(probs) > 0 {
			t.Errorf("%s: refused, want it taken: %v", what, probs)
		}
		return
	}
	wantAt(t, what, probs, "inv.yaml", line, col)
}

// checkValue binds a one-step plan that inserts vars.p or params.p at a
// destination.
func checkValue(t *testing.T, p payload, channel string, dest byte, typ, line, more string) {
	t.Helper()
	expr := "${{ " + channel + ".p }}"
	with := "          " + strings.Replace(line, "VALUE", expr, 1) + "\n"
	if more != "" {
		with += "          " + more + "\n"
	}
	plan := "apiVersion: zdu/v1\nname: inj\nparams:\n  p: {type: string}\nphases:\n  - id: one\n    targets: all\n    steps:\n      - id: s\n        type: " + typ + "\n        with:\n" + with
	exprLine, exprCol := 12, strings.Index(with, "${{")+1+len("${{ ")
	inv := "apiVersion: zdu/v1\nnodes:\n  - name: n1\n    vars: {x: 1}\n"
	var sets []string
	if channel == "vars" {
		inv = "apiVersion: zdu/v1\nnodes:\n  - name: n1\n    vars: {p: " + yamlQuote(p.v) + "}\n"
	} else {
		sets = []string{"p=" + p.v}
	}
	what := fmt.Sprintf("%s into %s", channel, typ)
	pl, probs := load.ParsePlan("plan.yaml", []byte(plan))
	if len(probs) > 0 {
		t.Fatalf("%s: the plan does not load: %v\n%s", what, probs, plan)
	}
	in, probs := load.ParseInventory("inv.yaml", []byte(inv))
	if len(probs) == 0 {
		_, probs = load.Bind(pl, in, load.BindOptions{Sets: sets, RequireParams: true})
	}
	if p.accepts(dest) {
		if len(probs) > 0 {
			t.Errorf("%s: refused, want it taken: %v", what, probs)
		}
		return
	}
	switch {
	case strings.ContainsRune(p.v, 0) && channel == "vars":
		wantAt(t, what, probs, "inv.yaml", 4, 15) // the var's value
	case strings.ContainsRune(p.v, 0):
		// The flag; the param it did not set then has no value.
		if len(probs) == 0 || probs[0].File != "--set" || probs[0].Path != "--set[0]" {
			t.Errorf("%s: %v, want a problem with --set[0] first", what, probs)
		}
	default:
		wantAt(t, what, probs, "plan.yaml", exprLine, exprCol)
	}
}

// wantAt: at least one problem, all at file:line:col.
func wantAt(t *testing.T, what string, probs []schema.Problem, file string, line, col int) {
	t.Helper()
	if len(probs) == 0 {
		t.Errorf("%s: taken, want it refused at %s:%d:%d", what, file, line, col)
		return
	}
	for _, pr := range probs {
		if pr.File != file || pr.Line != line || pr.Col != col || pr.Msg == "" {
			t.Errorf("%s: %v, want every problem at %s:%d:%d", what, pr, file, line, col)
		}
	}
}

// TestInjectionCorpusRun runs every payload the corpus test found taken,
// through a var and a param, against real parts: ssh-exec over a real
// sshd (the remote printf writes the word it received to a file), the
// runtime API line a socket receives, the request target an HTTP server
// receives, the address wait-port dials; and through each driver's names:
// the command driver's commands write the environment they get, an nginx
// upstream file must stay as it was, and a real HAProxy must not change
// any server's admin state or weight, whatever the haproxy-socket lines
// or lb-drain did. A result that turns hostile only at run time fails its
// step before any line is sent, naming the node, the step and the
// expression.
func TestInjectionCorpusRun(t *testing.T) {
	lbtest.Need(t, loopback.HAProxyPath, "haproxy")
	sshd := sshtest.Start(t)
	out, err := os.MkdirTemp("", "zdu-injection-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(out) })
	os.Chmod(out, 0o777) // the sshd user writes here
	var backends []*loopback.Backend
	for _, n := range []string{"s1", "s2", "s3"} {
		b, err := loopback.NewBackend(n, "v1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		backends = append(backends, b)
	}
	h := lbtest.MustHAProxy(t, loopback.HAProxyConfig{Servers: backends})
	rec := startAPIRecorder(t)
	web := startTargets(t)
	port := listenPort(t)
	upstream := filepath.Join(out, "upstream.conf")
	upstreamText := "upstream app {\n    server 127.0.0.1:1;\n    server 127.0.0.1:2;\n}\n"
	os.WriteFile(upstream, []byte(upstreamText), 0o600)

	var plan, inv, vars strings.Builder
	var sets []string
	type want struct {
		file, content string
	}
	var files []want
	var lines []string // the runtime API lines the apiRecorder must receive
	var targets []string
	fmt.Fprintf(&plan, "apiVersion: zdu/v1\nname: corpus\nparams:\n")
	for i, p := range corpus {
		if p.ok != "" {
			fmt.Fprintf(&plan, "  p%d: {type: string}\n", i)
		}
	}
	plan.WriteString(`phases:
  - id: corpus
    targets: all
    steps:
      - {id: result, type: ssh-exec, register: r, with: {command: "printf '%s' 's2; set server app/s3 state maint'"}}
      - id: hostile-result
        type: haproxy-socket
        continueOnError: true
        with: {lb: app, commands: "set server app/${{ results.r.stdout }} state drain"}
      - id: hostile-result-recorded
        type: haproxy-socket
        continueOnError: true
        with: {socket: ` + rec.path + `, commands: "set server app/${{ results.r.stdout }} state drain"}
`)
	step := func(format string, args ...any) { fmt.Fprintf(&plan, "      - "+format+"\n", args...) }
	for i, p := range corpus {
		for _, channel := range []string{"vars", "params"} {
			if channel == "vars" && p.noYAML || p.ok == "" {
				continue
			}
			c := channel[:1]
			ref := fmt.Sprintf("${{ %s.p%d }}", channel, i)
			id := fmt.Sprintf("%s%d", c, i)
			if p.accepts('s') {
				f := filepath.Join(out, "shell-"+id)
				step(`{id: shell-%s, type: ssh-exec, with: {command: "printf '%%s' %s > %s"}}`, id, ref, f)
				files = append(files, want{f, p.v})
			}
			if p.accepts('a') {
				step(`{id: api-rec-%s, type: haproxy-socket, with: {socket: %s, commands: "set server app/%s state drain"}}`, id, rec.path, ref)
				lines = append(lines, "show cli level", "set server app/"+p.v+" state drain")
			}
			if p.accepts('u') {
				step(`{id: url-%s, type: wait-http, with: {url: "%s/%s/%s", timeout: 10s, interval: 100ms}}`, id, web.url, id, ref)
				targets = append(targets, "/"+id+"/"+p.v)
			}
			if p.accepts('h') {
				step(`{id: host-%s, type: wait-port, continueOnError: true, register: w%s, with: {host: "%s", port: %d, timeout: 300ms, interval: 100ms, connectTimeout: 200ms}}`, id, id, ref, port)
				f := filepath.Join(out, "host-"+id)
				step(`{id: host-seen-%s, type: ssh-exec, with: {command: "printf '%%s' ${{ results.w%s.data.address }} > %s"}}`, id, id, f)
				files = append(files, want{f, net.JoinHostPort(p.v, strconv.Itoa(port))})
			}
			if channel == "vars" {
				fmt.Fprintf(&vars, "      p%d: %s\n", i, yamlQuote(p.v))
			} else {
				sets = append(sets, fmt.Sprintf("p%d=%s", i, p.v))
			}
		}
	}
	// Names the drivers take: the command driver's commands write what
	// they get; nginx must find nothing to edit; haproxy nothing to drain.
	fmt.Fprintf(&inv, `apiVersion: zdu/v1
kind: Inventory
ssh: {knownHosts: [%s], identityFiles: [%s], config: none, connectTimeout: 5s}
nodes:
  - name: node-1
    host: %s
    port: %d
    user: %s
    vars:
%sloadBalancers:
  app:
    driver: haproxy
    backend: app
    minHealthy: 0
    servers: {node-1: s1}
    instances: [{name: h, socket: %s}]
`, knownHosts(t, sshd), sshd.ClientKeyFile(), sshd.Host, sshd.Port, sshd.User, vars.String(), h.Socket)
	for i, p := range corpus {
		if p.noYAML {
			continue
		}
		for _, key := range []string{"servers", "backend"} {
			name := fmt.Sprintf("%s%d", key[:1], i)
			names := "    backend: app\n    servers: {node-1: " + yamlQuote(p.v) + "}\n"
			if key == "backend" {
				names = "    backend: " + yamlQuote(p.v) + "\n    servers: {node-1: s1}\n"
			}
			if p.accepts('C') {
				fmt.Fprintf(&inv, "  cmd-%s:\n    driver: command\n%s    commands:\n      disable: printf '%%s' \"$ZDU_BACKEND\" > %s/cmd-%s-backend; printf '%%s' \"$ZDU_SERVER\" > %s/cmd-%s-server\n      enable: \"true\"\n",
					name, names, out, name, out, name)
				step(`{id: cmd-drain-%s, type: lb-drain, with: {lb: cmd-%s, drainTime: 0s}}`, name, name)
				step(`{id: cmd-enable-%s, type: lb-enable, with: {lb: cmd-%s}}`, name, name)
				backend, server := "app", p.v
				if key == "backend" {
					backend, server = p.v, "s1"
				}
				files = append(files, want{filepath.Join(out, "cmd-"+name+"-backend"), backend}, want{filepath.Join(out, "cmd-"+name+"-server"), server})
			}
			if key == "servers" && p.accepts('N') || key == "backend" && p.accepts('H') {
				fmt.Fprintf(&inv, "  ng-%s:\n    driver: nginx\n%s    instances: [{name: ng, upstream: %s, test: \"true\", reload: \"true\"}]\n", name, names, upstream)
				step(`{id: ng-drain-%s, type: lb-drain, continueOnError: true, with: {lb: ng-%s, drainTime: 0s}}`, name, name)
			}
			if p.accepts('H') {
				fmt.Fprintf(&inv, "  ha-%s:\n    driver: haproxy\n    minHealthy: 0\n%s    instances: [{name: h, socket: %s}]\n", name, names, h.Socket)
				step(`{id: ha-drain-%s, type: lb-drain, continueOnError: true, with: {lb: ha-%s, polls: 1, interval: 50ms, timeout: 2s}}`, name, name)
			}
		}
	}
	before, err := lbtest.AdminStates(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	prog := enginetest.Compile(t, plan.String(), inv.String(), sets...)
	r := enginetest.Execute(t, prog, enginetest.Options{Dial: run.SSHDialer(prog.Binding.Inv)})
	if r.Result.ExitCode != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.Result.ExitCode, r.Table, r.Logs["node-1"])
	}
	for _, f := range files {
		got, err := os.ReadFile(f.file)
		if err != nil || string(got) != f.content {
			t.Errorf("%s holds %q (%v), want %q", filepath.Base(f.file), got, err, f.content)
		}
	}
	if got := rec.lines(); !reflect.DeepEqual(got, lines) {
		t.Errorf("the runtime API received %d lines, want %d:\n%q\nwant\n%q", len(got), len(lines), got, lines)
	}
	if got := web.targets(); !reflect.DeepEqual(got, targets) {
		t.Errorf("the HTTP server received\n%q\nwant\n%q", got, targets)
	}
	if b, _ := os.ReadFile(upstream); string(b) != upstreamText {
		t.Errorf("the nginx upstream file changed:\n%s", b)
	}
	after, err := lbtest.AdminStates(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("HAProxy's servers changed:\nbefore %v\nafter  %v", before, after)
	}
	t.Logf("%d payloads: %d destination files, %d runtime API lines and %d HTTP targets byte for byte", len(corpus), len(files), len(lines), len(targets))
	// Each payload the runtime API takes, sent to the real HAProxy in a run
	// of its own: no server's state moves.
	for i, p := range corpus {
		if !p.accepts('a') {
			continue
		}
		apiRun(t, h, before, i, p)
	}
	// The hostile result: both steps failed before sending anything.
	for _, id := range []string{"hostile-result", "hostile-result-recorded"} {
		e := stepEnd(r.Events, id)
		if e == nil || e.State != journal.Failed || e.Node != "node-1" ||
			!strings.Contains(e.Error, "${{ results.r.stdout }}: ';' (U+003B) at byte 2 would end the runtime API command") {
			t.Errorf("step %s: %+v, want it failed on node-1 naming the expression", id, e)
		}
	}
}

func stepEnd(events []journal.Event, id string) *journal.Event {
	for i := len(events) - 1; i >= 0; i-- {
		if e := events[i]; e.Kind == journal.KindStep && e.Step == id && e.State != journal.Started {
			return &events[i]
		}
	}
	return nil
}

func knownHosts(t *testing.T, s *sshtest.Server) string {
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, []byte(s.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// listenPort is a loopback port nothing listens on.
func listenPort(t *testing.T) int {
	p, err := loopback.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// apiRecorder is a stand-in for HAProxy's runtime API that keeps every line
// it receives, byte for byte, and answers like an admin-level socket.
type apiRecorder struct {
	path string
	mu   sync.Mutex
	got  []string
}

func startAPIRecorder(t *testing.T) *apiRecorder {
	dir, err := os.MkdirTemp("", "zdu-rec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &apiRecorder{path: filepath.Join(dir, "api.sock")}
	l, err := net.Listen("unix", r.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			line, err := bufio.NewReaderSize(c, 1<<16).ReadString('\n')
			if err == nil {
				line = strings.TrimSuffix(line, "\n")
				r.mu.Lock()
				r.got = append(r.got, line)
				r.mu.Unlock()
				if line == "show cli level" {
					c.Write([]byte("admin\n"))
				}
			}
			c.Close()
		}
	}()
	return r
}

func (r *apiRecorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// targetServer answers 200 to every request and keeps each request
// target, percent-decoded (what the request names, whatever escaping the
// client chose).
type targetServer struct {
	url string
	mu  sync.Mutex
	got []string
}

func startTargets(t *testing.T) *targetServer {
	s := &targetServer{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://" + l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target, err := url.PathUnescape(r.RequestURI)
		if err != nil {
			target = "undecodable: " + r.RequestURI
		}
		s.mu.Lock()
		s.got = append(s.got, target)
		s.mu.Unlock()
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *targetServer) targets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// apiRun sends one payload, through a var and a param, into a runtime API
// command to HAProxy, and checks that no server's admin state or weight
// changed.
func apiRun(t *testing.T, h *loopback.HAProxy, before map[string]string, i int, p payload) {
	t.Helper()
	plan := `apiVersion: zdu/v1
name: api
params:
  p: {type: string}
phases:
  - id: api
    targets: all
    steps:
      - {id: var, type: haproxy-socket, with: {lb: app, commands: "set server app/${{ vars.p }} state drain"}}
      - {id: param, type: haproxy-socket, with: {lb: app, commands: "set server app/${{ params.p }} state drain"}}
`
	var vars string
	if !p.noYAML {
		vars = "    vars: {p: " + yamlQuote(p.v) + "}\n"
	} else {
		plan = strings.Replace(plan, "      - {id: var,", "      # - {id: var,", 1)
	}
	inv := "apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes:\n  - name: node-1\n" + vars +
		"loadBalancers:\n  app: {driver: haproxy, backend: app, instances: [{name: h, socket: " + h.Socket + "}]}\n"
	prog := enginetest.Compile(t, plan, inv, "p="+p.v)
	r := enginetest.Execute(t, prog, enginetest.Options{})
	if r.Result.ExitCode != 0 {
		t.Errorf("payload %d (%s): exit %d\n%s", i, p.name, r.Result.ExitCode, r.Logs["node-1"])
	}
	after, err := lbtest.AdminStates(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("payload %d (%s) changed HAProxy's servers:\nbefore %v\nafter  %v\n%s", i, p.name, before, after, r.Logs["node-1"])
	}
}
