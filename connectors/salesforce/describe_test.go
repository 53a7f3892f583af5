package salesforce

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
)

// selected returns the SELECT list of a SOQL query.
func selected(soql string) []string {
	list, _, _ := strings.Cut(strings.TrimPrefix(soql, "SELECT "), " FROM ")
	return strings.Split(list, ", ")
}

// firstQuery returns the first query or queryAll of a request log.
func firstQuery(t *testing.T, log []sftest.RequestLog) sftest.RequestLog {
	t.Helper()
	for _, r := range log {
		if r.Kind == sftest.KindQuery || r.Kind == sftest.KindQueryAll {
			return r
		}
	}
	t.Fatalf("no query in %+v", log)
	return sftest.RequestLog{}
}

// checkSnapshot lists objectType in full and compares the records with the
// server's snapshot; it returns the records by Id.
func checkSnapshot(t *testing.T, srv *sftest.Server, c *Connector, objectType string) map[string]connectors.Record {
	t.Helper()
	recs := testutil.Records(testutil.ListAll(t, c, testutil.PageReq(objectType, time.Time{}, 0)))
	snap := srv.Snapshot(objectType)
	if len(recs) != len(snap) || len(snap) == 0 {
		t.Fatalf("%s: listed %d records, server has %d", objectType, len(recs), len(snap))
	}
	byID := make(map[string]connectors.Record, len(recs))
	for _, r := range recs {
		byID[r.ExternalID] = r
		if want, ok := snap[r.ExternalID]; !ok || string(want) != string(r.Data) {
			t.Errorf("%s %s: got %s, server has %s", objectType, r.ExternalID, r.Data, want)
		}
	}
	return byID
}

// TestDefaultFieldsFromDescribe: without a configured list, the SELECT
// list is every described field but compound and base64 ones, Id and
// the cursor first; the records equal the snapshot.
func TestDefaultFieldsFromDescribe(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 20, Seed: 4})
	c := newConnector(t, base, nil)
	for ot, want := range map[string]struct{ in, out []string }{
		"accounts":     {[]string{"BillingStreet", "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry", "Industry"}, []string{"BillingAddress"}},
		"contentnotes": {[]string{"Title", "TextPreview", "IsDeleted"}, []string{"Content"}},
		"tasks":        {[]string{"IsArchived", "Subject"}, nil},
	} {
		srv.ResetRequests()
		recs := checkSnapshot(t, srv, c, ot)
		q := firstQuery(t, srv.Requests())
		list := selected(q.SOQL)
		if !slices.Equal(list[:2], []string{"Id", cursorOf(ot)}) {
			t.Errorf("%s: list %v does not start with Id and the cursor", ot, list)
		}
		for _, f := range want.in {
			if !slices.Contains(list, f) {
				t.Errorf("%s: %s not selected: %v", ot, f, list)
			}
		}
		for _, f := range want.out {
			if slices.Contains(list, f) {
				t.Errorf("%s: %s selected: %v", ot, f, list)
			}
		}
		for _, r := range recs {
			fields := testutil.Fields(t, r.Data)
			if len(fields) != len(list) {
				t.Errorf("%s %s: %d fields, %d selected", ot, r.ExternalID, len(fields), len(list))
			}
			break
		}
		if n := len(requestsOfKind(srv.Requests(), sftest.KindDescribe)); n != 1 {
			t.Errorf("%s: %d describes", ot, n)
		}
	}
	// The describe is cached: listing again describes nothing.
	srv.ResetRequests()
	testutil.ListAll(t, c, testutil.PageReq("accounts", time.Time{}, 0))
	if n := len(requestsOfKind(srv.Requests(), sftest.KindDescribe)); n != 0 {
		t.Errorf("%d describes on the second listing", n)
	}
}

// TestHiddenFieldIsLeftOut: a field field-level security hides is not in
// describe, so the default list leaves it out and the listing works.
func TestHiddenFieldIsLeftOut(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 15, Seed: 5})
	srv.HideField("accounts", "AnnualRevenue")
	c := newConnector(t, base, nil)
	recs := checkSnapshot(t, srv, c, "accounts")
	for id, r := range recs {
		if _, ok := testutil.Fields(t, r.Data)["AnnualRevenue"]; ok {
			t.Errorf("%s has the hidden field: %s", id, r.Data)
		}
	}
	if slices.Contains(selected(firstQuery(t, srv.Requests()).SOQL), "AnnualRevenue") {
		t.Error("the hidden field was selected")
	}

	// Configured, the hidden field is a Config error naming it.
	conf := newConnector(t, base, func(cfg *Config) { cfg.Fields = map[string][]string{"accounts": {"Name", "AnnualRevenue"}} })
	srv.ResetRequests()
	_, err := conf.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, `"AnnualRevenue"`) || !strings.Contains(e.Message, "INVALID_FIELD") {
		t.Errorf("configured hidden field: %v", err)
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Kind != sftest.KindQuery {
		t.Errorf("configured list: requests %+v, want the query only", reqs)
	}
}

// TestFieldHiddenAfterDescribe: a field hidden after the describe was
// cached makes the query fail with INVALID_FIELD once; the connector
// describes again and the listing completes without the field.
func TestFieldHiddenAfterDescribe(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 60, Seed: 6, PageSize: 20})
	c := warm(t, newConnector(t, base, nil), "contacts")
	srv.HideField("contacts", "Phone")
	srv.ResetRequests()
	recs := checkSnapshot(t, srv, c, "contacts")
	for id, r := range recs {
		if _, ok := testutil.Fields(t, r.Data)["Phone"]; ok {
			t.Fatalf("%s has the hidden field", id)
		}
	}
	reqs := srv.Requests()
	invalid := 0
	for _, r := range reqs {
		if r.ErrorCode == "INVALID_FIELD" {
			invalid++
		}
	}
	if n := len(requestsOfKind(reqs, sftest.KindDescribe)); invalid != 1 || n != 1 || reqs[0].ErrorCode != "INVALID_FIELD" || reqs[1].Kind != sftest.KindDescribe {
		t.Errorf("%d INVALID_FIELD, %d describes: %+v", invalid, n, reqs)
	}
	if len(requestsOfKind(reqs, sftest.KindQueryMore)) != 2 {
		t.Errorf("requests %+v, want 3 pages", reqs)
	}
}

// TestConcurrentResolvesDescribeOnce: listings of one object type started
// together share one describe.
func TestConcurrentResolvesDescribeOnce(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 5})
	c := newConnector(t, base, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.FetchPage(context.Background(), testutil.PageReq("opportunities", time.Time{}, 0)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(requestsOfKind(srv.Requests(), sftest.KindDescribe)); n != 1 {
		t.Errorf("%d describes", n)
	}
}

// TestCustomFieldIsSynced: a custom field added to a standard object is
// in the default list.
func TestCustomFieldIsSynced(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 10, Seed: 7})
	srv.AddCustomField("accounts", "Score__c", "double")
	srv.AddCustomField("accounts", "Renewal__c", "date")
	c := newConnector(t, base, nil)
	for id, r := range checkSnapshot(t, srv, c, "accounts") {
		f := testutil.Fields(t, r.Data)
		if _, ok := f["Score__c"].(float64); !ok {
			t.Errorf("%s: Score__c %v", id, f["Score__c"])
		}
		if _, ok := f["Renewal__c"].(string); !ok {
			t.Errorf("%s: Renewal__c %v", id, f["Renewal__c"])
		}
	}
	fields, err := c.Fields(context.Background(), "accounts")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(fields, func(f connectors.Field) bool { return f.Name == "Score__c" })
	if i < 0 || fields[i].Type != "double" || fields[i].Kind != connectors.KindNumber || !fields[i].Default {
		t.Errorf("Score__c in the catalogue: %+v", fields)
	}
}

// TestCustomObject: a custom object is an object type by its lower-case
// API name: full listing, incremental listing with changes, additions and
// deletions.
func TestCustomObject(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := startServer(t, sftest.Options{Size: 10, Seed: 8, PageSize: 7, Now: clock.Now})
	ot := srv.AddCustomObject("Widget__c", 25)
	if ot != "widget__c" {
		t.Fatalf("object type %q", ot)
	}
	clock.Advance(time.Minute) // records created now: the listing starts later
	c := newConnector(t, base, nil)
	pages := testutil.ListAll(t, c, testutil.PageReq(ot, time.Time{}, 0))
	recs := testutil.Records(pages)
	snap := srv.Snapshot(ot)
	if len(recs) != 25 || len(snap) != 25 {
		t.Fatalf("%d records, server has %d", len(recs), len(snap))
	}
	for _, r := range recs {
		if string(snap[r.ExternalID]) != string(r.Data) || !strings.HasPrefix(r.ExternalID, "a00") {
			t.Errorf("%s: %s, server has %s", r.ExternalID, r.Data, snap[r.ExternalID])
		}
		if f := testutil.Fields(t, r.Data); f["Quantity__c"] == nil || f["Tier__c"] == nil || f["Name"] == nil {
			t.Errorf("%s: %s", r.ExternalID, r.Data)
		}
	}
	q := firstQuery(t, srv.Requests())
	if !strings.Contains(q.SOQL, " FROM Widget__c ORDER BY SystemModstamp, Id") || q.Kind != sftest.KindQuery {
		t.Errorf("query %+v", q)
	}

	since := pages[len(pages)-1].Cursor
	clock.Advance(3 * time.Minute)
	changed := srv.Change(ot, 3)
	added := srv.Add(ot, 2)
	deleted := srv.Delete(ot, 4)
	clock.Advance(3 * time.Minute)
	c = newConnector(t, base, nil) // the next cycle
	var live, tombstones []string
	for _, r := range testutil.Records(testutil.ListAll(t, c, testutil.PageReq(ot, since, 0))) {
		if r.Deleted {
			tombstones = append(tombstones, r.ExternalID)
		} else if !slices.Contains(deleted, r.ExternalID) {
			live = append(live, r.ExternalID)
			if string(srv.Snapshot(ot)[r.ExternalID]) != string(r.Data) {
				t.Errorf("%s: %s", r.ExternalID, r.Data)
			}
		}
	}
	want := append(slices.Clone(changed), added...)
	want = slices.DeleteFunc(want, func(id string) bool { return slices.Contains(deleted, id) })
	for _, l := range [][]string{live, tombstones, want, deleted} {
		slices.Sort(l)
	}
	live = slices.Compact(live)
	if !slices.Equal(live, slices.Compact(want)) || !slices.Equal(tombstones, deleted) {
		t.Errorf("incremental: live %v (want %v), tombstones %v (want %v)", live, want, tombstones, deleted)
	}
	if n := len(requestsOfKind(srv.Requests(), sftest.KindDeleted)); n != 1 {
		t.Errorf("%d deleted-records requests", n)
	}
}

// TestObjectTypeNames: the lower-case name of an aliased SObject is
// refused naming the alias; an SObject the org lacks is refused naming
// the fix; a custom object without a cursor field cannot be synced.
func TestObjectTypeNames(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 3})
	c := newConnector(t, base, nil)
	ctx := context.Background()
	_, err := c.FetchPage(ctx, testutil.PageReq("account", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, `"accounts"`) {
		t.Errorf("account: %v", err)
	}
	if len(srv.Requests()) != 0 {
		t.Errorf("requests %+v for an alias's SObject name", srv.Requests())
	}
	for _, ot := range []string{"foo__c", "Widget__c", "accountshare!"} {
		_, err = c.FetchPage(ctx, testutil.PageReq(ot, time.Time{}, 0))
		if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, ot) {
			t.Errorf("%s: %v", ot, err)
		}
		if _, err := c.Fields(ctx, ot); err == nil {
			t.Errorf("Fields(%s): no error", ot)
		}
	}
	if _, err := c.FetchPage(ctx, testutil.PageReq("foo__c", time.Time{}, 0)); !strings.Contains(err.Error(), "syncloop connections objects") {
		t.Errorf("foo__c: %v", err)
	}
	// An SObject Describe Global lists but that is not queryable.
	_, err = c.FetchPage(ctx, testutil.PageReq("aggregateresult", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "cannot be queried") {
		t.Errorf("aggregateresult: %v", err)
	}

	// A custom object whose describe has neither cursor field.
	srv.AddCustomObject("Gadget__c", 3)
	srv.SetFault(func(r sftest.RequestLog) sftest.Fault {
		if r.Kind == sftest.KindDescribe {
			return sftest.Fault{Body: `{"name":"Gadget__c","fields":[{"name":"Id","type":"id"},{"name":"Name","type":"string"}]}`}
		}
		return sftest.Fault{}
	})
	_, err = newConnector(t, base, nil).FetchPage(ctx, testutil.PageReq("gadget__c", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, "no SystemModstamp or LastModifiedDate") {
		t.Errorf("gadget__c without a cursor: %v", err)
	}
	// With LastModifiedDate only, that is the cursor.
	srv.SetFault(func(r sftest.RequestLog) sftest.Fault {
		if r.Kind == sftest.KindDescribe {
			return sftest.Fault{Body: `{"name":"Gadget__c","fields":[{"name":"Id","type":"id"},{"name":"LastModifiedDate","type":"datetime"}]}`}
		}
		return sftest.Fault{}
	})
	tgt, err := newConnector(t, base, nil).resolve(ctx, "gadget__c")
	if err != nil || tgt.obj.cursor != lastModifiedDate || !slices.Equal(tgt.fields, []string{"Id", "LastModifiedDate"}) || !tgt.obj.deletable {
		t.Errorf("gadget__c: %+v, %v", tgt, err)
	}
}

// TestConfiguredCustomFields: Config.Fields may name a custom object type;
// an unknown field in it is the Config error naming it.
func TestConfiguredCustomFields(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 3})
	srv.AddCustomObject("Widget__c", 4)
	c := newConnector(t, base, func(cfg *Config) {
		cfg.Fields = map[string][]string{"widget__c": {"Quantity__c"}, "nosuch__c": {"Name"}}
	})
	recs := testutil.Records(testutil.ListAll(t, c, testutil.PageReq("widget__c", time.Time{}, 0)))
	if len(recs) != 4 || len(testutil.Fields(t, recs[0].Data)) != 3 {
		t.Errorf("records %v", recs)
	}
	if q := firstQuery(t, srv.Requests()).SOQL; q != "SELECT Id, SystemModstamp, Quantity__c FROM Widget__c ORDER BY SystemModstamp, Id" {
		t.Errorf("query %q", q)
	}
	_, err := c.FetchPage(context.Background(), testutil.PageReq("nosuch__c", time.Time{}, 0))
	testutil.WantKind(t, err, connectors.Config)

	bad := newConnector(t, base, func(cfg *Config) { cfg.Fields = map[string][]string{"widget__c": {"Name", "Bogus__c"}} })
	_, err = bad.FetchPage(context.Background(), testutil.PageReq("widget__c", time.Time{}, 0))
	if e := testutil.WantKind(t, err, connectors.Config); !strings.Contains(e.Message, `"Bogus__c"`) {
		t.Errorf("unknown custom field: %v", err)
	}
}

// TestCatalogue: ObjectTypes and Fields from describe.
func TestCatalogue(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 3})
	srv.AddCustomObject("Widget__c", 2)
	c := newConnector(t, base, nil)
	ctx := context.Background()
	types, err := c.ObjectTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]connectors.ObjectType{}
	for _, ot := range types {
		names = append(names, ot.Name)
		byName[ot.Name] = ot
	}
	if !slices.Equal(names[:8], ObjectTypes()) {
		t.Errorf("object types %v, want the aliases first", names)
	}
	if a := byName["accounts"]; a.ProviderName != "Account" || a.Custom || !a.Incremental || a.Label != "Account" {
		t.Errorf("accounts: %+v", a)
	}
	if w := byName["widget__c"]; w.ProviderName != "Widget__c" || !w.Custom || !w.Incremental {
		t.Errorf("widget__c: %+v", w)
	}
	for _, noise := range []string{"accountshare", "accounthistory", "accountfeed", "accountchangeevent", "aggregateresult", "scontrol", "account"} {
		if _, ok := byName[noise]; ok {
			t.Errorf("%s listed: %v", noise, names)
		}
	}
	if len(types) != 9 {
		t.Errorf("object types %v", names)
	}
	if _, err := c.ObjectTypes(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(requestsOfKind(srv.Requests(), sftest.KindDescribeGlobal)); n != 1 {
		t.Errorf("%d describe global requests", n)
	}

	fields, err := c.Fields(ctx, "accounts")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]connectors.Field{}
	for _, f := range fields {
		got[f.Name] = f
	}
	for name, want := range map[string]connectors.Field{
		"Id":             {Name: "Id", Label: "Id", Type: "id", Kind: connectors.KindText, Default: true, Always: true},
		"SystemModstamp": {Name: "SystemModstamp", Label: "System Modstamp", Type: "datetime", Kind: connectors.KindTimestamp, Default: true, Always: true},
		"AnnualRevenue":  {Name: "AnnualRevenue", Label: "Annual Revenue", Type: "currency", Kind: connectors.KindNumber, Default: true},
		"BillingCity":    {Name: "BillingCity", Label: "Billing City", Type: "string", Kind: connectors.KindText, Default: true},
		"BillingAddress": {Name: "BillingAddress", Label: "Billing Address", Type: "address", Kind: connectors.KindJSON, Excluded: excludedCompound},
		"CreatedDate":    {Name: "CreatedDate", Label: "Created Date", Type: "datetime", Kind: connectors.KindTimestamp, Default: true},
		"IsDeleted":      {Name: "IsDeleted", Label: "Is Deleted", Type: "boolean", Kind: connectors.KindBoolean, Default: true},
	} {
		if !reflect.DeepEqual(got[name], want) {
			t.Errorf("%s: %+v, want %+v", name, got[name], want)
		}
	}
	if len(fields) != 20 { // sftest's Account: 19 fields and BillingAddress
		t.Errorf("%d account fields", len(fields))
	}
	notes, err := c.Fields(ctx, "contentnotes")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(notes, func(f connectors.Field) bool { return f.Name == "Content" })
	if i < 0 || notes[i].Default || notes[i].Excluded != excludedBase64 || notes[i].Kind != connectors.KindJSON {
		t.Errorf("Content: %+v", notes)
	}
	widget, err := c.Fields(ctx, "widget__c")
	if err != nil || len(widget) != 9 {
		t.Errorf("widget__c fields %+v, %v", widget, err)
	}
	srv.HideField("widget__c", "Tier__c")
	if fresh, err := newConnector(t, base, nil).Fields(ctx, "widget__c"); err != nil || len(fresh) != 8 {
		t.Errorf("widget__c fields after hiding one: %+v, %v", fresh, err)
	}
}

func TestFieldKind(t *testing.T) {
	t.Parallel()
	for typ, want := range map[string]connectors.FieldKind{
		"string": connectors.KindText, "picklist": connectors.KindText, "multipicklist": connectors.KindText,
		"textarea": connectors.KindText, "phone": connectors.KindText, "email": connectors.KindText, "url": connectors.KindText,
		"reference": connectors.KindText, "id": connectors.KindText, "combobox": connectors.KindText,
		"encryptedstring": connectors.KindText, "time": connectors.KindText,
		"double": connectors.KindNumber, "currency": connectors.KindNumber, "percent": connectors.KindNumber,
		"int": connectors.KindNumber, "long": connectors.KindNumber, "boolean": connectors.KindBoolean,
		"date": connectors.KindDate, "datetime": connectors.KindTimestamp, "address": connectors.KindJSON,
		"location": connectors.KindJSON, "base64": connectors.KindJSON, "anyType": connectors.KindJSON, "complexvalue": connectors.KindJSON,
	} {
		if got := fieldKind(typ); got != want {
			t.Errorf("%s: %s, want %s", typ, got, want)
		}
	}
}

// An object whose readable fields make a query URL longer than
// Salesforce's request limit is refused with the fix (a field list), not
// sent to fail with a 414 every cycle; with a field list it syncs.
func TestDefaultListTooLongForAQueryURL(t *testing.T) {
	t.Parallel()
	srv, base := startServer(t, sftest.Options{Size: 5})
	for i := range 700 {
		srv.AddCustomField("accounts", fmt.Sprintf("Quarterly_Revenue_Estimate_%03d__c", i), "double")
	}
	c := newConnector(t, base, nil)
	_, err := c.FetchPage(context.Background(), testutil.PageReq("accounts", time.Time{}, 0))
	if ce := connectors.Classify(err); err == nil || ce.Kind != connectors.Config || !strings.Contains(err.Error(), "set-fields") || !strings.Contains(err.Error(), "16,384") {
		t.Fatalf("FetchPage = %v; want a config error naming the limit and set-fields", err)
	}
	for _, r := range srv.Requests() {
		if r.Kind == sftest.KindQuery {
			t.Fatalf("a query was sent: %d bytes of SOQL", len(r.SOQL))
		}
	}
	limited := newConnector(t, base, func(cfg *Config) {
		cfg.Fields = map[string][]string{"accounts": {"Name", "Quarterly_Revenue_Estimate_001__c"}}
	})
	if recs := testutil.Records(testutil.ListAll(t, limited, testutil.PageReq("accounts", time.Time{}, 0))); len(recs) != 5 {
		t.Fatalf("with a field list: %d records, want 5", len(recs))
	}
}
