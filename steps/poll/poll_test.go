package poll_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/zdu-dev/zdu/steps/poll"
	"github.com/zdu-dev/zdu/steps/steptest"
)

func TestWaitProcessRunningAndGone(t *testing.T) {
	marker := fmt.Sprintf("zdu-poll-test-%d", time.Now().UnixNano())
	rc := &steptest.Context{}
	running, err := steptest.Build("wait-process", map[string]any{"pattern": marker, "interval": "50ms", "timeout": "5s"})
	if err != nil {
		t.Fatal(err)
	}
	// Start the process only after the wait began: the step must poll.
	// The marker is the name of a script, passed by environment so that the
	// starting shell's own command line does not match it.
	script := filepath.Join(t.TempDir(), marker)
	if err := os.WriteFile(script, []byte("#!/bin/sh\nsleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `sleep 0.3; exec sh "$SCRIPT"`)
	cmd.Env = append(os.Environ(), "SCRIPT="+script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill := func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }
	t.Cleanup(kill)
	start := time.Now()
	if _, err := steptest.Run(running, rc, 10*time.Second); err != nil {
		t.Fatalf("wait running: %v\nlog: %s", err, rc.Logged())
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Errorf("returned before the process could have started")
	}
	gone, _ := steptest.Build("wait-process", map[string]any{"pattern": marker, "state": "stopped", "interval": "50ms", "timeout": "300ms"})
	if _, err := steptest.Run(gone, rc, 10*time.Second); err == nil || !strings.Contains(err.Error(), "not after") {
		t.Fatalf("process still runs: want a timeout, got %v", err)
	}
	kill()
	gone, _ = steptest.Build("wait-process", map[string]any{"pattern": marker, "state": "stopped", "interval": "50ms", "timeout": "5s"})
	if _, err := steptest.Run(gone, rc, 10*time.Second); err != nil {
		t.Fatalf("wait gone: %v", err)
	}
}

func TestWaitPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	rc := &steptest.Context{}
	rc.NodeInfo.Host = "127.0.0.1"
	open, _ := steptest.Build("wait-port", map[string]any{"port": port, "interval": "50ms", "timeout": "2s"})
	if _, err := steptest.Run(open, rc, 5*time.Second); err != nil {
		t.Fatalf("open port: %v", err)
	}
	l.Close()
	fromNode, _ := steptest.Build("wait-port", map[string]any{"port": port, "from": "node", "state": "closed", "interval": "50ms", "timeout": "2s"})
	if _, err := steptest.Run(fromNode, rc, 5*time.Second); err != nil {
		t.Fatalf("closed port: %v", err)
	}
	stillOpen, _ := steptest.Build("wait-port", map[string]any{"port": port, "interval": "50ms", "timeout": "300ms"})
	if _, err := steptest.Run(stillOpen, rc, 5*time.Second); err == nil {
		t.Fatal("a closed port must time out the wait for open")
	}
}

func TestWaitHTTP(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 4 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "version 7.7 ready")
	}))
	defer srv.Close()
	rc := &steptest.Context{}
	act, err := steptest.Build("wait-http", map[string]any{"url": srv.URL + "/health", "body": `7\.7`, "interval": "20ms", "timeout": "5s"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := steptest.Run(act, rc, 10*time.Second)
	if err != nil {
		t.Fatalf("wait-http: %v", err)
	}
	if calls.Load() != 4 || out.Data["status"] != 200 || !strings.Contains(out.Stdout, "ready") {
		t.Errorf("calls=%d outcome=%+v", calls.Load(), out)
	}
	wrong, _ := steptest.Build("wait-http", map[string]any{"url": srv.URL, "body": "8\\.0", "interval": "20ms", "timeout": "200ms"})
	if _, err := steptest.Run(wrong, rc, 5*time.Second); err == nil || !strings.Contains(err.Error(), "body does not match") {
		t.Fatalf("want a timeout naming the body mismatch, got %v", err)
	}
	if _, err := steptest.Build("wait-http", map[string]any{"url": "x", "body": "("}); err == nil {
		t.Fatal("a bad body regexp must be refused at build")
	}
}
