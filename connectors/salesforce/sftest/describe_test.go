package sftest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

type testDescribe struct {
	Name          string `json:"name"`
	Custom        bool   `json:"custom"`
	Queryable     bool   `json:"queryable"`
	Replicateable bool   `json:"replicateable"`
	KeyPrefix     string `json:"keyPrefix"`
	Fields        []struct {
		Name              string   `json:"name"`
		Type              string   `json:"type"`
		SoapType          string   `json:"soapType"`
		Custom            bool     `json:"custom"`
		CompoundFieldName *string  `json:"compoundFieldName"`
		ReferenceTo       []string `json:"referenceTo"`
	} `json:"fields"`
}

func describe(t *testing.T, base, sobject string) testDescribe {
	t.Helper()
	resp := get(t, base+"/services/data/v60.0/sobjects/"+sobject+"/describe", nil)
	if resp.Status != 200 {
		t.Fatalf("describe %s: %d %s", sobject, resp.Status, resp.Body)
	}
	var d testDescribe
	if err := json.Unmarshal(resp.Body, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d testDescribe) field(name string) int {
	return slices.IndexFunc(d.Fields, func(f struct {
		Name              string   `json:"name"`
		Type              string   `json:"type"`
		SoapType          string   `json:"soapType"`
		Custom            bool     `json:"custom"`
		CompoundFieldName *string  `json:"compoundFieldName"`
		ReferenceTo       []string `json:"referenceTo"`
	}) bool {
		return f.Name == name
	})
}

func describeGlobal(t *testing.T, base string) []testDescribe {
	t.Helper()
	resp := get(t, base+"/services/data/v60.0/sobjects", nil)
	var g struct {
		Encoding     string         `json:"encoding"`
		MaxBatchSize int            `json:"maxBatchSize"`
		SObjects     []testDescribe `json:"sobjects"`
	}
	if err := json.Unmarshal(resp.Body, &g); resp.Status != 200 || err != nil || g.Encoding != "UTF-8" || g.MaxBatchSize != 200 {
		t.Fatalf("describe global: %d %s (%v)", resp.Status, resp.Body, err)
	}
	return g.SObjects
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 5})
	global := describeGlobal(t, base)
	i := slices.IndexFunc(global, func(d testDescribe) bool { return d.Name == "Account" })
	if i < 0 || !global[i].Queryable || !global[i].Replicateable || global[i].Custom || global[i].KeyPrefix != "001" {
		t.Errorf("Account in describe global: %+v", global)
	}
	if i := slices.IndexFunc(global, func(d testDescribe) bool { return d.Name == "ContentNote" }); i < 0 || global[i].Replicateable {
		t.Errorf("ContentNote (no getDeleted) in describe global: %+v", global)
	}

	acct := describe(t, base, "account") // case-insensitive
	if acct.Name != "Account" {
		t.Errorf("name %q", acct.Name)
	}
	addr := acct.field("BillingAddress")
	city := acct.field("BillingCity")
	owner := acct.field("OwnerId")
	if addr < 0 || acct.Fields[addr].Type != "address" || city < 0 || acct.Fields[city].CompoundFieldName == nil ||
		*acct.Fields[city].CompoundFieldName != "BillingAddress" || acct.Fields[addr].CompoundFieldName != nil {
		t.Errorf("compound address: %+v", acct.Fields)
	}
	if owner < 0 || acct.Fields[owner].Type != "reference" || !slices.Equal(acct.Fields[owner].ReferenceTo, []string{"User"}) ||
		acct.Fields[owner].SoapType != "tns:ID" {
		t.Errorf("OwnerId: %+v", acct.Fields)
	}
	note := describe(t, base, "ContentNote")
	if i := note.field("Content"); i < 0 || note.Fields[i].Type != "base64" {
		t.Errorf("ContentNote.Content: %+v", note.Fields)
	}

	// Unknown sObjects: 404 from describe, INVALID_TYPE from a query.
	resp := get(t, base+"/services/data/v60.0/sobjects/Foo__c/describe", nil)
	if code, msg := errorCode(t, resp.Body); resp.Status != 404 || code != "NOT_FOUND" || msg != "The requested resource does not exist" {
		t.Errorf("unknown describe: %d %s", resp.Status, resp.Body)
	}
	resp = get(t, queryURL(base, "SELECT Id FROM Foo__c ORDER BY SystemModstamp, Id"), nil)
	if code, msg := errorCode(t, resp.Body); resp.Status != 400 || code != "INVALID_TYPE" || !strings.HasPrefix(msg, "sObject type 'Foo__c' is not supported.") {
		t.Errorf("unknown FROM: %d %s", resp.Status, resp.Body)
	}

	// A compound field selected is the nested object of its components.
	resp = get(t, queryURL(base, "SELECT Id, BillingAddress, BillingCity FROM Account ORDER BY SystemModstamp, Id LIMIT 1"), nil)
	var q struct {
		Records []struct {
			BillingAddress map[string]any
			BillingCity    string
		}
	}
	if err := json.Unmarshal(resp.Body, &q); err != nil || len(q.Records) != 1 {
		t.Fatalf("%s: %v", resp.Body, err)
	}
	got := q.Records[0].BillingAddress
	if got["city"] != q.Records[0].BillingCity || got["city"] == "" || got["street"] == nil || got["postalCode"] == nil ||
		got["country"] != "United States" || len(got) != 8 {
		t.Errorf("BillingAddress %v", got)
	}

	kinds := map[string]int{}
	for _, r := range srv.Requests() {
		kinds[r.Kind]++
	}
	if kinds[KindDescribeGlobal] != 1 || kinds[KindDescribe] != 3 {
		t.Errorf("request kinds %v", kinds)
	}
}

// TestSnapshotIsTheDefaultList: Snapshot's records have exactly the
// describe's fields but compound and base64 ones.
func TestSnapshotIsTheDefaultList(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 3})
	for _, ot := range ObjectTypes() {
		var want []string
		for _, f := range describe(t, base, SObject(ot)).Fields {
			if f.Type != "address" && f.Type != "base64" {
				want = append(want, f.Name)
			}
		}
		slices.Sort(want)
		for id, data := range srv.Snapshot(ot) {
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			var got []string
			for k := range m {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: fields %v, describe %v", ot, id, got, want)
			}
			break
		}
	}
}

func TestHideField(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 4})
	srv.HideField("accounts", "industry")
	if describe(t, base, "Account").field("Industry") >= 0 {
		t.Error("hidden field in describe")
	}
	resp := get(t, queryURL(base, "SELECT Id, Industry FROM Account ORDER BY SystemModstamp, Id"), nil)
	want := "No such column 'Industry' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' " +
		"after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
	if code, msg := errorCode(t, resp.Body); resp.Status != 400 || code != "INVALID_FIELD" || msg != want {
		t.Errorf("query of a hidden field: %d %s", resp.Status, resp.Body)
	}
	for id, data := range srv.Snapshot("accounts") {
		if strings.Contains(string(data), `"Industry"`) {
			t.Errorf("%s: %s", id, data)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("HideField of an unknown field did not panic")
		}
	}()
	srv.HideField("accounts", "Nope")
}

func TestAddCustomField(t *testing.T) {
	t.Parallel()
	srv, base := start(t, Options{Size: 4})
	srv.AddCustomField("contacts", "Score__c", "double")
	srv.AddCustomField("contacts", "Vip__c", "boolean")
	d := describe(t, base, "Contact")
	if i := d.field("Score__c"); i < 0 || !d.Fields[i].Custom || d.Fields[i].Type != "double" || d.Fields[i].SoapType != "xsd:double" {
		t.Errorf("Score__c in describe: %+v", d.Fields)
	}
	added := srv.Add("contacts", 1)
	for id, data := range srv.Snapshot("contacts") {
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		if _, ok := m["Score__c"].(float64); !ok {
			t.Errorf("%s: %s", id, data)
		}
		if _, ok := m["Vip__c"].(bool); !ok {
			t.Errorf("%s: %s", id, data)
		}
	}
	resp := get(t, queryURL(base, "SELECT Id, score__c FROM Contact ORDER BY SystemModstamp, Id"), nil)
	var q queryBody
	if err := json.Unmarshal(resp.Body, &q); err != nil || len(q.Records) != 5 || !strings.Contains(string(q.Records[4]), added[0]) ||
		!strings.Contains(string(q.Records[4]), `"Score__c":`) {
		t.Errorf("%s", resp.Body)
	}
}

func TestAddCustomObject(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock()
	srv, base := start(t, Options{Size: 2, Now: clock.Now})
	ot := srv.AddCustomObject("Widget__c", 6)
	if ot != "widget__c" || len(srv.Snapshot(ot)) != 6 {
		t.Fatalf("%q, %d records", ot, len(srv.Snapshot(ot)))
	}
	global := describeGlobal(t, base)
	if i := slices.IndexFunc(global, func(d testDescribe) bool { return d.Name == "Widget__c" }); i < 0 || !global[i].Custom ||
		!global[i].Queryable || !global[i].Replicateable || global[i].KeyPrefix != "a00" {
		t.Errorf("describe global: %+v", global)
	}
	d := describe(t, base, "widget__c")
	for _, f := range []string{"Id", "Name", "OwnerId", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted", "Quantity__c", "Tier__c"} {
		if d.field(f) < 0 {
			t.Errorf("no %s in %+v", f, d.Fields)
		}
	}
	start := clock.Now()
	clock.Advance(time.Minute)
	added, changed, deleted := srv.Add(ot, 2), srv.Change(ot, 2), srv.Delete(ot, 1)
	clock.Advance(3 * time.Minute)
	if len(added) != 2 || len(changed) != 2 || len(deleted) != 1 || len(srv.Snapshot(ot)) != 7 || len(srv.Deleted(ot)) != 1 {
		t.Errorf("added %v changed %v deleted %v; %d live", added, changed, deleted, len(srv.Snapshot(ot)))
	}
	resp := get(t, queryURL(base, "SELECT Id, Name, Quantity__c FROM Widget__c ORDER BY SystemModstamp, Id"), nil)
	var q queryBody
	if err := json.Unmarshal(resp.Body, &q); err != nil || q.TotalSize != 7 {
		t.Errorf("query: %s", resp.Body)
	}
	resp = testutil.Do(t, http.MethodGet, base+"/services/data/v60.0/sobjects/Widget__c/deleted/?start="+
		start.UTC().Format(time.RFC3339)+"&end="+clock.Now().UTC().Format(time.RFC3339), nil, nil)
	if resp.Status != 200 || !strings.Contains(string(resp.Body), deleted[0]) {
		t.Errorf("deleted: %d %s", resp.Status, resp.Body)
	}
	if srv.Requests()[len(srv.Requests())-1].ObjectType != ot {
		t.Errorf("request log: %+v", srv.Requests())
	}
}
