package nginx

import (
	"strings"
	"testing"
)

const conf = `# managed by hand
upstream other {
    server 10.0.0.11:9000;
}
upstream app {
    zone app 64k;
    server 10.0.0.11:8080 weight=2; # node A
	server 10.0.0.12:8080 max_fails=3 down;
    server 10.0.0.13:8080 backup;
    server 10.0.0.14:8080;
    keepalive 16;
}
`

func TestSetDown(t *testing.T) {
	tests := []struct {
		name, server string
		down         bool
		wantLine     string // the edited line; "" when unchanged
		serving      []string
		wantErr      string
	}{
		{name: "down with params and comment", server: "10.0.0.11:8080", down: true,
			wantLine: "    server 10.0.0.11:8080 weight=2 down; # node A", serving: []string{"10.0.0.14:8080"}},
		{name: "up again keeps the tab and params", server: "10.0.0.12:8080", down: false,
			wantLine: "\tserver 10.0.0.12:8080 max_fails=3;", serving: []string{"10.0.0.11:8080", "10.0.0.14:8080"}},
		{name: "already down", server: "10.0.0.12:8080", down: true, serving: []string{"10.0.0.11:8080", "10.0.0.14:8080"}},
		{name: "by host", server: "10.0.0.14", down: true, wantLine: "    server 10.0.0.14:8080 down;", serving: []string{"10.0.0.11:8080"}},
		{name: "unknown", server: "10.0.0.99:8080", wantErr: `upstream "app" has no server "10.0.0.99:8080"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := parseUpstream(conf, "app")
			if err != nil {
				t.Fatal(err)
			}
			s, err := u.find("app", tc.server)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := u.serving(s); strings.Join(got, ",") != strings.Join(tc.serving, ",") {
				t.Errorf("serving = %v, want %v", got, tc.serving)
			}
			out, changed := u.setDown(s, tc.down)
			if changed != (tc.wantLine != "") {
				t.Fatalf("changed = %v", changed)
			}
			a, b := strings.Split(conf, "\n"), strings.Split(out, "\n")
			if len(a) != len(b) {
				t.Fatalf("line count %d -> %d", len(a), len(b))
			}
			for i := range a {
				want := a[i]
				if i == s.line && tc.wantLine != "" {
					want = tc.wantLine
				}
				if b[i] != want {
					t.Errorf("line %d = %q, want %q", i+1, b[i], want)
				}
			}
		})
	}
}

func TestParseUpstreamErrors(t *testing.T) {
	tests := []struct{ content, want string }{
		{"upstream x {\n server a:1;\n}\n", "no `upstream app {` block"},
		{"upstream app {\n server a:1\n   weight=2;\n}\n", "does not end with `;`"},
		{"upstream app {\n server a:1;\n", "no closing"},
		{"upstream app {\n}\nupstream app {\n}\n", "defined twice"},
		{"upstream app {\n server a:1;\n server a:2;\n}\n", "2 servers on host a"},
	}
	for _, tc := range tests {
		u, err := parseUpstream(tc.content, "app")
		if err == nil {
			_, err = u.find("app", "a")
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.content, err, tc.want)
		}
	}
}

func TestBraceOnNextLine(t *testing.T) {
	u, err := parseUpstream("upstream app\n{\n  server a:1;\n}\n", "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.servers) != 1 || u.servers[0].addr != "a:1" {
		t.Errorf("servers = %+v", u.servers)
	}
}
