package expr

import "testing"

func BenchmarkRenderShell(b *testing.B) {
	tm := must(CompileTemplate("cd ${{ params.dir }}/apigateway/upgrade/bin && ./sysupgrade export --port ${{ params.port }} ${{ params.files }}", Shell, testScope()))
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tm.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderConstant(b *testing.B) {
	tm := must(CompileTemplate("./sysupgrade export", Shell, testScope()))
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tm.Render(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvalCond(b *testing.B) {
	e, err := CompileCond("'Gateway' in node.groups && phase.id == 'export' && params.enabled", testScope())
	if err != nil {
		b.Fatal(err)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := e.Bool(env); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkEvalMetered evaluates an expression whose builtins charge the
// budget: it gets a meter of its own, in a copy of the environment's top
// level.
func BenchmarkEvalMetered(b *testing.B) {
	e, err := CompileValue("join(split(node.host, '.'), '-') + ':' + string(params.port)", testScope())
	if err != nil {
		b.Fatal(err)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if v, err := e.Eval(env); err != nil || v != "10-0-0-11:8080" {
			b.Fatal(v, err)
		}
	}
}

func BenchmarkEnvWith(b *testing.B) {
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		_ = env.With("stat", 1)
	}
}

func BenchmarkCompileTemplate(b *testing.B) {
	sc := testScope()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileTemplate("cd ${{ params.dir }} && ls ${{ params.files }}", Shell, sc); err != nil {
			b.Fatal(err)
		}
	}
}
