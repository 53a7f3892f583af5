// Package testtemporal starts the in-process Temporal server tests run against.
package testtemporal

import (
	"context"
	"fmt"

	"go.temporal.io/server/temporaltest"

	"github.com/syncloop/syncloop/control"
)

// Temporal starts an in-process Temporal server with syncloop's search
// attributes registered. The caller stops it.
func Temporal(ctx context.Context) (*temporaltest.TestServer, error) {
	ts := temporaltest.NewServer()
	c := ts.GetDefaultClient()
	if err := control.EnsureSearchAttributes(ctx, c, ts.GetDefaultNamespace()); err != nil {
		ts.Stop()
		return nil, fmt.Errorf("register search attributes: %w", err)
	}
	return ts, nil
}
