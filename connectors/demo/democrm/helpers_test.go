package democrm

import (
	"net/http"
	"testing"

	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

// startServer serves a new demo server over real HTTP for the test's life.
func startServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	srv := NewServer(opts)
	return srv, testutil.Serve(t, srv)
}

// get does a raw HTTP GET and returns status, headers and body.
func get(t *testing.T, url, token string) (int, http.Header, []byte) {
	t.Helper()
	r := testutil.Do(t, http.MethodGet, url, testutil.Bearer(token), nil)
	return r.Status, r.Header, r.Body
}
