package devstack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// demoEpochFile, in the data directory, holds the instant the demo CRM's
// dataset was first created.
const demoEpochFile = "demo-epoch"

// demoClock returns the demo CRM's clock for a stack on dataDir. The CRM
// lives in memory and seeds its records relative to its clock's first
// reading (the Seed fixes the rest); this clock reads the saved epoch
// first, so every restart re-creates the records of the first start, and
// the real time afterwards, so new changes always sort after what was
// synced before.
func demoClock(dataDir string) (func() time.Time, error) {
	path := filepath.Join(dataDir, demoEpochFile)
	var epoch time.Time
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		epoch, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s is not a timestamp (%v): delete it to start the demo dataset afresh", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
		epoch = time.Now().UTC()
		if err := os.WriteFile(path, []byte(epoch.Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("save the demo dataset's epoch: %w", err)
		}
	default:
		return nil, fmt.Errorf("read the demo dataset's epoch: %w", err)
	}
	var once sync.Once
	return func() time.Time {
		first := false
		once.Do(func() { first = true })
		if first {
			return epoch
		}
		return time.Now()
	}, nil
}
