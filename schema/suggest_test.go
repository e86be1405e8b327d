package schema

import "testing"

func TestSuggest(t *testing.T) {
	keys := []string{"id", "type", "name", "with", "when", "timeout", "retries", "needs", "register", "continueOnError"}
	types := []string{"ssh-exec", "local-exec", "sleep", "wait-http", "wait-port", "lb-drain", "lb-enable", "rollback-on"}
	cases := []struct {
		name       string
		candidates []string
		want       string
	}{
		{"comand", []string{"command", "dir", "stdin"}, "command"},
		{"ssh-exce", types, "ssh-exec"}, // a swap of two letters is one edit
		{"ssh_exec", types, "ssh-exec"},
		{"wait-htp", types, "wait-http"},
		{"lb-drian", types, "lb-drain"},
		{"continueonerror", keys, "continueOnError"}, // case alone
		{"retires", keys, "retries"},
		{"neds", keys, "needs"},
		{"frobnicate", types, ""},
		{"x", keys, ""},
		{"id", keys, ""}, // an exact match is not a suggestion
		{"", keys, ""},
		{"type", nil, ""},
		{"tpye", keys, "type"},
		{"sleeep", types, "sleep"},
	}
	for _, tc := range cases {
		if got := Suggest(tc.name, tc.candidates); got != tc.want {
			t.Errorf("Suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSuggestIsStable(t *testing.T) {
	// "bat" is one edit from both; the alphabetically first wins whatever the order.
	for _, c := range [][]string{{"cat", "bar"}, {"bar", "cat"}} {
		if got := Suggest("bat", c); got != "bar" {
			t.Errorf("Suggest(bat, %v) = %q, want bar", c, got)
		}
	}
}

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"abc", "acb", 1},
		{"kitten", "sitting", 3},
		{"", "abc", 3},
		{"héllo", "hello", 1},
	}
	for _, tc := range cases {
		if got := editDistance(tc.a, tc.b, 100); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := editDistance("abcdefgh", "zyxwvuts", 2); got != 2 {
		t.Errorf("editDistance with limit 2 = %d, want the limit", got)
	}
}
