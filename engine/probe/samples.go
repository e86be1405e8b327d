package probe

import (
	"math"
	"time"
)

// sample is what the probe keeps of one request: 16 bytes, so an hour at
// 1000 requests per second is about 58 MB. Why a request failed is only
// counted (Probe.failures), never stored per request.
type sample struct {
	at   time.Duration // send time, from Start
	lat  uint32        // latency in microseconds, saturating (71 minutes)
	sent bool          // false: never sent (probe saturated), lat is 0
	ok   bool
	srv  uint16 // the server that answered (Probe.serverNames, from 1); 0: not known
}

// end is when the request ended, from Start.
func (s sample) end() time.Duration { return s.at + time.Duration(s.lat)*time.Microsecond }

func micros(d time.Duration) uint32 {
	us := d.Microseconds()
	switch {
	case us < 0:
		return 0
	case us > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(us)
}

// chunkSize samples are allocated at a time (64 KiB), so the store never
// copies what it holds as it grows, and a request's goroutine can keep a
// pointer to its sample.
const chunkSize = 4096

// store holds the samples in send order. Only the sender calls next; each
// request's goroutine writes its own sample; Stop reads them all once the
// sender has returned and every goroutine has ended.
type store struct {
	chunks []*[chunkSize]sample
	n      int
}

// next returns the next request's sample.
func (st *store) next() *sample {
	if st.n == len(st.chunks)*chunkSize {
		st.chunks = append(st.chunks, new([chunkSize]sample))
	}
	s := &st.chunks[st.n/chunkSize][st.n%chunkSize]
	st.n++
	return s
}

// each calls f for every sample in send order.
func (st *store) each(f func(sample)) {
	for i := 0; i < st.n; i++ {
		f(st.chunks[i/chunkSize][i%chunkSize])
	}
}

// windows finds the longest failure window (see the package doc) in samples
// fed in send order.
type windows struct {
	open    bool
	from    time.Duration // send time of the open window's first failure
	lastEnd time.Duration // latest end among the open window's failures so far
	longest time.Duration
}

func (w *windows) add(s sample) {
	if !s.ok {
		if !w.open {
			// A new window forgets the ends of the one before: a slow
			// failure there must not stretch this one.
			w.open, w.from, w.lastEnd = true, s.at, s.end()
		}
		// A slow request sent early in the run can end after the ones sent
		// later: the service was not seen answering until it did.
		w.lastEnd = max(w.lastEnd, s.end())
		return
	}
	if w.open {
		w.close(s.at)
	}
}

func (w *windows) close(to time.Duration) {
	w.longest = max(w.longest, to-w.from)
	w.open = false
}

// result closes a window that reaches the end and returns the longest.
func (w *windows) result() time.Duration {
	if w.open {
		w.close(w.lastEnd)
	}
	return w.longest
}

// longestFailure is the longest failure window of samples in send order.
func longestFailure(samples []sample) time.Duration {
	var w windows
	for _, s := range samples {
		w.add(s)
	}
	return w.result()
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted,
// or 0 when it is empty.
func percentile(sorted []uint32, p float64) uint32 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
