package lbdrain

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/lb/lbtest"
	"github.com/zdu-dev/zdu/steps/lb/loopback"
	"github.com/zdu-dev/zdu/steps/lb/nginx"
	"github.com/zdu-dev/zdu/steps/step"
	"github.com/zdu-dev/zdu/steps/steptest"
)

type ngRig struct {
	bs []*loopback.Backend
	ns []*loopback.Nginx
	lb step.LoadBalancer
}

func newNginxRig(t *testing.T, backends, instances, minHealthy int) *ngRig {
	t.Helper()
	lbtest.Need(t, loopback.NginxPath, "nginx")
	r := &ngRig{bs: newBackends(t, backends)}
	r.lb = step.LoadBalancer{Name: "web", Driver: "nginx", Backend: "app", MinHealthy: minHealthy,
		Servers: map[string]string{"node-1": r.bs[0].Addr()}}
	for i := 0; i < instances; i++ {
		n := lbtest.MustNginx(t, loopback.NginxConfig{Servers: r.bs})
		r.ns = append(r.ns, n)
		r.lb.Instances = append(r.lb.Instances, step.LBInstance{Name: "ng" + string(rune('1'+i)),
			Config: nginx.Config{Upstream: n.UpstreamFile, Test: n.TestCmd, Reload: n.ReloadCmd}})
	}
	return r
}

func (r *ngRig) context() *steptest.Context {
	return &steptest.Context{NodeInfo: step.Node{Name: "node-1", Host: "127.0.0.1"},
		LBs: map[string]step.LoadBalancer{"web": r.lb}}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func nginxClean(t *testing.T, n *loopback.Nginx) {
	t.Helper()
	if errs := n.Errors(); len(errs) != 0 {
		t.Errorf("nginx error log:\n%s", strings.Join(errs, "\n"))
	}
}

// Drain marks s1 down and waits drainTime, long enough for its slow
// in-flight requests (3s for requests of 500ms: room for a loaded machine);
// its restart loses nothing; enable brings it back.
func TestNginxDrainRestartEnable(t *testing.T) {
	r := newNginxRig(t, 3, 1, 1)
	n, s1 := r.ns[0], r.bs[0]
	orig := read(t, n.UpstreamFile)
	s1.SetDelay(500 * time.Millisecond)
	load := lbtest.StartLoadWith(n.URL+"/", lbtest.LoadOptions{Clients: 12, NoKeepAlive: true})
	waitFor(t, "slow requests in flight on s1", func() bool { return s1.InFlight() >= 2 })
	rc := r.context()

	out, err := run(t, "lb-drain", map[string]any{"lb": "web", "drainTime": "3s"}, rc)
	if err != nil {
		t.Fatalf("drain: %v\n%s", err, rc.Logged())
	}
	if n := s1.InFlight(); n != 0 {
		t.Errorf("s1 has %d requests in flight after the drain time", n)
	}
	want := strings.Replace(orig, "server "+s1.Addr()+" max_fails=0;", "server "+s1.Addr()+" max_fails=0 down;", 1)
	if got := read(t, n.UpstreamFile); got != want || got == orig {
		t.Errorf("upstream file after drain:\n%s\nwant:\n%s", got, want)
	}
	if got := read(t, n.UpstreamFile+nginx.BackupSuffix); got != orig {
		t.Errorf("backup file = %q, want the original", got)
	}
	if out.Undo == nil || out.Undo.Key != "lb/web/node-1" {
		t.Fatalf("undo = %+v", out.Undo)
	}
	served := s1.Served()
	s1.SetDelay(0)
	s1.SetVersion("v2")
	if err := s1.Restart(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	others := r.bs[1].Served() + r.bs[2].Served()
	waitFor(t, "traffic on the other servers", func() bool { return r.bs[1].Served()+r.bs[2].Served() > others+50 })
	if s1.Served() != served {
		t.Errorf("drained s1 answered %d requests", s1.Served()-served)
	}

	out, err = run(t, "lb-enable", map[string]any{"lb": "web", "healthUrl": s1.URL() + "/health"}, rc)
	if err != nil {
		t.Fatalf("enable: %v\n%s", err, rc.Logged())
	}
	if len(out.Settles) != 1 || out.Settles[0] != "lb/web/node-1" {
		t.Errorf("settles = %v", out.Settles)
	}
	if got := read(t, n.UpstreamFile); got != orig {
		t.Errorf("upstream file after enable:\n%s\nwant the original:\n%s", got, orig)
	}
	waitFor(t, "s1 v2 to take traffic", func() bool { return load.Counts().ByBody["s1 v2"] >= 20 })
	c := load.Stop()
	if c.Failed != 0 {
		t.Errorf("failed client requests = %d, want 0: %v", c.Failed, c)
	}
	nginxClean(t, n)
}

func TestNginxRefusals(t *testing.T) {
	tests := []struct {
		name       string
		minHealthy int
		test       string // instance 2's test command ("" = the real one)
		reload     string // instance 2's reload command
		want       string
	}{
		{name: "min healthy", minHealthy: 2, want: "the backend has only 1 other server(s)"},
		{name: "config test fails on the second instance", minHealthy: 1, test: `echo "nginx: [emerg] simulated" >&2; exit 1`, want: "testing the config: exit 1: nginx: [emerg] simulated"},
		{name: "reload fails on the second instance", minHealthy: 1, reload: "exit 7", want: "reloading: exit 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newNginxRig(t, 2, 2, tc.minHealthy)
			c := r.lb.Instances[1].Config.(nginx.Config)
			if tc.test != "" {
				c.Test = tc.test
			}
			if tc.reload != "" {
				c.Reload = tc.reload
			}
			r.lb.Instances[1].Config = c
			var origs []string
			for _, n := range r.ns {
				origs = append(origs, read(t, n.UpstreamFile))
			}
			load := lbtest.StartLoadWith(r.ns[0].URL+"/", lbtest.LoadOptions{Clients: 4, NoKeepAlive: true})
			rc := r.context()
			_, err := run(t, "lb-drain", map[string]any{"lb": "web", "drainTime": "10ms"}, rc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q\n%s", err, tc.want, rc.Logged())
			}
			// Every file is as it was: the first instance was put back up,
			// the second restored from its backup.
			for i, n := range r.ns {
				if got := read(t, n.UpstreamFile); got != origs[i] {
					t.Errorf("instance %d upstream file after the failed drain:\n%s\nwant:\n%s", i+1, got, origs[i])
				}
			}
			served := r.bs[0].Served()
			waitFor(t, "s1 still taking traffic", func() bool { return r.bs[0].Served() > served+10 })
			if c := load.Stop(); c.Failed != 0 {
				t.Errorf("failed client requests = %d, want 0: %v", c.Failed, c)
			}
			nginxClean(t, r.ns[0])
		})
	}
}

// nginx's pool is its upstream file: with s2 marked down there (by another
// operator, or another drain), the drain of s1 waits until the mark is
// gone, reading the file again, then drains.
func TestNginxMinHealthyWait(t *testing.T) {
	r := newNginxRig(t, 3, 1, 2)
	file, s2 := r.ns[0].UpstreamFile, r.bs[1].Addr()
	orig := read(t, file)
	marked := ""
	for _, l := range strings.SplitAfter(orig, "\n") {
		if strings.Contains(l, "server "+s2+" ") || strings.Contains(l, "server "+s2+";") {
			l = strings.Replace(l, ";", " down;", 1)
		}
		marked += l
	}
	if marked == orig {
		t.Fatalf("upstream file has no server line for %s:\n%s", s2, orig)
	}
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(marked)
	rc := r.context()
	act, err := steptest.Build("lb-drain", map[string]any{"lb": "web", "drainTime": "10ms", "interval": "50ms", "minHealthyWait": "40s"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := steptest.Run(act, rc, 40*time.Second)
		done <- err
	}()
	ended := false
	waitFor(t, "the drain to say it waits", func() bool {
		if len(done) > 0 {
			ended = true
			return true
		}
		return len(rc.Waits()) > 0
	})
	if ended {
		t.Fatalf("the drain ended (%v) before it said it waits\n%s", <-done, rc.Logged())
	}
	if w := rc.Waits()[0]; !strings.Contains(w.Message, s2+" (down)") {
		t.Errorf("reported wait %q does not name %s (down)", w.Message, s2)
	}
	write(orig)
	if err := <-done; err != nil {
		t.Fatalf("drain after s2 came back: %v\n%s", err, rc.Logged())
	}
	if got := read(t, file); !strings.Contains(got, "server "+r.bs[0].Addr()) || strings.Count(got, " down") != 1 || strings.Contains(got, s2+" down") {
		t.Errorf("upstream file after the drain:\n%s\nwant s1 down and s2 up", got)
	}
	nginxClean(t, r.ns[0])
}
