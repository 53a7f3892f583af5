package demo

import (
	"testing"

	"github.com/syncloop/syncloop/connectors/demo/democrm"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

// startServer serves a new demo CRM over real HTTP for the test's life.
func startServer(t *testing.T, opts democrm.Options) (*democrm.Server, string) {
	t.Helper()
	srv := democrm.NewServer(opts)
	return srv, testutil.Serve(t, srv)
}
