package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zdu-dev/zdu/cmd/zdu/completetest"
)

func words(cs []candidate) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.word)
	}
	return out
}

// TestCompleteWords: what a TAB offers after each kind of word, from the
// commands' own flags, the plan's params and the inventory's nodes.
func TestCompleteWords(t *testing.T) {
	nova := filepath.Join("..", "..", "plans", "nova-api.yaml")
	novaInv := filepath.Join("..", "..", "plans", "nova-api.inventory.yaml")
	plans := filepath.Join("..", "..", "plans") + "/"
	for _, tc := range []struct {
		args []string
		cur  string
		want []string
	}{
		{nil, "re", []string{"rehearse", "report", "resume"}},
		{nil, "", visibleCommands()},
		{nil, "--v", []string{"--version"}},
		{[]string{"help"}, "sc", []string{"schema"}},
		{[]string{"rehearse"}, "--no", []string{"--nodes"}},
		{[]string{"validate"}, "--f", []string{"--format"}},
		{[]string{"validate", "x.yaml", "--format"}, "", []string{"json", "text"}},
		{[]string{"graph", "x.yaml", "--format"}, "m", []string{"mermaid"}},
		{[]string{"graph"}, "--format=", []string{"--format=dot", "--format=mermaid"}},
		{[]string{"run", "x.yaml", "--log-format"}, "", []string{"auto", "console", "json", "text"}},
		{[]string{"schema"}, "", []string{"inventory", "plan", "rehearsal", "template"}},
		{[]string{"schema", "plan"}, "", []string{}},
		{[]string{"completion"}, "", []string{"bash", "fish", "zsh"}},
		{[]string{"sandbox"}, "h", []string{"hold"}},
		{[]string{"init", "--from"}, "", []string{"apt"}},
		// Files: plans and inventories (YAML) and directories.
		{[]string{"rehearse"}, plans + "nova", []string{plans + "nova-api.inventory.yaml", plans + "nova-api.rehearsal.yaml", plans + "nova-api.yaml"}},
		{[]string{"validate"}, plans + "l", []string{plans + "lib/"}},
		{[]string{"validate", nova, "-i"}, plans + "nova-api.i", []string{plans + "nova-api.inventory.yaml"}},
		// --set: the plan's params, wherever the plan is on the line.
		{[]string{"rehearse", nova, "--set"}, "pa", []string{"package="}},
		{[]string{"plan", "-i", novaInv, "--set", "a=1", nova, "--set"}, "up", []string{"upgrade_command="}},
		{[]string{"plan", nova}, "--set=se", []string{"--set=service=", "--set=services="}},
		{[]string{"rehearse", nova, "--set"}, "package=", []string{}},
		{[]string{"rehearse", "--set"}, "pa", []string{}}, // no plan yet
		// --fail: the sandbox's nodes for the plan, or the inventory's.
		{[]string{"rehearse", nova, "--nodes", "2", "--fail"}, "", []string{"controller:", "node-1:", "node-2:"}},
		{[]string{"rehearse", nova, "-i", novaInv, "--fail"}, "a", []string{"apicomp:"}},
		{[]string{"rehearse", nova, "--fail"}, "node-1:ap", []string{"node-1:apply", "node-1:apt-get"}},
		{[]string{"rehearse", nova, "--fail"}, "node-1:version=", []string{"node-1:version=errors:", "node-1:version=latency:"}},
		{[]string{"frobnicate"}, "", []string{}},
	} {
		got := words(completeWords(tc.args, tc.cur))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("zdu %s %q<TAB> = %q, want %q", strings.Join(tc.args, " "), tc.cur, got, tc.want)
		}
	}
}

// TestCompleteParamDescriptions: zsh and fish show a param's description,
// and a secret param is marked.
func TestCompleteParamDescriptions(t *testing.T) {
	plan := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(plan, []byte("params:\n  token: {type: string, secret: true, description: API token}\n  port: {type: int}\n"), 0o600)
	var out bytes.Buffer
	dispatch(context.Background(), []string{"__complete", "words", "run", plan, "--set", ""}, &out, &out)
	want := "port=\tint\ntoken=\t(secret) API token\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestSplitLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		words []string
		raw   string
	}{
		{"zdu re", []string{"zdu", "re"}, "re"},
		{"zdu run ", []string{"zdu", "run", ""}, ""},
		{`zdu run "my plans/a`, []string{"zdu", "run", "my plans/a"}, `"my plans/a`},
		{`zdu run my\ plans/a`, []string{"zdu", "run", "my plans/a"}, `my\ plans/a`},
		{`zdu run 'a b' --set x=1 --fail n:`, []string{"zdu", "run", "a b", "--set", "x=1", "--fail", "n:"}, "n:"},
	} {
		w, raw := splitLine(tc.line)
		if !reflect.DeepEqual(w, tc.words) || raw != tc.raw {
			t.Errorf("splitLine(%q) = %q, %q; want %q, %q", tc.line, w, raw, tc.words, tc.raw)
		}
	}
}

// TestCompleteBash: bash mode answers with the part after bash's word
// break (bash splits --fail node-1:ap at the colon) and quotes spaces.
func TestCompleteBash(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "my plan.yaml"), []byte("params:\n  pkg: {type: string}\n"), 0o600)
	nova := filepath.Join("..", "..", "plans", "nova-api.yaml")
	for _, tc := range []struct{ line, cur, want string }{
		{"zdu re", "re", "rehearse\nreport\nresume\n"},
		{"zdu rehearse " + nova + " --fail node-1:ap", "ap", "apply\napt-get\n"},
		{"zdu rehearse " + nova + " --fail node-1:", ":", strings.Join(words(completeWords([]string{"rehearse", nova, "--fail"}, "node-1:")), "\n")},
		{"zdu validate " + dir + "/my", dir + "/my", strings.ReplaceAll(dir, " ", `\ `) + "/my\\ plan.yaml\n"},
		{"zdu run '" + dir + "/my plan.yaml' --set p", "p", "pkg=\n"},
	} {
		var out bytes.Buffer
		if code := dispatch(context.Background(), []string{"__complete", "bash", tc.line, tc.cur}, &out, &out); code != 0 {
			t.Fatalf("exit %d", code)
		}
		want := tc.want
		if !strings.HasSuffix(want, "\n") {
			// bash's word is the colon: the answers start there.
			want = strings.ReplaceAll(want, "node-1:", ":") + "\n"
		}
		if out.String() != want {
			t.Errorf("%q (bash word %q): got %q, want %q", tc.line, tc.cur, out.String(), want)
		}
	}
}

// TestCompletionScripts: bash completes through complete -F as an
// interactive shell would (COMP_LINE, COMP_WORDS, COMP_CWORD set, the
// function complete -p names called), for the real binary on PATH; the zsh
// and fish scripts parse, where those shells are installed.
func TestCompletionScripts(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin := t.TempDir()
	if err := os.Symlink(zduBinary(t), filepath.Join(bin, "zdu")); err != nil {
		t.Fatal(err)
	}
	nova, _ := filepath.Abs(filepath.Join("..", "..", "plans", "nova-api.yaml"))
	got := bashComplete(t, bash, bin, "source <(zdu completion bash)", "zdu re")
	if got != "rehearse report resume" {
		t.Errorf("zdu re<TAB> = %q", got)
	}
	got = bashComplete(t, bash, bin, "source <(zdu completion bash)", "zdu rehearse "+nova+" --set upg")
	if got != "upgrade_command=" {
		t.Errorf("zdu rehearse nova-api.yaml --set upg<TAB> = %q", got)
	}
	for _, sh := range []string{"zsh", "fish"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Logf("no %s here: its script is not checked", sh)
			continue
		}
		var out bytes.Buffer
		dispatch(context.Background(), []string{"completion", sh}, &out, &out)
		f := filepath.Join(t.TempDir(), "zdu."+sh)
		os.WriteFile(f, out.Bytes(), 0o600)
		if b, err := exec.Command(path, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", sh, err, b)
		}
		if sh != "fish" {
			continue
		}
		// fish completes a command line on request (complete -C).
		cmd := exec.Command(path, "--no-config", "-c", "source $argv[1]; complete -C 'zdu re'; complete -C \"zdu rehearse $argv[2] --set upg\"", f, nova)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		b, err := cmd.Output()
		want := "rehearse\trun a plan on a local sandbox with live traffic\nreport\twrite a run's HTML report\nresume\tgo on with a stopped run\n" +
			"upgrade_command=\tShell command that installs the new nova-api on a node (a trusted fragment, run as is)\n"
		if err != nil || string(b) != want {
			t.Errorf("fish complete -C: %v\n%q\nwant\n%q", err, b, want)
		}
	}
}

// bashComplete loads the completion (setup, with PATH starting at bin),
// then completes line as bash does at a TAB at its end, and returns
// COMPREPLY joined by blanks.
func bashComplete(t *testing.T, bash, bin, setup, line string) string {
	t.Helper()
	cmd := exec.Command(bash)
	cmd.Env = os.Environ()
	return completetest.Bash(t, cmd, bin, setup, line)
}
