package expr

import (
	"errors"
	"strings"
	"testing"
)

func noSpace(v string, raw bool) error {
	if i := strings.IndexByte(v, ' '); i >= 0 && !raw {
		return errors.New("holds a space")
	}
	return nil
}

// A checked template refuses a value, naming the expression at its place,
// when it renders; CheckKnown finds it before, for the values that read
// only names known then.
func TestTemplateValueCheck(t *testing.T) {
	tm, err := CompileTemplate("set ${{ params.dir }} x ${{ raw params.dir }} ${{ results.version.stdout }} ${{ node.name }}", Text, testScope())
	if err != nil {
		t.Fatal(err)
	}
	tm.WithCheck(noSpace)
	_, err = tm.Render(testEnv())
	var ee *Error
	if !errors.As(err, &ee) || ee.Line != 1 || ee.Col != 9 || ee.Msg != "${{ params.dir }}: holds a space" {
		t.Fatalf("Render: %#v, want ${{ params.dir }}: holds a space at 1:9", err)
	}
	known := func(root string) bool { return root == "params" || root == "node" }
	errs := tm.CheckKnown(testEnv(), known)
	if len(errs) != 1 || errs[0].Col != 9 {
		t.Errorf("CheckKnown: %v, want one problem, at params.dir (raw and results not checked)", errs)
	}
	// A value only known at run time is checked when it renders.
	env := testEnv().WithResult("version", map[string]any{"stdout": "7 7"})
	tm2, _ := CompileTemplate("v ${{ results.version.stdout }}", Text, testScope())
	tm2.WithCheck(noSpace)
	if errs := tm2.CheckKnown(env, known); len(errs) != 0 {
		t.Errorf("CheckKnown checked a result: %v", errs)
	}
	if _, err := tm2.Render(env); err == nil || !strings.Contains(err.Error(), "${{ results.version.stdout }}: holds a space") {
		t.Errorf("Render of a result with a space: %v", err)
	}
	if out, err := tm2.Render(testEnv()); err != nil || out != "v 7.7.0\n" {
		t.Errorf("Render = %q, %v", out, err)
	}
}
