// Package testtemporal starts the in-process Temporal server tests run against.
package testtemporal

import (
	"context"
	"fmt"

	"go.temporal.io/server/temporaltest"

	"github.com/syncloop/syncloop/control"
)

// Temporal starts an in-process Temporal server with syncloop's search
// attributes registered. The caller stops it. Options are temporaltest's,
// e.g. WithActions to count the server's billable actions.
func Temporal(ctx context.Context, opts ...temporaltest.TestServerOption) (*temporaltest.TestServer, error) {
	ts := temporaltest.NewServer(opts...)
	c := ts.GetDefaultClient()
	if err := control.EnsureSearchAttributes(ctx, c, ts.GetDefaultNamespace()); err != nil {
		ts.Stop()
		return nil, fmt.Errorf("register search attributes: %w", err)
	}
	return ts, nil
}
