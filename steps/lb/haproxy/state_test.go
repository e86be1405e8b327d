package haproxy

import "testing"

func TestParseServerState(t *testing.T) {
	ans := `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change
3 app 1 web1 127.0.0.1 2 0 10 10 33
3 app 2 web2 127.0.0.1 0 8 10 10 2
`
	for _, tc := range []struct {
		server  string
		drained bool
		weight  int
	}{{"web1", false, 10}, {"web2", true, 10}} {
		a, w, err := parseServerState(ans, "app", tc.server)
		if err != nil || a.Drained() != tc.drained || w != tc.weight {
			t.Errorf("%s: admin %d weight %d err %v; want drained %v weight %d", tc.server, a, w, err, tc.drained, tc.weight)
		}
	}
	if _, _, err := parseServerState(ans, "app", "web3"); err == nil {
		t.Error("a missing server must be an error")
	}
	if _, _, err := parseServerState("garbage", "app", "web1"); err == nil {
		t.Error("an answer without a header must be an error")
	}
}
