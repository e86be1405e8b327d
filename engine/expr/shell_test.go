package expr

import (
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestShellRoundTrip runs rendered commands through a real POSIX shell: every
// tricky value must come back byte for byte as one argument.
func TestShellRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH: cannot check shell quoting against a real shell")
	}
	values := []string{
		"",
		"plain",
		"with space",
		"  leading and trailing  ",
		"it's",
		`"double"`,
		`''`,
		"$HOME $(id) ${x}",
		"`date`",
		"back\\slash\\",
		"new\nline\n",
		"tab\there",
		"glob * ? [a]",
		"semi; rm -rf / && echo | cat > x",
		"Größe ✓ 日本",
		"-n",
		"~user",
		"!history",
		"#comment",
	}
	tm, err := CompileTemplate("printf %s ${{ stat }}", Shell, Scope{Extra: []string{"stat"}})
	if err != nil {
		t.Fatal(err)
	}
	list, err := CompileTemplate("printf '%s\\0' ${{ stat }}", Shell, Scope{Extra: []string{"stat"}})
	if err != nil {
		t.Fatal(err)
	}
	base := NewEnv(nil, nil, NodeData{}, "", nil)
	run := func(cmd string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, sh, "-c", cmd).Output()
		if err != nil {
			t.Fatalf("sh -c %q: %v", cmd, err)
		}
		return string(out)
	}
	for _, v := range values {
		cmd, err := tm.Render(base.With("stat", v))
		if err != nil {
			t.Fatalf("render %q: %v", v, err)
		}
		if got := run(cmd); got != v {
			t.Errorf("value %q came back as %q (command %q)", v, got, cmd)
		}
	}
	// A list is one word per element, however many spaces they hold.
	words := make([]any, len(values))
	for i, v := range values {
		words[i] = v
	}
	cmd, err := list.Render(base.With("stat", words))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(run(cmd), "\x00"), "\x00")
	if !reflect.DeepEqual(got, values) {
		t.Errorf("list came back as %q, want %q (command %q)", got, values, cmd)
	}
}
