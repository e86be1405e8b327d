package load

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/zdu-dev/zdu/engine/safefile"
)

// ParseOptions says where templates and imported plans are found.
type ParseOptions struct {
	// Library lists directories searched, in order, for a template or plan
	// that is not found beside the file that names it (`uses: lib/x.yaml`
	// is looked for as DIR/lib/x.yaml).
	Library []string
	// Files, when not nil, are the only files templates and imports are
	// read from, by the absolute path they were found at: the copies a run
	// made of what its plan loaded, so that zdu resume reads them as they
	// were when the run started. A path missing from it is not found.
	Files map[string][]byte
}

// SourceFile is a file the plan loaded besides itself (a template, an
// imported plan): its absolute path and its bytes as read.
type SourceFile struct {
	Path string
	Data []byte
}

// resolver finds and reads the files a plan names, and keeps each one it
// read, once, in the order first read.
type resolver struct {
	opts   ParseOptions
	loaded []SourceFile
	seen   map[string]bool
}

// find resolves a name as written in a file of dir: beside it, then in the
// library. With opts.Files, only those files exist.
func (r *resolver) find(dir, name string) (string, bool) {
	if filepath.IsAbs(name) {
		return name, r.exists(name)
	}
	if p := filepath.Join(dir, name); r.exists(p) {
		return p, true
	}
	for _, lib := range r.opts.Library {
		if p := filepath.Join(lib, name); r.exists(p) {
			return p, true
		}
	}
	return "", false
}

func (r *resolver) exists(p string) bool {
	if r.opts.Files != nil {
		_, ok := r.opts.Files[absOf(p)]
		return ok
	}
	_, err := os.Stat(p)
	return err == nil
}

// read reads a file found by find, at most limit bytes, and records it.
func (r *resolver) read(path string, limit int64) ([]byte, error) {
	abs := absOf(path)
	var data []byte
	if r.opts.Files != nil {
		var ok bool
		if data, ok = r.opts.Files[abs]; !ok {
			return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrNotExist}
		}
	} else {
		var err error
		if data, err = safefile.Read(path, limit); err != nil {
			return nil, err
		}
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if !r.seen[abs] {
		r.seen[abs] = true
		r.loaded = append(r.loaded, SourceFile{Path: abs, Data: data})
	}
	return data, nil
}

func (r *resolver) lookedIn() string {
	if len(r.opts.Library) == 0 {
		return ""
	}
	return " or in the library (" + strings.Join(r.opts.Library, ", ") + ")"
}

func absOf(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// unwrapPathErr drops the path an os error repeats (the message names it).
func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
