package mask

import (
	"bytes"
	"io"
	"sync"
)

// maxLine bounds what a Writer holds back waiting for a line's end (a
// progress bar that never ends its line): past it, the text so far is
// masked and written.
const maxLine = 64 << 10

// Writer masks what goes through it a line at a time, so a secret split
// across two writes is still found whole. Flush writes a partial last line
// (a prompt); Close flushes.
type Writer struct {
	mu  sync.Mutex
	m   *Masker
	w   io.Writer
	buf []byte
}

// Writer returns a masking writer to w.
func (m *Masker) Writer(w io.Writer) *Writer { return &Writer{m: m, w: w} }

// Write masks every complete line of p (with what came before it) and
// writes it; the rest waits for its line's end.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	end := bytes.LastIndexByte(w.buf, '\n') + 1
	if end == 0 && len(w.buf) < maxLine {
		return len(p), nil
	}
	if end == 0 {
		end = len(w.buf)
	}
	if err := w.emit(end); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *Writer) emit(end int) error {
	out := w.m.Mask(string(w.buf[:end]))
	w.buf = append(w.buf[:0], w.buf[end:]...)
	_, err := io.WriteString(w.w, out)
	return err
}

// Flush writes what waits for its line's end.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	return w.emit(len(w.buf))
}

// Close flushes, and closes the underlying writer if it is a Closer.
func (w *Writer) Close() error {
	err := w.Flush()
	if c, ok := w.w.(io.Closer); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Unwrap is the writer it writes to (for finding the file under it).
func (w *Writer) Unwrap() io.Writer { return w.w }
