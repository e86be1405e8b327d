package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zdu-dev/zdu/steps/transport"
)

// A thousand commands at once, each writing a little: every one succeeds with
// all of its output. Before, a loaded machine that copied output slower than
// the 2s WaitDelay turned some of them into "WaitDelay expired before I/O
// complete". The figures do not depend on how loaded the machine is: nothing
// after the shell's exit is timed.
func TestRunManyAtOnce(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var log bytes.Buffer
			res, err := New().Run(context.Background(), transport.Command{
				Script: fmt.Sprintf("echo out%d; echo err%d >&2", i, i), Stdout: &log,
			})
			switch {
			case err != nil:
				errs[i] = err
			case res.ExitCode != 0:
				errs[i] = fmt.Errorf("exit %d", res.ExitCode)
			case string(res.Stdout) != fmt.Sprintf("out%d\n", i) || string(res.Stderr) != fmt.Sprintf("err%d\n", i):
				errs[i] = fmt.Errorf("output %q / %q", res.Stdout, res.Stderr)
			case log.String() != string(res.Stdout):
				errs[i] = fmt.Errorf("streamed %q", log.String())
			}
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("command %d: %v", i, err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d commands failed", failed, n)
	}
}

// Output written by the group after the shell exited is still read: a
// background child of the same group writes last.
func TestRunReadsGroupOutputToTheEnd(t *testing.T) {
	res, err := New().Run(context.Background(), transport.Command{
		Script: "(sleep 0.3; echo late) & echo early",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Stdout); got != "early\nlate\n" {
		t.Fatalf("stdout %q, want early and late", got)
	}
}

// A process that escaped the group (setsid) and keeps stdout open does not
// hold the command once everything the group wrote is read.
func TestRunEscapedOrphanDoesNotHold(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid(1) not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a hang guard only
	defer cancel()
	res, err := New().Run(ctx, transport.Command{
		Script: "setsid sleep 600 & echo $! >&2; echo done",
	})
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(res.Stderr))
	t.Cleanup(func() { _, _ = New().Run(context.Background(), transport.Command{Script: "kill " + pid}) })
	if string(res.Stdout) != "done\n" || res.ExitCode != 0 {
		t.Fatalf("got exit %d, stdout %q", res.ExitCode, res.Stdout)
	}
}

// Cancelling kills the whole group and reports the context's error.
func TestRunCancelKillsGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	r, w := io.Pipe()
	go func() {
		buf := make([]byte, 64)
		if n, _ := r.Read(buf); n > 0 {
			close(started)
		}
	}()
	done := make(chan struct{})
	var res transport.Result
	var err error
	go func() {
		res, err = New().Run(ctx, transport.Command{Script: "sleep 600 & echo started; wait", Stdout: w})
		close(done)
	}()
	<-started
	cancel()
	<-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if string(res.Stdout) != "started\n" {
		t.Fatalf("stdout %q", res.Stdout)
	}
}

func TestRunStdin(t *testing.T) {
	res, err := New().Run(context.Background(), transport.Command{Script: "cat", Stdin: strings.NewReader("in\n")})
	if err != nil || string(res.Stdout) != "in\n" {
		t.Fatalf("got %q, %v", res.Stdout, err)
	}
	res, err = New().Run(context.Background(), transport.Command{Script: "exit 3"})
	if err != nil || res.ExitCode != 3 {
		t.Fatalf("exit %d, %v", res.ExitCode, err)
	}
}
