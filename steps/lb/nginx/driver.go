// Package nginx is the nginx load balancer driver. nginx (open source) has no
// runtime API, so a drain edits the upstream file on the load balancer host:
// the node's `server` line gets `down`, the config is tested (`nginx -t`) and
// reloaded, and the drain waits the plan's drainTime.
//
// What can be observed: the file's content, the test's and the reload's exit
// status. What cannot: nginx OSS keeps no per-server session counts, so zdu
// cannot see when the last request to the drained server ends. After a
// reload, old workers finish their in-flight requests and exit ("worker
// process is shutting down"), so a plan can follow lb-drain with a
// wait-process on that pattern on the LB host to wait for exactly that; the
// drainTime must otherwise exceed the slowest request.
package nginx

import (
	"context"
	"fmt"
	"strings"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

func init() {
	lb.Register(lb.Definition{
		Name:           "nginx",
		Summary:        "nginx upstream file, tested and reloaded",
		InstanceSchema: []byte(instanceSchema),
		Decode:         decode,
		Driver:         Driver{},
		// A server is named by its address in the upstream block.
		CheckServer:  lb.CheckAddress,
		ServerStates: true,
	})
}

// instanceSchema is an instance's own keys: its upstream file and commands.
const instanceSchema = `{
  "properties": {
    "upstream": {
      "description": "The file holding the upstream block, which zdu edits.",
      "type": "string",
      "minLength": 1
    },
    "reload": {
      "description": "Command that reloads the configuration (default: nginx -s reload).",
      "type": "string",
      "minLength": 1
    },
    "test": {
      "description": "Command that tests the configuration before a reload (default: nginx -t -q).",
      "type": "string",
      "minLength": 1
    }
  }
}`

// Config is an nginx instance's own inventory keys (its
// step.LBInstance.Config).
type Config struct {
	// Upstream is the file holding the upstream block; Reload and Test are
	// the commands that reload and test the configuration ("": the default).
	Upstream, Reload, Test string
}

func decode(l lb.Fields, ins []lb.Fields) (any, []any) {
	if len(ins) == 0 {
		l.Errorf("instances", "a nginx load balancer needs at least one instance")
	}
	out := make([]any, len(ins))
	for n, f := range ins {
		c := Config{Upstream: f.String("upstream"), Reload: f.String("reload"), Test: f.String("test")}
		if c.Upstream == "" {
			f.Errorf("", "an nginx instance needs upstream: the file holding the upstream block")
		}
		out[n] = c
	}
	return nil, out
}

// Driver is the nginx load balancer driver.
type Driver struct{}

var _ lb.Driver = Driver{}

// Default commands when the inventory instance gives none.
const (
	DefaultTest   = "nginx -t -q"
	DefaultReload = "nginx -s reload"
)

// BackupSuffix names the copy of the upstream file kept before each edit.
const BackupSuffix = ".zdu-backup"

// instance is one nginx of the load balancer, for one target's server. Its
// transport is resolved when it is first read, so an enable goes on with
// the other instances when one cannot be reached.
type instance struct {
	in    step.LBInstance
	cfg   Config
	t     lb.Target
	tr    transport.Transport
	name  string
	file  *upstream
	entry serverLine
}

var (
	_ lb.Instance     = (*instance)(nil)
	_ lb.DrainChecker = (*instance)(nil)
	_ lb.PoolReader   = (*instance)(nil)
)

// Drained reads the upstream file again: the server is out while its line
// is marked down (a file restored from elsewhere may have lost the mark).
func (i *instance) Drained(ctx context.Context, rc step.Context) (bool, error) {
	if err := i.read(ctx, rc); err != nil {
		return false, err
	}
	return i.entry.has("down"), nil
}

func configOf(in step.LBInstance) Config {
	c, _ := in.Config.(Config)
	return c
}

func describe(in step.LBInstance) string {
	return fmt.Sprintf("nginx %s (%s via %s)", in.Name, configOf(in).Upstream, lb.ViaName(in.Via))
}

func commands(c Config) (test, reload string) {
	test, reload = c.Test, c.Reload
	if test == "" {
		test = DefaultTest
	}
	if reload == "" {
		reload = DefaultReload
	}
	return test, reload
}

// Open returns the instances; nothing is read yet.
func (Driver) Open(rc step.Context, t lb.Target) ([]lb.Instance, error) {
	if len(t.LB.Instances) == 0 {
		return nil, fmt.Errorf("load balancer %s has no instances", t.LB.Name)
	}
	out := make([]lb.Instance, 0, len(t.LB.Instances))
	for _, in := range t.LB.Instances {
		out = append(out, &instance{in: in, cfg: configOf(in), t: t, name: describe(in)})
	}
	return out, nil
}

func (i *instance) Name() string { return i.in.Name }

// read reads and parses the instance's upstream file and finds the server.
func (i *instance) read(ctx context.Context, rc step.Context) error {
	if i.tr == nil {
		tr, _, err := lb.Via(rc, i.in)
		if err != nil {
			return err
		}
		i.tr = tr
	}
	file, t := i.cfg.Upstream, i.t
	res, err := i.tr.Run(ctx, transport.Command{Script: "cat -- " + transport.Quote(file)})
	if err != nil {
		return fmt.Errorf("%s: reading %s: %w", i.name, file, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: reading %s: exit %d: %s", i.name, file, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	u, err := parseUpstream(string(res.Stdout), t.LB.Backend)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", i.name, file, err)
	}
	s, err := u.find(t.LB.Backend, t.Server)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", i.name, file, err)
	}
	i.file, i.entry = u, s
	return nil
}

// writeScript replaces the file atomically with stdin: a backup copy, then a
// temp file beside it (same mode and owner) renamed over it.
func writeScript(file string) string {
	return "f=" + transport.Quote(file) + `; t="$f.zdu-tmp.$$"; ` +
		`cp -p -- "$f" "$f` + BackupSuffix + `" && cp -p -- "$f" "$t" && cat > "$t" && mv -f -- "$t" "$f" || { rm -f -- "$t"; exit 1; }`
}

func restoreScript(file string) string {
	return "f=" + transport.Quote(file) + `; mv -f -- "$f` + BackupSuffix + `" "$f"`
}

// set marks the server down (or up) on one instance: write, test, reload. A
// failed test or reload puts the previous file back, so the file always
// matches what nginx runs.
func (i *instance) set(ctx context.Context, log interface{ Write([]byte) (int, error) }, down, become bool) error {
	content, changed := i.file.setDown(i.entry, down)
	state := "down"
	if !down {
		state = "up"
	}
	if !changed {
		fmt.Fprintf(log, "%s: server %s is already %s\n", i.name, i.entry.addr, state)
		return nil
	}
	run := func(what, script string, stdin string) error {
		c := transport.Command{Script: script, Become: become}
		if stdin != "" {
			c.Stdin = strings.NewReader(stdin)
		}
		fmt.Fprintf(log, "%s: %s: %s\n", i.name, what, transport.Script(transport.Command{Script: script, Become: become}))
		res, err := i.tr.Run(ctx, c)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", i.name, what, err)
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("%s: %s: exit %d: %s", i.name, what, res.ExitCode, strings.TrimSpace(string(res.Stderr)+" "+string(res.Stdout)))
		}
		return nil
	}
	if err := run("writing "+i.cfg.Upstream, writeScript(i.cfg.Upstream), content); err != nil {
		return err
	}
	test, reload := commands(i.cfg)
	for _, c := range [][2]string{{"testing the config", test}, {"reloading", reload}} {
		if err := run(c[0], c[1], ""); err != nil {
			if rerr := run("restoring "+i.cfg.Upstream, restoreScript(i.cfg.Upstream), ""); rerr != nil {
				return fmt.Errorf("%w; %w", err, rerr)
			}
			return err
		}
	}
	fmt.Fprintf(log, "%s: server %s is %s\n", i.name, i.entry.addr, state)
	return nil
}

// CheckDrain reads the file and finds the server in it.
func (i *instance) CheckDrain(ctx context.Context, rc step.Context) (map[string]any, error) {
	return nil, i.read(ctx, rc)
}

// Pool reads the file again: the upstream's servers, serving unless marked
// down. Backup servers are left out: they take no traffic while others
// serve, so they neither count towards minHealthy nor in its percentage.
func (i *instance) Pool(ctx context.Context, rc step.Context) ([]lb.ServerState, error) {
	if err := i.read(ctx, rc); err != nil {
		return nil, err
	}
	var out []lb.ServerState
	for _, s := range i.file.servers {
		if s.has("backup") {
			continue
		}
		st := lb.ServerState{Name: s.addr, Serving: !s.has("down"), State: "up", Self: s.line == i.entry.line}
		if !st.Serving {
			st.State = "down"
		}
		out = append(out, st)
	}
	return out, nil
}

// Drain marks the server down in the file CheckDrain read, tests and reloads.
func (i *instance) Drain(ctx context.Context, rc step.Context, o lb.DrainOptions) error {
	return i.set(ctx, rc.Log(), true, o.Become)
}

// Enable reads the file again and removes `down` from the server.
func (i *instance) Enable(ctx context.Context, rc step.Context, o lb.EnableOptions) (map[string]any, error) {
	if err := i.read(ctx, rc); err != nil {
		return nil, err
	}
	return nil, i.set(ctx, rc.Log(), false, o.Become)
}

// WaitIdle waits drainTime: nginx cannot report the server's open requests.
func (Driver) WaitIdle(ctx context.Context, rc step.Context, t lb.Target, ins []lb.Instance, o lb.DrainOptions) (map[string]any, error) {
	fmt.Fprintf(rc.Log(), "waiting %s (drainTime): nginx cannot report the server's open requests\n", o.DrainTime)
	if err := lb.Sleep(ctx, o.DrainTime); err != nil {
		return nil, fmt.Errorf("waiting drainTime: %w", err)
	}
	return map[string]any{"drainTime": o.DrainTime.String()}, nil
}

func explain(t lb.Target, down, become bool) []string {
	var out []string
	for _, in := range t.LB.Instances {
		d, c := describe(in), configOf(in)
		test, reload := commands(c)
		sh := func(s string) string { return transport.Script(transport.Command{Script: s, Become: become}) }
		mark := "mark server " + t.Server + " of upstream " + t.LB.Backend + " down"
		if rule := lb.MinHealthyRule(t.LB); down && rule != "" {
			mark += " (refuse unless " + rule + ", counting servers not marked down or backup)"
		} else if !down {
			mark = "remove down from server " + t.Server + " of upstream " + t.LB.Backend
		}
		out = append(out,
			d+": cat -- "+transport.Quote(c.Upstream)+"; "+mark,
			d+": "+sh(writeScript(c.Upstream))+" (the edited file on stdin; skipped when nothing changes)",
			d+": "+sh(test)+" (on failure: "+sh(restoreScript(c.Upstream))+")",
			d+": "+sh(reload))
	}
	return out
}

// ExplainDrain lists the file edits, commands and the wait of a drain.
func (Driver) ExplainDrain(rc step.Context, t lb.Target, o lb.DrainOptions) ([]string, error) {
	out := explain(t, true, o.Become)
	if w := lb.ExplainMinHealthyWait(t.LB, o); w != "" {
		// Before the edits: the file is read again until enough servers
		// are up in it.
		out = append([]string{w + " (the upstream file is read again each time)"}, out...)
	}
	return append(out, fmt.Sprintf("wait %s (drainTime; nginx cannot report open requests per server)", o.DrainTime)), nil
}

// ExplainEnable lists the file edits and commands of an enable.
func (Driver) ExplainEnable(rc step.Context, t lb.Target, o lb.EnableOptions) ([]string, error) {
	return explain(t, false, o.Become), nil
}
