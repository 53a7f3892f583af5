package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

// A provider that echoes part of the token must not get that part into
// the error (worker logs, REST last_failure).
func TestConnectorRedactsPartialTokenEchoes(t *testing.T) {
	const token = "00Dsf-partial-echo-token-0123456789"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"token not valid: partial=` + token[:12] + `…, tail ` + token[len(token)-10:] + `"}`))
	}))
	defer srv.Close()
	_, err := NewConnector(srv.URL, token, nil).FetchPage(context.Background(), testutil.PageReq("users", time.Time{}, 0))
	testutil.WantKind(t, err, connectors.Config)
	for i := 0; i+8 <= len(token); i++ {
		if strings.Contains(err.Error(), token[i:i+8]) {
			t.Fatalf("error %q contains %q of the token", err, token[i:i+8])
		}
	}
	if !strings.Contains(err.Error(), "partial=[redacted]…") {
		t.Errorf("error %q", err)
	}
}
