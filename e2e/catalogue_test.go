package e2e

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/syncloop/syncloop/connectors/hubspot/hstest"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/model"
	"github.com/syncloop/syncloop/store"
)

// assertRefused checks that adding k was refused as the caller's mistake,
// naming want, and left no row and no loop.
func (h *harness) assertRefused(k model.ObjectKey, err error, want string) {
	h.t.Helper()
	var ie *control.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), want) || strings.ContainsAny(err.Error(), "\r\n") {
		h.t.Fatalf("add %s: %v; want one line of input error naming %q", k, err, want)
	}
	if _, err := h.store.GetObject(h.ctx, k); !errors.Is(err, store.ErrNotFound) {
		h.t.Fatalf("object %s after the refused add: %v; want none", k, err)
	}
	var nf *serviceerror.NotFound
	if _, err := h.client.DescribeWorkflowExecution(h.ctx, k.WorkflowID(), ""); !errors.As(err, &nf) {
		h.t.Fatalf("loop %s after the refused add: %v; want none", k.WorkflowID(), err)
	}
}

// A Salesforce custom object (widget__c) and a custom field on a
// standard one sync like any object: full, then incremental with
// deletions; a type the org lacks and a field the connection cannot read
// are refused before anything is written.
func TestSalesforceCustomObjectsAndFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	sf := sftest.NewServer(sftest.Options{Size: 80, Seed: 41, Token: sfToken, PageSize: 50, DeletedGranularity: time.Millisecond})
	widgets := sf.AddCustomObject("Widget__c", 70)
	sf.AddCustomField("accounts", "Score__c", "double")
	sf.HideField("accounts", "AnnualRevenue")
	srv := httptest.NewServer(sf)
	t.Cleanup(srv.Close)
	if widgets != "widget__c" {
		t.Fatalf("AddCustomObject returned %q; want widget__c", widgets)
	}
	_, obj := h.addConnected("salesforce", "acme-sf", srv.URL, sfToken, widgets, time.Hour)
	k := obj.Key
	accounts, _, err := h.svc.Add(h.ctx, control.AddRequest{Key: model.ObjectKey{Tenant: h.tenant, Provider: "salesforce", ObjectType: "accounts"}, Interval: time.Hour, Connection: "acme-sf"})
	if err != nil {
		t.Fatal(err)
	}
	if cs := h.waitCycles(obj, 1, time.Minute); cs[0].Status != model.StatusCompleted || cs[0].Counts.New != 70 {
		t.Fatalf("custom object full sync: %s %+v", describeCycles(cs), cs[0].Counts)
	}
	h.assertRecordsEqual(obj, sf.Snapshot(widgets))
	if cs := h.waitCycles(accounts, 1, time.Minute); cs[0].Status != model.StatusCompleted {
		t.Fatalf("accounts full sync: %s", describeCycles(cs))
	}
	h.assertRecordsEqual(accounts, sf.Snapshot("accounts"))
	if keys := h.recordKeys(accounts); !keys["Score__c"] || keys["AnnualRevenue"] {
		t.Fatalf("account records have keys %v; want the custom Score__c and not the hidden AnnualRevenue", keys)
	}

	sf.Change(widgets, 3)
	sf.Add(widgets, 2)
	deleted := sf.Delete(widgets, 2)
	time.Sleep(2100 * time.Millisecond) // deletions are listed to the Date header's second
	if _, err := h.svc.SyncNow(h.ctx, k, "incremental"); err != nil {
		t.Fatal(err)
	}
	c := h.waitCycles(obj, 2, time.Minute)[1]
	if c.Status != model.StatusCompleted || c.Full || c.Counts.New != 2 || c.Counts.Changed != 3 || c.Counts.Deleted != 2 {
		t.Fatalf("incremental custom-object cycle %+v (full %v); want 2 new, 3 changed, 2 deleted", c.Counts, c.Full)
	}
	h.assertRecordsEqual(obj, sf.Snapshot(widgets))
	var gone int
	_ = h.store.Pool.QueryRow(h.ctx, `SELECT count(*) FROM records WHERE object_id = $1 AND deleted_at IS NOT NULL AND external_id = ANY($2)`, obj.ID, deleted).Scan(&gone)
	if gone != 2 {
		t.Fatalf("%d of the 2 deleted widgets are marked deleted", gone)
	}

	lacks := model.ObjectKey{Tenant: h.tenant, Provider: "salesforce", ObjectType: "gadget__c"}
	_, _, err = h.svc.Add(h.ctx, control.AddRequest{Key: lacks, Interval: time.Hour, Connection: "acme-sf"})
	h.assertRefused(lacks, err, "gadget__c")
	contacts := model.ObjectKey{Tenant: h.tenant, Provider: "salesforce", ObjectType: "contacts"}
	_, _, err = h.svc.Add(h.ctx, control.AddRequest{Key: contacts, Interval: time.Hour, Connection: "acme-sf", Fields: []string{"Email", "Nickname__c"}})
	h.assertRefused(contacts, err, `"Nickname__c"`)
}

// A HubSpot custom object syncs by its object type id, and a custom
// property on a standard object is read by default.
func TestHubSpotCustomObject(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	hs := hstest.NewServer(hstest.Options{Size: 60, Seed: 42, Token: hsToken})
	widgets := hs.AddCustomObject("widgets", 45)
	hs.AddProperty("companies", "tier", "enumeration")
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(widgets, "2-") {
		t.Fatalf("AddCustomObject returned %q; want an object type id 2-…", widgets)
	}
	_, obj := h.addConnected("hubspot", "acme-hs", srv.URL, hsToken, widgets, time.Hour)
	if cs := h.waitCycles(obj, 1, time.Minute); cs[0].Status != model.StatusCompleted || cs[0].Counts.New != 45 {
		t.Fatalf("custom object full sync: %s %+v", describeCycles(cs), cs[0].Counts)
	}
	h.assertRecordsEqual(obj, hs.Snapshot(widgets))
	hs.Change(widgets, 3)
	hs.Add(widgets, 2)
	if c := syncAgain(t, h, obj, 2); c.Status != model.StatusCompleted || c.Full || c.Counts.New != 2 || c.Counts.Changed != 3 {
		t.Fatalf("incremental custom-object cycle %+v (full %v); want 2 new, 3 changed", c.Counts, c.Full)
	}
	h.assertRecordsEqual(obj, hs.Snapshot(widgets))

	companies, _, err := h.svc.Add(h.ctx, control.AddRequest{Key: model.ObjectKey{Tenant: h.tenant, Provider: "hubspot", ObjectType: "companies"}, Interval: time.Hour, Connection: "acme-hs"})
	if err != nil {
		t.Fatal(err)
	}
	if cs := h.waitCycles(companies, 1, time.Minute); cs[0].Status != model.StatusCompleted {
		t.Fatalf("companies: %s", describeCycles(cs))
	}
	h.assertRecordsEqual(companies, hs.Snapshot("companies"))
	var live, tiered int
	if err := h.store.Pool.QueryRow(h.ctx, `SELECT count(*), count(*) FILTER (WHERE data->'properties' ? 'tier') FROM records WHERE object_id = $1 AND deleted_at IS NULL`, companies.ID).Scan(&live, &tiered); err != nil || live == 0 || tiered != live {
		t.Fatalf("%d of %d company records have the custom property tier (%v); want all", tiered, live, err)
	}
	lacks := model.ObjectKey{Tenant: h.tenant, Provider: "hubspot", ObjectType: "2-999"}
	_, _, err = h.svc.Add(h.ctx, control.AddRequest{Key: lacks, Interval: time.Hour, Connection: "acme-hs"})
	h.assertRefused(lacks, err, "2-999")
}
