package analysis_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// prometheusPath is the Debian package's binary (.ci/run installs it).
const prometheusPath = "/usr/bin/prometheus"

// readyLimit bounds each wait on Prometheus (start, first scrape, a new
// value seen): generous, since the machine may be loaded; nothing is
// asserted about how long it takes.
const readyLimit = 2 * time.Minute

// exporter is a tiny scrape target: zdu_test_error_ratio, whose value the
// test sets, and zdu_test_requests_total in two series.
type exporter struct {
	srv  *httptest.Server
	bits atomic.Uint64
}

func startExporter(t *testing.T, v float64) *exporter {
	e := &exporter{}
	e.Set(v)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE zdu_test_error_ratio gauge\nzdu_test_error_ratio %s\n", strconv.FormatFloat(e.Value(), 'g', -1, 64))
		fmt.Fprint(w, "# TYPE zdu_test_requests_total counter\nzdu_test_requests_total{code=\"200\"} 97\nzdu_test_requests_total{code=\"500\"} 3\n")
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *exporter) Set(v float64)    { e.bits.Store(math.Float64bits(v)) }
func (e *exporter) Value() float64   { return math.Float64frombits(e.bits.Load()) }
func (e *exporter) HostPort() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// prometheus is a real Prometheus on loopback, scraping one target every
// second, with its data in a temp dir.
type prometheus struct {
	URL string
	out *lockedBuffer
}

// startPrometheus starts Prometheus for the test and kills it (by its pid)
// when the test ends. A machine without the package skips the test unless
// it runs as root, as CI does: there it must be installed.
func startPrometheus(t *testing.T, target string) *prometheus {
	t.Helper()
	if _, err := os.Stat(prometheusPath); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("%s is not installed (apt-get install prometheus): %v", prometheusPath, err)
		}
		t.Fatalf("%s is not installed: apt-get install prometheus (.ci/run installs it): %v", prometheusPath, err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: exporter
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p := &prometheus{URL: fmt.Sprintf("http://127.0.0.1:%d", port), out: &lockedBuffer{}}
	cmd := exec.Command(prometheusPath,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(pid, syscall.SIGKILL)
			<-done
		}
	})
	p.waitFor(t, done, "ready", func() error {
		code, _, err := get(p.URL + "/-/ready")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("status %d", code)
		}
		return err
	})
	p.waitFor(t, done, "the target up", func() error {
		_, body, err := get(p.URL + "/api/v1/targets")
		if err != nil {
			return err
		}
		var ans struct {
			Data struct {
				ActiveTargets []struct {
					Health, LastError string
				} `json:"activeTargets"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ans); err != nil {
			return err
		}
		if len(ans.Data.ActiveTargets) == 0 {
			return errors.New("no active target yet")
		}
		if at := ans.Data.ActiveTargets[0]; at.Health != "up" {
			return fmt.Errorf("target %s: %s", at.Health, at.LastError)
		}
		return nil
	})
	return p
}

// waitFor polls cond until it holds, failing the test if Prometheus exits
// or readyLimit passes.
func (p *prometheus) waitFor(t *testing.T, done <-chan struct{}, what string, cond func() error) {
	t.Helper()
	end := time.Now().Add(readyLimit)
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited before %s: %s", what, p.out.String())
		default:
		}
		if time.Now().After(end) {
			t.Fatalf("prometheus: no %s after %s: %v\n%s", what, readyLimit, err, p.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitValue waits until an instant query of metric gives want: the
// exporter's new value has been scraped.
func (p *prometheus) waitValue(t *testing.T, metric string, want float64) {
	t.Helper()
	p.waitFor(t, nil, fmt.Sprintf("%s = %v", metric, want), func() error {
		_, body, err := get(p.URL + "/api/v1/query?query=" + url.QueryEscape(metric))
		if err != nil {
			return err
		}
		var ans struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ans); err != nil {
			return err
		}
		if len(ans.Data.Result) != 1 {
			return fmt.Errorf("%d series", len(ans.Data.Result))
		}
		if s, _ := ans.Data.Result[0].Value[1].(string); s != strconv.FormatFloat(want, 'g', -1, 64) {
			return fmt.Errorf("value %v", ans.Data.Result[0].Value[1])
		}
		return nil
	})
}

func get(u string) (int, []byte, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
