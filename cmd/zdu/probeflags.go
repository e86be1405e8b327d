package main

import (
	"context"
	"flag"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/zdu-dev/zdu/engine/load"
	"github.com/zdu-dev/zdu/engine/mask"
	"github.com/zdu-dev/zdu/engine/probe"
	"github.com/zdu-dev/zdu/engine/run"
)

// defaultProbeRate is zdu run's --probe-rate; rehearse sends more.
const defaultProbeRate = 50

// probeFlags are the availability probe's flags, shared by run and rehearse.
type probeFlags struct {
	url     string
	rate    float64
	timeout time.Duration
	budget  string
	// rateFlag names the rate flag in messages (--probe-rate or --rate).
	rateFlag string
	fs       *flag.FlagSet
}

// register adds the flags; prefix is "probe" for run (--probe URL,
// --probe-rate) and "" for rehearse, whose probe always runs (--rate).
func (p *probeFlags) register(fs *flag.FlagSet, prefix string, defRate float64) {
	p.rateFlag, p.fs = "rate", fs
	if prefix != "" {
		fs.StringVar(&p.url, prefix, "", "availability probe: GET this URL all along the run and report failures, the longest failure window and latency")
		p.rateFlag = prefix + "-rate"
	}
	fs.Float64Var(&p.rate, p.rateFlag, defRate, "availability probe: requests per second")
	fs.DurationVar(&p.timeout, "probe-timeout", 2*time.Second, "availability probe: time a request may take before it counts as failed")
	fs.StringVar(&p.budget, "probe-budget", "", "error budget overriding the plan's errorBudget: maxFailed=N,maxFailedPercent=P,maxFailureWindow=DURATION")
}

// resolve checks the flags and merges the budget over the plan's.
func (p *probeFlags) resolve(ctx context.Context, plan *load.Plan) (run.ProbeOptions, error) {
	opt := run.ProbeOptions{Config: probe.Config{URL: p.url, Rate: p.rate, Timeout: p.timeout},
		Budget: plan.ErrorBudget, ExitCode: plan.BudgetExitCode}
	// Before anything can echo the URL (its own error included).
	mask.FromContext(ctx).Add(probeSecrets(p.url)...)
	if p.url != "" {
		if err := (probe.Config{URL: p.url}).Validate(); err != nil {
			return opt, badUsage("--probe: %v", err)
		}
	}
	if p.rateFlag == "probe-rate" && p.url == "" {
		var set []string
		p.fs.Visit(func(f *flag.Flag) {
			if f.Name == "probe-rate" || f.Name == "probe-timeout" || f.Name == "probe-budget" {
				set = append(set, "--"+f.Name)
			}
		})
		if len(set) > 0 {
			return opt, badUsage("%s needs --probe URL (the service's address through the load balancer)", strings.Join(set, ", "))
		}
	}
	if !(p.rate >= 1 && p.rate <= probe.MaxRate) { // also refuses NaN
		return opt, badUsage("--%s %g: must be from 1 to %g requests per second", p.rateFlag, p.rate, probe.MaxRate)
	}
	if p.timeout <= 0 {
		return opt, badUsage("--probe-timeout %s: must be above 0", p.timeout)
	}
	if p.budget != "" {
		b, err := probe.ParseBudget(p.budget)
		if err != nil {
			return opt, badUsage("--probe-budget: %v", err)
		}
		opt.Budget = opt.Budget.Merge(b)
	}
	return opt, nil
}

// secretQueryKey matches the query parameters of a probe URL whose values
// are credentials (token=, api_key=, sig=, password=...).
var secretQueryKey = regexp.MustCompile(`(?i)(token|key|secret|pass|auth|sig|credential|session)`)

// probeSecrets are the credentials a probe URL carries: the password of its
// user info, and the values of query parameters named like credentials.
// They are masked in every output, as secret params are.
func probeSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u == nil {
		return nil
	}
	var out []string
	if pw, ok := u.User.Password(); ok && pw != "" {
		out = append(out, pw)
	}
	for k, vs := range u.Query() {
		if secretQueryKey.MatchString(k) {
			for _, v := range vs {
				if v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}
