// Package safefile reads the files an operator names (a plan, an
// inventory, a --set-file value) without trusting them: only a regular
// file is read (a FIFO would block forever, /dev/zero never ends), and at
// most a bounded number of bytes.
package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// TooBigError is a file over the limit.
type TooBigError struct {
	Path  string
	Limit int64
}

func (e *TooBigError) Error() string {
	return fmt.Sprintf("%s is over the limit of %d bytes", e.Path, e.Limit)
}

// ErrNotRegular is a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// NotRegularError is a path that is not a regular file, and what it is
// instead ("a FIFO"). It is ErrNotRegular for errors.Is.
type NotRegularError struct {
	Path string
	Kind string
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: %v (%s)", e.Path, ErrNotRegular, e.Kind)
}

// Is makes errors.Is(err, ErrNotRegular) hold.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// Read reads the regular file at path, at most limit bytes. The file is
// opened non-blocking, so that a FIFO is refused rather than waited on.
func Read(path string, limit int64) ([]byte, error) {
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &NotRegularError{Path: path, Kind: kind(st.Mode())}
	}
	if st.Size() > limit {
		return nil, &TooBigError{Path: path, Limit: limit}
	}
	// Read into a buffer of the file's size (and a little more, to see
	// the end): io.ReadAll's doubling would copy and clear an 11 MB
	// inventory's bytes several times over. A file that grows meanwhile
	// is still read up to the limit.
	var buf bytes.Buffer
	buf.Grow(int(st.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(fh, limit+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(buf.Len()) > limit {
		return nil, &TooBigError{Path: path, Limit: limit}
	}
	return buf.Bytes(), nil
}

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}
