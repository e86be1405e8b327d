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
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/steps/lb"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/transport"
)

func init() { lb.Register("nginx", Driver{}) }

// Driver is the nginx load balancer driver.
type Driver struct{}

var _ lb.Driver = Driver{}

// Default commands when the inventory instance gives none.
const (
	DefaultTest   = "nginx -t -q"
	DefaultReload = "nginx -s reload"
)

// CleanupTimeout bounds putting a server back after a failed drain.
const CleanupTimeout = 30 * time.Second

// BackupSuffix names the copy of the upstream file kept before each edit.
const BackupSuffix = ".zdu-backup"

type inst struct {
	in    step.LBInstance
	tr    transport.Transport
	name  string
	file  *upstream
	entry serverLine
}

func describe(in step.LBInstance) string {
	return fmt.Sprintf("nginx %s (%s via %s)", in.Name, in.Upstream, lb.ViaName(in.Via))
}

func commands(in step.LBInstance) (test, reload string) {
	test, reload = in.Test, in.Reload
	if test == "" {
		test = DefaultTest
	}
	if reload == "" {
		reload = DefaultReload
	}
	return test, reload
}

// load reads and parses every instance's upstream file.
func load(ctx context.Context, rc step.Context, t lb.Target) ([]*inst, error) {
	if len(t.LB.Instances) == 0 {
		return nil, fmt.Errorf("load balancer %s has no instances", t.LB.Name)
	}
	var out []*inst
	for _, in := range t.LB.Instances {
		tr, _, err := lb.Via(rc, in)
		if err != nil {
			return nil, err
		}
		i := &inst{in: in, tr: tr, name: describe(in)}
		if err := i.read(ctx, t); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, nil
}

func (i *inst) read(ctx context.Context, t lb.Target) error {
	res, err := i.tr.Run(ctx, transport.Command{Script: "cat -- " + transport.Quote(i.in.Upstream)})
	if err != nil {
		return fmt.Errorf("%s: reading %s: %w", i.name, i.in.Upstream, err)
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: reading %s: exit %d: %s", i.name, i.in.Upstream, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	u, err := parseUpstream(string(res.Stdout), t.LB.Backend)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", i.name, i.in.Upstream, err)
	}
	s, err := u.find(t.LB.Backend, t.Server)
	if err != nil {
		return fmt.Errorf("%s: %s: %w", i.name, i.in.Upstream, err)
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
func (i *inst) set(ctx context.Context, log interface{ Write([]byte) (int, error) }, down, become bool) error {
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
	if err := run("writing "+i.in.Upstream, writeScript(i.in.Upstream), content); err != nil {
		return err
	}
	test, reload := commands(i.in)
	for _, c := range [][2]string{{"testing the config", test}, {"reloading", reload}} {
		if err := run(c[0], c[1], ""); err != nil {
			if rerr := run("restoring "+i.in.Upstream, restoreScript(i.in.Upstream), ""); rerr != nil {
				return fmt.Errorf("%w; %w", err, rerr)
			}
			return err
		}
	}
	fmt.Fprintf(log, "%s: server %s is %s\n", i.name, i.entry.addr, state)
	return nil
}

// Drain marks the server down on every instance after checking that enough
// others stay up, then waits drainTime. A failure on one instance puts the
// server back up on those already changed.
func (Driver) Drain(ctx context.Context, rc step.Context, t lb.Target, o lb.DrainOptions) (map[string]any, error) {
	insts, err := load(ctx, rc, t)
	if err != nil {
		return nil, err
	}
	for _, i := range insts {
		if up := i.file.serving(i.entry); len(up) < t.LB.MinHealthy {
			return nil, fmt.Errorf("refusing to drain %s: in %s upstream %s only %d other server(s) would stay up %v, the load balancer's minHealthy is %d",
				i.entry.addr, i.name, t.LB.Backend, len(up), up, t.LB.MinHealthy)
		}
	}
	log := rc.Log()
	for n, i := range insts {
		if err := i.set(ctx, log, true, o.Become); err != nil {
			return nil, putBack(ctx, rc, insts[:n], t, o.Become, err)
		}
	}
	fmt.Fprintf(log, "waiting %s (drainTime): nginx cannot report the server's open requests\n", o.DrainTime)
	if err := sleep(ctx, o.DrainTime); err != nil {
		return nil, putBack(ctx, rc, insts, t, o.Become, fmt.Errorf("waiting drainTime: %w", err))
	}
	return map[string]any{"drainTime": o.DrainTime.String()}, nil
}

func putBack(ctx context.Context, rc step.Context, insts []*inst, t lb.Target, become bool, cause error) error {
	if len(insts) == 0 {
		return cause
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	var errs []error
	for _, i := range insts {
		if err := i.read(cctx, t); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := i.set(cctx, rc.Log(), false, become); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w; putting it back also failed: %w", cause, errors.Join(errs...))
	}
	return fmt.Errorf("%w (put back up on %d instance(s))", cause, len(insts))
}

// Enable removes `down` on every instance, going on past a failing one.
func (Driver) Enable(ctx context.Context, rc step.Context, t lb.Target, o lb.EnableOptions) (map[string]any, error) {
	var errs []error
	for _, in := range t.LB.Instances {
		tr, _, err := lb.Via(rc, in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		i := &inst{in: in, tr: tr, name: describe(in)}
		if err := i.read(ctx, t); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := i.set(ctx, rc.Log(), false, o.Become); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("enabling %s in upstream %s: %w", t.Server, t.LB.Backend, errors.Join(errs...))
	}
	return map[string]any{}, nil
}

func explain(t lb.Target, down, become bool) []string {
	var out []string
	for _, in := range t.LB.Instances {
		d := describe(in)
		test, reload := commands(in)
		sh := func(s string) string { return transport.Script(transport.Command{Script: s, Become: become}) }
		mark := "mark server " + t.Server + " of upstream " + t.LB.Backend + " down"
		if down {
			mark += fmt.Sprintf(" (refuse unless %d other server(s) stay up)", t.LB.MinHealthy)
		} else {
			mark = "remove down from server " + t.Server + " of upstream " + t.LB.Backend
		}
		out = append(out,
			d+": cat -- "+transport.Quote(in.Upstream)+"; "+mark,
			d+": "+sh(writeScript(in.Upstream))+" (the edited file on stdin; skipped when nothing changes)",
			d+": "+sh(test)+" (on failure: "+sh(restoreScript(in.Upstream))+")",
			d+": "+sh(reload))
	}
	return out
}

// ExplainDrain lists the file edits, commands and the wait of a drain.
func (Driver) ExplainDrain(rc step.Context, t lb.Target, o lb.DrainOptions) ([]string, error) {
	return append(explain(t, true, o.Become), fmt.Sprintf("wait %s (drainTime; nginx cannot report open requests per server)", o.DrainTime)), nil
}

// ExplainEnable lists the file edits and commands of an enable.
func (Driver) ExplainEnable(rc step.Context, t lb.Target, o lb.EnableOptions) ([]string, error) {
	return explain(t, false, o.Become), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
