package load

import (
	"cmp"
	"time"

	"github.com/zdu-dev/zdu/engine/exitcode"
	"github.com/zdu-dev/zdu/engine/gate"
)

// checkBudgetCode refuses an errorBudget exit code that a phase or a failed
// rollback already exits with: the exit code alone must say what happened.
func (b *planBuilder) checkBudgetCode(p *Plan) {
	eb := b.sp.ErrorBudget
	if eb == nil || !eb.ExitCode.Set {
		return
	}
	for _, ph := range p.Phases {
		if ph.ExitCode == p.BudgetExitCode {
			b.probs.At(eb.ExitCode.Pos, "errorBudget.exitCode", "exit code %d is phase %s's too; choose another", p.BudgetExitCode, ph.ID)
			return
		}
	}
	if p.RollbackExitCode == p.BudgetExitCode {
		b.probs.At(eb.ExitCode.Pos, "errorBudget.exitCode", "exit code %d is rollbackExitCode's too; choose another", p.BudgetExitCode)
	}
}

// gates reads the plan's gates into p.
func (b *planBuilder) gates(p *Plan) {
	p.GateExitCode, p.OnBreach = exitcode.Gate, "stop"
	g := b.sp.Gates
	if g == nil {
		return
	}
	p.GatesPos = g.Pos
	p.Gates = gate.Spec{
		Window: b.duration(g.Window, "gates.window"), MinRequests: g.MinRequests.V, MaxErrorPercent: g.MaxErrorPercent.V,
		MaxP99: b.duration(g.MaxP99, "gates.maxP99"), MaxP99Increase: b.duration(g.MaxP99Increase, "gates.maxP99Increase"),
		Baseline: b.duration(g.Baseline, "gates.baseline"),
	}
	if p.Gates.Window != 0 && p.Gates.Window%time.Second != 0 {
		b.probs.At(g.Window.Pos, "gates.window", "%s is not whole seconds (the probe's figures are per second)", p.Gates.Window)
	}
	if p.Gates.MaxP99Increase > 0 && p.Gates.Baseline == 0 {
		p.Gates.Baseline = cmp.Or(p.Gates.Window, gate.DefaultWindow)
	}
	if !p.Gates.Active() {
		b.probs.At(g.Pos, "gates", "no gate is set: give maxErrorPercent, maxP99 or maxP99Increase")
	}
	if g.OnBreach.Set {
		p.OnBreach = g.OnBreach.V
	}
	if g.ExitCode.Set {
		p.GateExitCode = g.ExitCode.V
		b.checkExitCode(g.ExitCode, "gates.exitCode")
		if p.GateExitCode == p.BudgetExitCode || p.GateExitCode == p.RollbackExitCode {
			b.probs.At(g.ExitCode.Pos, "gates.exitCode", "exit code %d is errorBudget's or rollbackExitCode's too; choose another", p.GateExitCode)
		}
	}
}

// errorBudget reads the plan's errorBudget into p.
func (b *planBuilder) errorBudget(p *Plan) {
	p.BudgetExitCode = exitcode.ErrorBudget
	eb := b.sp.ErrorBudget
	if eb == nil {
		return
	}
	if eb.MaxFailed.Set {
		v := eb.MaxFailed.V
		p.ErrorBudget.MaxFailed = &v
	}
	if eb.MaxFailedPercent.Set {
		v := eb.MaxFailedPercent.V
		p.ErrorBudget.MaxFailedPercent = &v
	}
	if eb.MaxFailureWindow.Set {
		d, err := time.ParseDuration(eb.MaxFailureWindow.V)
		if err != nil || d < 0 {
			b.probs.At(eb.MaxFailureWindow.Pos, "errorBudget.maxFailureWindow", "%q is not a duration such as 500ms or 2s", eb.MaxFailureWindow.V)
		} else {
			p.ErrorBudget.MaxFailureWindow = &d
		}
	}
	if eb.ExitCode.Set {
		p.BudgetExitCode = eb.ExitCode.V
		b.checkExitCode(eb.ExitCode, "errorBudget.exitCode")
	}
}
