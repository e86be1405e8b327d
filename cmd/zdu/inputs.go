package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/zdu-dev/zdu/engine/safefile"
)

// maxInputEnv names the environment variable that sets the size cap on the
// plan and inventory files zdu reads (docs/limits.md).
const maxInputEnv = "ZDU_MAX_INPUT_BYTES"

// defaultMaxInput is the cap without ZDU_MAX_INPUT_BYTES: plans are a few
// kilobytes, an inventory of 10,000 nodes about 2 MiB.
const defaultMaxInput = 8 << 20

// maxInputBytes is the cap in force: ZDU_MAX_INPUT_BYTES (bytes, or with a
// KiB, MiB or GiB suffix), else defaultMaxInput.
func maxInputBytes() (int64, error) {
	v, ok := os.LookupEnv(maxInputEnv)
	if !ok || strings.TrimSpace(v) == "" {
		return defaultMaxInput, nil
	}
	n, err := parseSize(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %v", maxInputEnv, v, err)
	}
	return n, nil
}

// parseSize reads a byte count such as 8388608, 8MiB or 512KiB.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > (1<<40)/mult {
		return 0, errors.New("want a size in bytes from 1 to 1TiB, such as 8388608, 512KiB or 64MiB")
	}
	return n * mult, nil
}

// readInput reads a plan or inventory file the operator named. Only a
// regular file is read, and at most the cap: a FIFO would block zdu
// forever, /dev/zero fill its memory, a huge file make it crawl.
func readInput(path string) ([]byte, error) {
	limit, err := maxInputBytes()
	if err != nil {
		return nil, err
	}
	b, err := safefile.Read(path, limit)
	var (
		big   *safefile.TooBigError
		other *safefile.NotRegularError
	)
	switch {
	case errors.As(err, &big):
		return nil, fmt.Errorf("larger than the limit of %s; if it is meant to be, raise the limit with the environment variable %s (e.g. %s=%s)",
			sizeText(limit), maxInputEnv, maxInputEnv, sizeText(4*limit))
	case errors.As(err, &other):
		return nil, fmt.Errorf("not a regular file but %s; zdu reads plans and inventories from regular files only", other.Kind)
	case err != nil:
		return nil, unwrapPath(err)
	}
	return b, nil
}

// sizeText writes a byte count the way ZDU_MAX_INPUT_BYTES takes it.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
