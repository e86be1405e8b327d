package analysis

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func decode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

const doc = `{
  "status": "ok",
  "latency": {"p50": 0.012, "p99": "0.25", "max": null},
  "checks": [{"name": "db", "error rate": 0.5}, {"name": "cache", "error rate": 0}],
  "o'k": {"a\"b": 7},
  "count": 12,
  "big": 1e999,
  "inf": "+Inf",
  "nan": "NaN",
  "flag": true,
  "under_score-dash": 3
}`

func TestPathNumber(t *testing.T) {
	d := decode(t, doc)
	tests := []struct {
		path    string
		want    float64
		wantErr string
		noValue bool // the error is ErrNoValue
	}{
		{path: "$.latency.p50", want: 0.012},
		{path: "latency.p99", want: 0.25}, // a string holding a number; no $
		{path: "$['latency'][\"p50\"]", want: 0.012},
		{path: "$.checks[0]['error rate']", want: 0.5},
		{path: "$.checks[-1]['error rate']", want: 0},
		{path: `$["o'k"]['a"b']`, want: 7},
		{path: `$['o\'k']["a\"b"]`, want: 7},
		{path: "$.count", want: 12},
		{path: "$.under_score-dash", want: 3},
		{path: "$.inf", want: math.Inf(1)},
		{path: "$.nan", wantErr: "NaN", noValue: true},
		{path: "$.latency.max", wantErr: "$.latency.max is null", noValue: true},
		{path: "$.latency.p90", wantErr: `$.latency has no key "p90" (it has "max, p50, p99")`, noValue: true},
		{path: "$.checks[2].name", wantErr: "$.checks has 2 element(s), no [2]", noValue: true},
		{path: "$.checks[-3]", wantErr: "no [-3]", noValue: true},
		{path: "$.status.code", wantErr: "$.status is a string, not an object", noValue: true},
		{path: "$.count[0]", wantErr: "$.count is a number, not an array", noValue: true},
		{path: "$.status", wantErr: `"ok" is not a number`},
		{path: "$.flag", wantErr: "is a boolean, not a number"},
		{path: "$.latency", wantErr: "is an object, not a number"},
		{path: "$.checks", wantErr: "is an array, not a number"},
		{path: "$.big", wantErr: "out of range"},
	}
	for _, tc := range tests {
		p, err := ParsePath(tc.path)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.path, err)
			continue
		}
		got, err := p.Number(d)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s = %v, %v; want an error containing %q", tc.path, got, err, tc.wantErr)
			} else if errors.Is(err, ErrNoValue) != tc.noValue {
				t.Errorf("%s: %v: ErrNoValue %v, want %v", tc.path, err, !tc.noValue, tc.noValue)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.path, got, err, tc.want)
		}
	}
}

func TestPathRoot(t *testing.T) {
	for _, body := range []string{"0.5", `"0.5"`} {
		p, err := ParsePath("$")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := p.Number(decode(t, body)); err != nil || got != 0.5 {
			t.Errorf("$ of %s = %v, %v", body, got, err)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct{ path, want string }{
		{"", "path is empty"},
		{"$.", "a name must follow the dot"},
		{"$.1abc", "a name must follow the dot"},
		{"$..a", "a name must follow the dot"},
		{"$.a[", "missing ]"},
		{"$.a[x]", "[x] is neither an index nor a quoted key"},
		{"$.a[*]", "[*] is neither an index nor a quoted key"},
		{"$.a[1:2]", "is neither an index"},
		{"$.a[+1]", "is neither an index"},
		{"$.a[99999999999]", "is neither an index"},
		{"$['a", "unterminated quoted key"},
		{"$['a'", "] must follow the quoted key"},
		{"$['a'x]", "] must follow the quoted key"},
		{"$a", "expected . or [, found 'a'"},
		{"$.a b", `expected . or [, found ' '`},
		{"$" + strings.Repeat(".a", 300), "more than 512"},
		{"$" + strings.Repeat(".a", 65), "more than 64 parts"},
		// 511 characters, 513 once written out as $.: String must parse again.
		{strings.Repeat("r", 511), "513 characters long with the $. it stands for, more than 512"},
	}
	for _, tc := range tests {
		if p, err := ParsePath(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePath(%q) = %v, %v; want an error containing %q", tc.path, p, err, tc.want)
		}
	}
}

// FuzzPath: any path either fails to parse with an error, or parses and
// looks up any document without panicking; a parsed path's text parses
// again to the same path.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"$", "$.a.b", "a[0]", `$['x y']["z"]`, "$.a[-1]", `$['\'']`, "[0]"} {
		f.Add(s, `{"a": {"b": [1, "2", null]}, "x y": {"z": 3}}`)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		p, err := ParsePath(path)
		if err != nil {
			return
		}
		again, err := ParsePath(p.String())
		if err != nil || len(again.segs) != len(p.segs) {
			t.Fatalf("%q parsed as %q, which parses as %v, %v", path, p.String(), again.segs, err)
		}
		d := json.NewDecoder(bytes.NewReader([]byte(body)))
		d.UseNumber()
		var v any
		if d.Decode(&v) != nil {
			return
		}
		if n, err := p.Number(v); err == nil && math.IsNaN(n) {
			t.Fatalf("%s of %s = NaN without an error", path, body)
		}
	})
}
