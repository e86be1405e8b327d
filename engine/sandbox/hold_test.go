package sandbox

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// start runs script in the background on the node; wait returns its exit
// code and output.
func (n *standInNode) start(t *testing.T, script string) (wait func() (int, string)) {
	t.Helper()
	done := make(chan struct{})
	var code int
	var out string
	go func() {
		defer close(done)
		code, out = n.run(t, script)
	}()
	return func() (int, string) { <-done; return code, out }
}

func waitingOn(n *standInNode, key string) func() bool {
	return func() bool {
		_, waiting := Held(n.l)
		return slices.Contains(waiting, key)
	}
}

// TestHoldCatchesRestartInItsMiddle: with a hold on restart, systemctl
// restart stops the service and waits; the hold is listed as waited on;
// released, the restart ends with the service up on the new version.
func TestHoldCatchesRestartInItsMiddle(t *testing.T) {
	n := newStandInNode(t)
	if err := Hold(n.l, "restart"); err != nil {
		t.Fatal(err)
	}
	if code, out := n.run(t, "apt-get install -y nova-api"); code != 0 {
		t.Fatalf("apt-get: %d %s", code, out)
	}
	wait := n.start(t, "systemctl restart nova-api")
	waitFor(t, waitingOn(n, "restart"))
	if n.svc.Running() {
		t.Error("held in the middle of its restart, the service is still running")
	}
	if held, _ := Held(n.l); !slices.Equal(held, []string{"restart"}) {
		t.Errorf("held %v, want [restart]", held)
	}
	if err := Release(n.l, "restart"); err != nil {
		t.Fatal(err)
	}
	if code, out := wait(); code != 0 {
		t.Fatalf("restart after release: exit %d: %s", code, out)
	}
	if c, b := get(t, "http://"+n.svc.Addr()+"/"); c != 200 || b != "node-a v2" {
		t.Errorf("after the released restart the service answered %d %q", c, b)
	}
	if held, waiting := Held(n.l); len(held)+len(waiting) != 0 {
		t.Errorf("after release: held %v, waiting %v", held, waiting)
	}
}

// TestHoldServiceStart: with a hold on service-start the restart returns
// at once with the service down; it comes up once released.
func TestHoldServiceStart(t *testing.T) {
	n := newStandInNode(t)
	if err := Hold(n.l, ServiceStart); err != nil {
		t.Fatal(err)
	}
	if code, out := n.run(t, "systemctl restart nova-api"); code != 0 {
		t.Fatalf("restart: exit %d: %s", code, out)
	}
	waitFor(t, waitingOn(n, ServiceStart))
	if n.svc.Running() {
		t.Fatal("the service is up while its start is held")
	}
	if err := Release(n.l, ServiceStart); err != nil {
		t.Fatal(err)
	}
	waitFor(t, n.svc.Running)
}

// TestHoldKilledStandIn: a stand-in killed while it waits (zdu killed, its
// SSH channel closed) is no longer listed as waiting.
func TestHoldKilledStandIn(t *testing.T) {
	n := newStandInNode(t)
	if err := Hold(n.l, "apply"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.l.NewInstall+"/apigateway/upgrade/bin/sysupgrade", "apply")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitingOn(n, "apply"))
	cmd.Process.Kill()
	cmd.Wait()
	if _, waiting := Held(n.l); len(waiting) != 0 {
		t.Errorf("a killed stand-in is still listed as waiting: %v", waiting)
	}
	if err := Hold(n.l, "aply"); err == nil || !strings.Contains(err.Error(), `did you mean "apply"`) {
		t.Errorf("a misspelt hold key: %v", err)
	}
}
