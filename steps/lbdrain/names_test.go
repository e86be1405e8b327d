package lbdrain

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/steps/lb/lbtest"
)

// A server name that would split a runtime API command never reaches
// HAProxy, even when the load balancer did not come from the loader: the
// drain and the enable fail first, naming it, and no server's state moves.
func TestBadServerNameNeverSent(t *testing.T) {
	r := newRig(t, 3, 1, 1)
	h := r.hs[0]
	before, err := lbtest.AdminStates(ctxT(t), h)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"s2; set server app/s3 state maint", "s2\nset server app/s3 state maint", "s2 ", ""} {
		r.lb.Servers["node-1"] = bad
		rc := r.context()
		for _, typ := range []string{"lb-drain", "lb-enable"} {
			_, err := run(t, typ, map[string]any{"lb": "web", "polls": 1, "interval": "50ms"}, rc)
			if err == nil || !strings.Contains(err.Error(), `load balancer web: server name`) {
				t.Errorf("%s with server %q: %v, want the name refused", typ, bad, err)
			}
		}
	}
	after, err := lbtest.AdminStates(ctxT(t), h)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("servers' state changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
