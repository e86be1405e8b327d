package main

import (
	"io"
	"os"

	"github.com/zdu-dev/zdu/engine/mask"
	"golang.org/x/sys/unix"
)

// watchPipes reports an output that is a pipe whose reader has gone away
// (zdu run ... | head -n 5 once head has exited) even while zdu writes
// nothing (a long step): the write end of such a pipe polls POLLERR. It
// returns when done is closed.
func watchPipes(done <-chan struct{}, broken chan<- string, outs map[string]io.Writer) {
	var fds []unix.PollFd
	var names []string
	for name, w := range outs {
		f, ok := unwrapFile(w)
		if !ok {
			continue
		}
		if st, err := f.Stat(); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
			continue
		}
		fds = append(fds, unix.PollFd{Fd: int32(f.Fd())})
		names = append(names, name)
	}
	reported := make([]bool, len(fds))
	for len(fds) > 0 {
		select {
		case <-done:
			return
		default:
		}
		if _, err := unix.Poll(fds, 500); err != nil && err != unix.EINTR {
			return
		}
		for i := range fds {
			if fds[i].Revents&(unix.POLLERR|unix.POLLHUP) != 0 && !reported[i] {
				reported[i] = true
				select {
				case broken <- names[i]:
				default:
				}
			}
			if reported[i] {
				fds[i].Fd = -1 // poll ignores it from now on
			}
		}
	}
}

// unwrapFile finds the file behind an output's wrappers.
func unwrapFile(w io.Writer) (*os.File, bool) {
	for {
		switch x := w.(type) {
		case *os.File:
			return x, true
		case *lockedWriter:
			w = x.w
		case *outputGuard:
			w = x.w
		case *mask.Writer:
			w = x.Unwrap()
		default:
			return nil, false
		}
	}
}
