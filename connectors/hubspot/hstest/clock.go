package hstest

import (
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// Clock is a settable clock for Options.Now, safe for concurrent use.
type Clock = fake.Clock

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return fake.NewClock(t) }
