package democrm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// EpochClock returns a clock for Options.Now that keeps a dataset across
// restarts. The CRM lives in memory and seeds its records relative to its
// clock's first reading (the Seed fixes the rest); this clock's first
// reading is the instant saved in path (saved now, creating its directory,
// if the file does not exist yet), so every restart re-creates the records
// of the first start, and its later readings are the real time, so changes
// made after a restart sort after everything synced before it.
func EpochClock(path string) (func() time.Time, error) {
	var epoch time.Time
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		epoch, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s does not hold an RFC 3339 time (%v): delete it to start a new dataset", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
		epoch = time.Now().UTC()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("create the directory of the dataset's epoch file: %w", err)
		}
		if err := os.WriteFile(path, []byte(epoch.Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("save the dataset's epoch: %w", err)
		}
	default:
		return nil, fmt.Errorf("read the dataset's epoch: %w", err)
	}
	var first sync.Once
	return func() time.Time {
		now := time.Now()
		first.Do(func() { now = epoch })
		return now
	}, nil
}
