package run_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	_ "github.com/zdu-dev/zdu/steps/all"
	"github.com/zdu-dev/zdu/steps/step"
)

// Step types that exist only in these tests: one that changes shared state
// and registers a compensation (as lb-drain does), one that settles it (as
// lb-enable does), and one that does nothing (to measure the engine alone).
func init() {
	keyFile := `{"type": "object", "additionalProperties": false,
  "properties": {"key": {"type": "string"}, "file": {"type": "string"}}}`
	step.Register(step.Definition{
		Type: "test-undo", Summary: "register a compensation that appends to a file",
		Schema: []byte(keyFile),
		Build: func(a step.Args) step.Action {
			return undoStep{key: a.Text("key", true).Source(), file: a.Text("file", true)}
		},
	})
	step.Register(step.Definition{
		Type: "test-settle", Summary: "settle a compensation",
		Schema: []byte(keyFile),
		Build:  func(a step.Args) step.Action { return settleStep{key: a.Text("key", true).Source()} },
	})
	step.Register(step.Definition{
		Type: "test-noop", Summary: "do nothing", Schema: []byte(`{"type": "object"}`),
		Build: func(a step.Args) step.Action { return noopStep{} },
	})
}

type undoStep struct {
	key  string
	file step.Template
}

func (s undoStep) Run(ctx context.Context, rc step.Context) (step.Outcome, error) {
	file, err := s.file.Render(rc.Env())
	if err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	node := rc.Node().Name
	if err := appendLine(file, "change "+node); err != nil {
		return step.Outcome{ExitCode: -1}, err
	}
	return step.Outcome{Undo: &step.Undo{
		Key: s.key, Description: "undo " + s.key,
		Run: func(ctx context.Context, rc step.Context) error {
			fmt.Fprintf(rc.Log(), "undoing %s on %s\n", s.key, node)
			return appendLine(file, "undo "+node)
		},
	}}, nil
}

func (s undoStep) Explain(step.Context) ([]string, error) { return []string{"change " + s.key}, nil }

type settleStep struct{ key string }

func (s settleStep) Run(context.Context, step.Context) (step.Outcome, error) {
	return step.Outcome{Settles: []string{s.key}}, nil
}
func (s settleStep) Explain(step.Context) ([]string, error) { return []string{"settle " + s.key}, nil }

type noopStep struct{}

func (noopStep) Run(context.Context, step.Context) (step.Outcome, error) { return step.Outcome{}, nil }
func (noopStep) Explain(step.Context) ([]string, error)                  { return nil, nil }

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// inventory returns a local-transport inventory of nodes n1..nN.
func inventory(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: zdu/v1\nkind: Inventory\ndefaults: {transport: local}\nnodes:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - {name: n%d, groups: [web]}\n", i)
	}
	return b.String()
}
