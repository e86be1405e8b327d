package dag

// slots enforces Slotted vertices' limits for one walk. It is used only
// with the walk's lock held.
type slots struct {
	holderOf []int // per vertex: its holder's index, or -1
	holders  []holder
	pools    map[string]*pool
}

type holder struct {
	pool   *pool
	left   int  // vertices not finished yet
	active bool // holds a slot
}

type pool struct {
	limit   int
	active  int
	waiting []int // vertices waiting for a slot, in the order they were ready
}

func newSlots(g *Graph) *slots {
	s := &slots{holderOf: make([]int, len(g.verts)), pools: map[string]*pool{}}
	index := map[string]int{}
	for i, v := range g.verts {
		s.holderOf[i] = -1
		sv, ok := v.(Slotted)
		if !ok {
			continue
		}
		name, limit, h := sv.Slot()
		p := s.pools[name]
		if p == nil {
			p = &pool{limit: max(1, limit)}
			s.pools[name] = p
		}
		key := name + "\x00" + h
		hi, ok := index[key]
		if !ok {
			hi = len(s.holders)
			index[key] = hi
			s.holders = append(s.holders, holder{pool: p})
		}
		s.holders[hi].left++
		s.holderOf[i] = hi
	}
	return s
}

// take reports whether v may start now, taking its holder's slot if it has
// none yet; if not, v waits in its pool.
func (s *slots) take(v int) bool {
	hi := s.holderOf[v]
	if hi < 0 {
		return true
	}
	h := &s.holders[hi]
	if h.active {
		return true
	}
	if h.pool.active < h.pool.limit {
		h.active = true
		h.pool.active++
		return true
	}
	h.pool.waiting = append(h.pool.waiting, v)
	return false
}

// release counts v as finished and, when that frees its holder's slot,
// returns the vertices that were waiting for one, to be decided again.
func (s *slots) release(v int) []int {
	hi := s.holderOf[v]
	if hi < 0 {
		return nil
	}
	h := &s.holders[hi]
	if h.left--; h.left > 0 || !h.active {
		return nil
	}
	h.active = false
	h.pool.active--
	out := h.pool.waiting
	h.pool.waiting = nil
	return out
}

// drain empties every pool's waiting list, for a walk that cannot go on.
func (s *slots) drain() []int {
	var out []int
	for _, p := range s.pools {
		out = append(out, p.waiting...)
		p.waiting = nil
	}
	return out
}
