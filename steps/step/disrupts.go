package step

// A step that stops or restarts a service on its node makes the node refuse
// work for a while: behind a load balancer it must be drained first, or
// clients see errors (or, with a forgiving load balancer that retries, no
// probe does). `zdu validate` warns about such a step that no drain
// precedes. A step type says which of its steps disrupt: all of them
// (Definition.Disrupts), or each built step by what it does (the Disrupter
// ability). A plan's `disrupts: true|false` on a step has the last word.

// Disrupter is the ability of a built step to say, at load time, whether it
// stops or restarts a service on its node, and why (ssh-exec: "its command
// runs `systemctl restart`"). It overrides Definition.Disrupts.
type Disrupter interface {
	Disrupts() (disrupts bool, why string)
}

// Traffic is what a step does to its node's place in a load balancer.
type Traffic struct {
	// LB is the load balancer's name in the inventory.
	LB string
	// Out is true when the step takes the node out of new traffic (a
	// drain), false when it puts the node back.
	Out bool
}

// TrafficChanger is the ability of a built step that takes its node out of
// a load balancer or puts it back (lb-drain, lb-enable): the availability
// lint follows it along the graph's order, knowing such a step by this
// ability, not by its type's name.
type TrafficChanger interface {
	Traffic() Traffic
}
