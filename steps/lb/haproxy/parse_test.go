package haproxy

import (
	"strings"
	"testing"
)

func TestParseStatsByHeader(t *testing.T) {
	// Columns in an order no HAProxy uses: nothing may depend on positions.
	ans := "# svname,pxname,status,qcur,scur,weight,\n" +
		"FRONTEND,fe,OPEN,,3,,\n" +
		"s1,app,DRAIN,0,2,10,\n" +
		"s2,app,UP,1,0,10,\n" +
		"s3,app,no check,0,0,0,\n" +
		"s4,app,UP 1/2,0,0,5,\n" +
		"BACKEND,app,UP,1,2,20,\n\n"
	st, err := ParseStats(ans)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		server     string
		scur, qcur int64
		serving    bool
	}{
		{"s1", 2, 0, false}, {"s2", 0, 1, true}, {"s3", 0, 0, false}, {"s4", 0, 0, true},
	}
	for _, tc := range tests {
		r, err := st.Server("sock", "app", tc.server)
		if err != nil {
			t.Fatal(err)
		}
		if r.Int("scur") != tc.scur || r.Int("qcur") != tc.qcur || r.Serving() != tc.serving {
			t.Errorf("%s: scur %d qcur %d serving %v, want %d %d %v", tc.server, r.Int("scur"), r.Int("qcur"), r.Serving(), tc.scur, tc.qcur, tc.serving)
		}
	}
	if n := len(st.Servers("app")); n != 4 {
		t.Errorf("servers of app = %d, want 4", n)
	}
	if _, err := st.Server("sock", "app", "s9"); err == nil || !strings.Contains(err.Error(), `backend "app" has no server "s9" (it has [s1 s2 s3 s4])`) {
		t.Errorf("missing server: %v", err)
	}
	if _, err := st.Server("sock", "nope", "s1"); err == nil || !strings.Contains(err.Error(), `no backend "nope"`) {
		t.Errorf("missing backend: %v", err)
	}
}

func TestParseStatsErrors(t *testing.T) {
	for _, ans := range []string{"", "Unknown command.", "# pxname,svname,\nx,y,\n"} {
		if _, err := ParseStats(ans); err == nil {
			t.Errorf("ParseStats(%q) passed", ans)
		}
	}
}

func TestWeights(t *testing.T) {
	w, err := ParseWeight("3 (initial 10)\n")
	if err != nil || w != (Weight{3, 10}) {
		t.Errorf("ParseWeight = %+v, %v", w, err)
	}
	if _, err := ParseWeight("No such server."); err == nil {
		t.Error("ParseWeight accepted an error message")
	}
	tests := []struct {
		weight  string
		initial int
		want    int
		ok      bool
	}{
		{"100%", 10, 10, true}, {"50%", 10, 5, true}, {"7", 10, 7, true}, {"0", 10, 0, true},
		{"257", 10, 0, false}, {"x%", 10, 0, false}, {"-1", 10, 0, false},
	}
	for _, tc := range tests {
		got, err := wantWeight(tc.weight, tc.initial)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("wantWeight(%q, %d) = %d, %v", tc.weight, tc.initial, got, err)
		}
	}
}

func TestMultiLineCommandRefused(t *testing.T) {
	c := &Client{Name: "sock", Dial: nil}
	if _, err := c.Do(t.Context(), "show stat\nshutdown sessions server app/s1"); err == nil || !strings.Contains(err.Error(), "one command per line") {
		t.Errorf("err = %v", err)
	}
}
