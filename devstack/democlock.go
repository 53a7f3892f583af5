package devstack

import (
	"path/filepath"
	"time"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
)

// demoEpochFile, in the data directory, holds the instant the demo CRM's
// dataset was first created.
const demoEpochFile = "demo-epoch"

// demoClock returns the demo CRM's clock for a stack on dataDir: every
// restart re-creates the records of the first start (see
// democrm.EpochClock).
func demoClock(dataDir string) (func() time.Time, error) {
	return democrm.EpochClock(filepath.Join(dataDir, demoEpochFile))
}
