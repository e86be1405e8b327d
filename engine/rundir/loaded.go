package rundir

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
)

// LoadedDir holds the copies of the files a run's plan loaded besides
// itself (templates, imported plans), so that a resumed run reads them as
// they were when it started.
const LoadedDir = "loaded"

// maxLoadedCopy bounds a copy read back (a template or plan is at most
// 4 MiB when loaded).
const maxLoadedCopy = 4 << 20

// Loaded is one file a run's plan loaded: where it was found (absolute),
// its digest, and its copy's path in the run directory.
type Loaded struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
	Copy   string `json:"copy"`
}

// LoadedFile is a file to keep a copy of: its absolute path and bytes.
type LoadedFile struct {
	Path string
	Data []byte
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// writeLoaded copies files into LoadedDir (0700, each copy 0600, never
// through a symlink) and returns their entries for run.json.
func (d *Dir) writeLoaded(files []LoadedFile) ([]Loaded, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if err := os.Mkdir(filepath.Join(d.Path, LoadedDir), 0o700); err != nil {
		return nil, err
	}
	out := make([]Loaded, len(files))
	for i, f := range files {
		name := fmt.Sprintf("%03d-%s", i+1, unsafeName.ReplaceAllString(filepath.Base(f.Path), "_"))
		rel := filepath.Join(LoadedDir, name)
		if err := WriteFile(filepath.Join(d.Path, rel), f.Data); err != nil {
			return nil, fmt.Errorf("copying %s: %w", f.Path, err)
		}
		out[i] = Loaded{Path: f.Path, Digest: FileDigest(f.Data), Copy: rel}
	}
	return out, nil
}

// ReadLoaded reads back the copies of the files a run's plan loaded, by
// the path each was found at, checked against run.json's digests.
func ReadLoaded(dir string, rec Record) (map[string][]byte, error) {
	out := make(map[string][]byte, len(rec.Loaded))
	for _, l := range rec.Loaded {
		if filepath.IsAbs(l.Copy) || !filepath.IsLocal(l.Copy) {
			return nil, fmt.Errorf("%s: the copy of %s is not in the run directory (%s)", filepath.Join(dir, RecordFile), l.Path, l.Copy)
		}
		data, err := readCopy(filepath.Join(dir, l.Copy))
		if err != nil {
			return nil, fmt.Errorf("the run's copy of %s: %w", l.Path, err)
		}
		if FileDigest(data) != l.Digest {
			return nil, fmt.Errorf("%s: the copy of %s does not match %s", filepath.Join(dir, l.Copy), l.Path, RecordFile)
		}
		out[l.Path] = data
	}
	return out, nil
}

// readCopy reads a regular file of the run directory, never through a
// symlink, at most maxLoadedCopy bytes.
func readCopy(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxLoadedCopy+1))
	if err == nil && len(b) > maxLoadedCopy {
		err = fmt.Errorf("%s is over %d bytes", path, maxLoadedCopy)
	}
	return b, err
}
