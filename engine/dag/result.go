package dag

// Result is what a walk did: a status for every vertex, the root causes,
// and the order things happened in (tests check edges against it).
type Result struct {
	g      *Graph
	status []Status
	reason []Reason

	// Started lists vertex IDs in the order the walker started their fn.
	Started []string
	// Finished lists vertex IDs in the order their fn returned (only
	// vertices that ran).
	Finished []string
	// Done lists the vertices WalkOptions.Done named, in the order the walk
	// reached them.
	Done []string
	// Failed lists the root causes: IDs of vertices whose fn returned
	// Failed (or panicked), in the order they finished.
	Failed []string
	// Cancelled is true when the context ended the walk early, i.e. at
	// least one vertex was Blocked because of it.
	Cancelled bool
	// Errors holds, per vertex ID, what the walker itself saw go wrong in
	// fn: a recovered panic (with stack) or an invalid status. Nil if none.
	Errors map[string]error
	// Err is non-nil when the walk could not run at all (a cycle).
	Err error
}

// Status is the outcome of the vertex with the given ID (Pending for an
// unknown ID).
func (r *Result) Status(id string) Status {
	if i, ok := r.g.index[id]; ok {
		return r.status[i]
	}
	return Pending
}

// Reason says why the vertex was Blocked by the walker (NotBlocked if it
// ran, or for an unknown ID).
func (r *Result) Reason(id string) Reason {
	if i, ok := r.g.index[id]; ok {
		return r.reason[i]
	}
	return NotBlocked
}

// Count is the number of vertices that ended with status s.
func (r *Result) Count(s Status) int {
	n := 0
	for _, x := range r.status {
		if x == s {
			n++
		}
	}
	return n
}

// OK reports whether every vertex Passed or was Skipped.
func (r *Result) OK() bool {
	for _, x := range r.status {
		if x != Passed && x != Skipped {
			return false
		}
	}
	return r.Err == nil
}
