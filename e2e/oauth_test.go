package e2e

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
)

// A static token that Salesforce stops accepting fails the cycle (an auth
// error); replacing the connection (connections add with the same name)
// runs the object at once with the new token, without waiting for the
// interval.
func TestReplacingAConnectionRunsItsObjectsAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	sf := sftest.NewServer(sftest.Options{Size: 40, Seed: 3, Token: sfToken})
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	k, obj := h.addConnected("salesforce", "acme-sf", srv.URL, sfToken, "accounts", time.Hour)
	h.waitCycles(obj, 1, time.Minute)

	const newToken = "00Dxx0000001gPF!AQ4AQFake.RotatedToken.77aa01"
	sf.SetToken(newToken) // the old token is revoked
	if _, err := h.svc.SyncNow(h.ctx, k, "after revocation"); err != nil {
		t.Fatal(err)
	}
	cycles := h.waitCycles(obj, 2, time.Minute)
	if c := cycles[1]; c.Status != model.StatusFailed || !strings.Contains(c.Error, "auth") {
		t.Fatalf("cycle #2 = %s; want Failed with an auth error", describeCycles(cycles))
	}

	added, err := h.svc.AddConnection(h.ctx, control.NewConnection{Name: "acme-sf", Provider: "salesforce", BaseURL: srv.URL, Token: newToken})
	if err != nil {
		t.Fatal(err)
	}
	if !added.Replaced || !slices.Equal(added.Triggered, []string{k.String()}) || added.AuthKind != "static" {
		t.Fatalf("AddConnection = %+v; want replaced, %s triggered", added, k)
	}
	cycles = h.waitCycles(obj, 3, time.Minute)
	if c := cycles[2]; c.Status != model.StatusCompleted || c.Trigger != model.TriggerManual {
		t.Fatalf("cycle #3 = %s; want a Completed manual cycle right after the replacement", describeCycles(cycles))
	}
	h.assertRecordsEqual(obj, sf.Snapshot("accounts"))

	// Another provider's connection cannot take the name.
	_, err = h.svc.AddConnection(h.ctx, control.NewConnection{Name: "acme-sf", Provider: "hubspot", Token: "pat-x"})
	if err == nil || !strings.Contains(err.Error(), "another provider") {
		t.Fatalf("replacing with another provider: err = %v", err)
	}
}
