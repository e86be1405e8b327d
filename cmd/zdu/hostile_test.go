package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Files the hostile cases share.
const (
	hostileGoodPlan = `apiVersion: zdu/v1
name: good
phases:
  - id: p
    targets: all
    steps:
      - {id: s, type: sleep, with: {duration: 1s}}
`
	hostileGoodInventory = `apiVersion: zdu/v1
kind: Inventory
nodes:
  - {name: n1, host: 127.0.0.1}
`
)

// hostileInventory has large vars for the expression cases: a 1 MiB
// string, a 100 KiB one and a list of 2,000 elements (an inventory may hold
// them; what expressions make of them is what the budgets bound).
func hostileInventory(w *bufio.Writer) {
	w.WriteString("apiVersion: zdu/v1\nkind: Inventory\nvars:\n  big: ")
	repeat(w, "a", 1<<20)
	w.WriteString("\n  mid: ")
	repeat(w, "b", 100<<10)
	w.WriteString("\n  list: [x")
	repeat(w, ", x", 1999)
	w.WriteString("]\nnodes:\n  - {name: n1, host: 127.0.0.1}\n")
}

func repeat(w *bufio.Writer, s string, n int) {
	for range n {
		w.WriteString(s)
	}
}

// content writes s.
func content(s string) func(*bufio.Writer) {
	return func(w *bufio.Writer) { w.WriteString(s) }
}

// expressionPlan is a plan whose one step runs command (a YAML double-quoted
// string's content), with when if given.
func expressionPlan(when, command string) string {
	w := ""
	if when != "" {
		w = "\n        when: " + when
	}
	return fmt.Sprintf("apiVersion: zdu/v1\nname: hostile\nphases:\n  - id: p\n    targets: all\n    steps:\n      - id: s\n        type: ssh-exec%s\n        with:\n          command: \"%s\"\n", w, command)
}

// aliasBomb is a "billion laughs": ten levels of ten aliases each.
func aliasBomb(indent string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%sa0: &a0 [x, x, x, x, x, x, x, x, x, x]\n", indent)
	for i := 1; i < 10; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "%sa%d: &a%d [%s]\n", indent, i, i, refs)
	}
	return b.String()
}

// bigPlan is a valid plan of about size bytes (about 20,000 steps a
// megabyte).
func bigPlan(size int) func(*bufio.Writer) {
	return func(w *bufio.Writer) {
		n, _ := w.WriteString("apiVersion: zdu/v1\nname: big\nphases:\n  - id: p\n    targets: all\n    steps:\n")
		for i := 0; n < size; i++ {
			m, _ := fmt.Fprintf(w, "      - {id: s%d, type: sleep, with: {duration: 1s}}\n", i)
			n += m
		}
	}
}

// nested writes open n times, then close n times, between head and tail.
func nested(head, open, close, tail string, n int) func(*bufio.Writer) {
	return func(w *bufio.Writer) {
		w.WriteString(head)
		repeat(w, open, n)
		repeat(w, close, n)
		w.WriteString(tail)
	}
}

// hostileCase is one hostile input: the files it needs (name -> what
// writes the content; nil makes a FIFO), the zdu command line, the file the
// message must name and what it must say.
type hostileCase struct {
	name  string
	files map[string]func(*bufio.Writer)
	args  []string
	file  string
	want  string
}

// writeFile writes a case's file through a small buffer: the test process
// stays small, which matters because a child's peak memory (its rusage's
// Maxrss) counts the memory of the process that started it as it was at
// the start (Linux records the old address space's peak at exec).
func writeFile(t *testing.T, path string, write func(*bufio.Writer)) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	write(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestHostileInputs: every hostile input ends with exit 2 and a message
// naming the file, and no zdu process takes much memory doing so. These are
// size caps and budgets that act in milliseconds on an idle machine; the
// memory bound (500 MB) says that nothing was read, built or parsed without
// bound. Time is only logged: a loaded machine took over 6 s for one case;
// a context timeout (3 minutes) ends a hang instead of the test waiting.
func TestHostileInputs(t *testing.T) {
	bin := zduBinary(t)
	tests := []hostileCase{
		{name: "/dev/zero as plan", args: []string{"validate", "/dev/zero"},
			file: "/dev/zero", want: "cannot read plan: not a regular file but a character device"},
		{name: "/dev/zero as inventory", files: map[string]func(*bufio.Writer){"plan.yaml": content(hostileGoodPlan)},
			args: []string{"plan", "plan.yaml", "-i", "/dev/zero"},
			file: "/dev/zero", want: "cannot read inventory: not a regular file but a character device"},
		{name: "FIFO as plan", files: map[string]func(*bufio.Writer){"fifo.yaml": nil},
			args: []string{"validate", "fifo.yaml"}, file: "fifo.yaml", want: "cannot read plan: not a regular file but a FIFO"},
		{name: "FIFO as inventory", files: map[string]func(*bufio.Writer){"plan.yaml": content(hostileGoodPlan), "inv.yaml": nil},
			args: []string{"run", "plan.yaml", "-i", "inv.yaml"}, file: "inv.yaml", want: "cannot read inventory: not a regular file but a FIFO"},
		{name: "directory as plan", files: map[string]func(*bufio.Writer){"inv.yaml": content(hostileGoodInventory)},
			args: []string{"graph", ".", "-i", "inv.yaml"}, file: ".", want: "cannot read plan: not a regular file but a directory"},
		{name: "50 MB plan", files: map[string]func(*bufio.Writer){"big.yaml": bigPlan(50 << 20)},
			args: []string{"validate", "big.yaml"}, file: "big.yaml",
			want: "cannot read plan: larger than the limit of 8MiB; if it is meant to be, raise the limit with the environment variable ZDU_MAX_INPUT_BYTES"},
		{name: "deep nesting", files: map[string]func(*bufio.Writer){"deep.yaml": nested("apiVersion: zdu/v1\nname: deep\nx: ", "[", "]", "\n", 9000)},
			args: []string{"validate", "deep.yaml"}, file: "deep.yaml:3:67", want: "mappings and lists nest more than 64 deep here"},
		{name: "nesting past yaml.v3's own limit", files: map[string]func(*bufio.Writer){"deeper.yaml": nested("x: ", "{a: ", "}", "\n", 200000)},
			args: []string{"validate", "deeper.yaml"}, file: "deeper.yaml", want: "exceeded max depth of 10000"},
		{name: "alias bomb in a plan", files: map[string]func(*bufio.Writer){"bomb.yaml": content("apiVersion: zdu/v1\nname: bomb\n" + aliasBomb("") + hostileGoodPlan[strings.Index(hostileGoodPlan, "phases:"):])},
			args: []string{"validate", "bomb.yaml"}, file: "bomb.yaml:", want: "aliases and merge keys expand the document by more than 100000 values"},
		{name: "alias bomb in an inventory", files: map[string]func(*bufio.Writer){"plan.yaml": content(hostileGoodPlan),
			"inv.yaml": content("apiVersion: zdu/v1\nkind: Inventory\nvars:\n" + aliasBomb("  ") + "nodes:\n  - {name: n1, vars: {x: *a9}}\n")},
			args: []string{"validate", "plan.yaml", "-i", "inv.yaml"}, file: "inv.yaml:", want: "aliases and merge keys expand the document by more than 100000 values"},
		{name: "nested split", files: map[string]func(*bufio.Writer){"inv.yaml": hostileInventory,
			"hostile.yaml": content(expressionPlan("", `echo ${{ split(join(split(vars.mid, ''), vars.mid), '') }}`))},
			args: []string{"plan", "hostile.yaml", "-i", "inv.yaml"}, file: "hostile.yaml:7:9",
			want: "command: 1:16: join would build"},
		{name: "repeat", files: map[string]func(*bufio.Writer){"hostile.yaml": content(expressionPlan("", `echo ${{ repeat('a', 1000000000) }}`))},
			args: []string{"validate", "hostile.yaml"}, file: "hostile.yaml:10:30", want: `function "repeat" is not available in plans`},
		{name: "long concatenation chain", files: map[string]func(*bufio.Writer){"inv.yaml": hostileInventory,
			"hostile.yaml": content(expressionPlan("", "echo ${{ "+strings.Repeat("vars.big + ", 200)+"vars.big }}"))},
			args: []string{"plan", "hostile.yaml", "-i", "inv.yaml"}, file: "hostile.yaml:7:9", want: "+ would build"},
		{name: "nested predicates", files: map[string]func(*bufio.Writer){"inv.yaml": hostileInventory,
			"hostile.yaml": content(expressionPlan(`"all(vars.list, all(vars.list, all(vars.list, # == 'x')))"`, "echo"))},
			args: []string{"plan", "hostile.yaml", "-i", "inv.yaml"}, file: "hostile.yaml:7:9", want: "its iteration budget"},
		{name: "a value interpolated past the rendering budget", files: map[string]func(*bufio.Writer){"inv.yaml": hostileInventory,
			"hostile.yaml": content(expressionPlan("", "echo"+strings.Repeat(" ${{ vars.big }}", 40)))},
			args: []string{"plan", "hostile.yaml", "-i", "inv.yaml"}, file: "hostile.yaml:7:9", want: "the rendered text would be more than 16 MiB"},
		{name: "empty targets", files: map[string]func(*bufio.Writer){"inv.yaml": content(hostileGoodInventory),
			"empty.yaml": content(strings.Replace(hostileGoodPlan, "targets: all", `targets: [all, "!n1"]`, 1))},
			args: []string{"validate", "empty.yaml", "-i", "inv.yaml"}, file: "empty.yaml:5:15",
			want: "phase p targets no node: its targets [all, !n1] select none of the nodes in inv.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, write := range tt.files {
				path := filepath.Join(dir, name)
				if write == nil {
					if err := syscall.Mkfifo(path, 0o600); err != nil {
						t.Fatal(err)
					}
					continue
				}
				writeFile(t, path, write)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			cmd.Dir = dir
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			if ctx.Err() != nil {
				t.Fatalf("zdu %s did not end within 3 minutes (killed): the limit does not bound it", strings.Join(tt.args, " "))
			}
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			peakKB := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
			t.Logf("%s: exit %d in %v, peak memory %d MB", tt.name, cmd.ProcessState.ExitCode(), took.Round(time.Millisecond), peakKB>>10)
			msg := out.String()
			if len(msg) > 2000 {
				msg = msg[:2000] + "..."
			}
			if code := cmd.ProcessState.ExitCode(); code != exitBadInput {
				t.Errorf("exit %d, want %d; output:\n%s", code, exitBadInput, msg)
			}
			if !strings.Contains(out.String(), tt.file) || !strings.Contains(out.String(), tt.want) {
				t.Errorf("the output does not name %q and say %q:\n%s", tt.file, tt.want, msg)
			}
			if peakKB > 500<<10 {
				t.Errorf("peak memory %d MB, want under 500 MB", peakKB>>10)
			}
		})
	}
}
