package load

import "sort"

// LoadBalancers lists, sorted, the load balancers the plan's steps and
// rollbacks name.
func (p *Plan) LoadBalancers() []string {
	seen := map[string]bool{}
	add := func(steps []*Step) {
		for _, st := range steps {
			for _, r := range st.LBs {
				seen[r.Name] = true
			}
		}
	}
	for _, ph := range p.Phases {
		add(ph.Steps)
	}
	for _, steps := range p.Rollbacks {
		add(steps)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
