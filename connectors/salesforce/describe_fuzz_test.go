package salesforce

import (
	"net/http"
	"strings"
	"testing"

	"github.com/syncloop/syncloop/connectors/internal/testutil"
	"github.com/syncloop/syncloop/connectors/salesforce/sftest"
)

// sftestBody returns the body sftest serves at path, a realistic seed.
func sftestBody(f *testing.F, path string) string {
	f.Helper()
	base := testutil.Serve(f, sftest.NewServer(sftest.Options{Size: 1}))
	resp := testutil.Do(f, http.MethodGet, base+path, nil, nil)
	return string(resp.Body)
}

const validDescribe = `{"name":"Account","label":"Account","custom":false,"queryable":true,"replicateable":true,
"fields":[{"name":"Id","label":"Account ID","type":"id","custom":false,"compoundFieldName":null},
{"name":"BillingCity","label":"Billing City","type":"string","custom":false,"compoundFieldName":"BillingAddress"},
{"name":"BillingAddress","label":"Billing Address","type":"address","custom":false,"compoundFieldName":null},
{"name":"Score__c","label":"Score","type":"double","custom":true,"length":0,"picklistValues":[]}],
"childRelationships":[],"urls":{"describe":"/services/data/v60.0/sobjects/Account/describe"}}`

const validDescribeGlobal = `{"encoding":"UTF-8","maxBatchSize":200,"sobjects":[
{"name":"Account","label":"Account","custom":false,"queryable":true,"retrieveable":true,"replicateable":true,"deprecatedAndHidden":false,"keyPrefix":"001","urls":{}},
{"name":"Widget__c","label":"Widget","custom":true,"queryable":true,"retrieveable":true,"replicateable":true,"deprecatedAndHidden":false,"keyPrefix":"a00"},
{"name":"AccountShare","label":"Account Share","custom":false,"queryable":true,"retrieveable":true,"replicateable":false}]}`

func FuzzDecodeDescribe(f *testing.F) {
	for _, seed := range []string{
		validDescribe,
		validDescribe[:len(validDescribe)/2],
		`{"name":"X","fields":[]}`,
		`{"name":"X","fields":null}`,
		`{"name":"","fields":[]}`,
		`{"name":7,"fields":[]}`,
		`{"name":"X","fields":[{"name":"A"}]}`,
		`{"name":"X","fields":[{"name":"A","type":"string","custom":"yes"}]}`,
		`{"name":"X","fields":{"name":"A","type":"string"}}`,
		`<html><body>maintenance</body></html>`,
		`[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]`,
		`null`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Add([]byte(sftestBody(f, "/services/data/v60.0/sobjects/Account/describe")))
	f.Add([]byte(sftestBody(f, "/services/data/v60.0/sobjects/ContentNote/describe")))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decodeDescribe(body)
		if testutil.Refused(t, err) {
			return
		}
		if d.name == "" {
			t.Fatal("accepted a describe without a name")
		}
		for _, fl := range d.fields {
			if fl.Name == "" || fl.Type == "" {
				t.Fatalf("accepted field %+v", fl)
			}
		}
		// The default list is valid SOQL field names, Id and the cursor
		// first.
		list := defaultFields(d, systemModstamp)
		if len(list) < 2 || list[0] != "Id" || list[1] != systemModstamp {
			t.Fatalf("default list %v", list)
		}
		for _, name := range list {
			if !fieldNameRE.MatchString(name) || strings.Contains(name, ".") {
				t.Fatalf("default list %v has %q", list, name)
			}
		}
	})
}

func FuzzDecodeDescribeGlobal(f *testing.F) {
	for _, seed := range []string{
		validDescribeGlobal,
		validDescribeGlobal[:len(validDescribeGlobal)/3],
		`{"sobjects":[]}`,
		`{"sobjects":null}`,
		`{"encoding":"UTF-8"}`,
		`{"sobjects":[{"name":""}]}`,
		`{"sobjects":[{"name":"A; DELETE"}]}`,
		`{"sobjects":[{"name":"Account","queryable":"true"}]}`,
		`{"sobjects":{"name":"Account"}}`,
		`<!DOCTYPE html>`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Add([]byte(sftestBody(f, "/services/data/v60.0/sobjects")))
	f.Fuzz(func(t *testing.T, body []byte) {
		g, err := decodeDescribeGlobal(body)
		if testutil.Refused(t, err) {
			return
		}
		for _, o := range g.sobjects {
			if !fieldNameRE.MatchString(o.Name) || strings.Contains(o.Name, ".") {
				t.Fatalf("accepted sObject name %q", o.Name)
			}
		}
	})
}

func TestDescribeDecodersRefuseGarbage(t *testing.T) {
	t.Parallel()
	testutil.WantRefused(t, "decodeDescribe", func(b []byte) error { _, err := decodeDescribe(b); return err }, map[string]string{
		`{"name":"X"}`:                         `"fields" is missing`,
		`{"name":"X","fields":[{"name":"A"}]}`: "no name or type",
		`{"fields":[]}`:                        `"name"`,
		`{"name":"X","fields":"A"}`:            `"fields" is not an array`,
		`<html></html>`:                        "HTML",
		`{"name":"X","fields":[`:               "not valid JSON",
	})
	testutil.WantRefused(t, "decodeDescribeGlobal", func(b []byte) error { _, err := decodeDescribeGlobal(b); return err }, map[string]string{
		`{}`:                                     `"sobjects" is missing`,
		`{"sobjects":[{"name":"A","custom":1}]}`: `"sobjects" is not an array`,
		`[1]`:                                    "not a JSON object",
	})
	// An entry without a usable name is left out, the rest kept.
	if g, err := decodeDescribeGlobal([]byte(`{"sobjects":[{"name":"A B"},{"name":"Widget__c","queryable":true},{"name":""}]}`)); err != nil || len(g.sobjects) != 1 || g.sobjects[0].Name != "Widget__c" {
		t.Fatalf("describe global with bad names = %+v, %v; want only Widget__c", g, err)
	}
	d, err := decodeDescribe([]byte(validDescribe))
	if err != nil || d.name != "Account" || len(d.fields) != 4 || *d.fields[1].CompoundFieldName != "BillingAddress" || !d.fields[3].Custom {
		t.Fatalf("%+v, %v", d, err)
	}
	if got := defaultFields(d, systemModstamp); strings.Join(got, ",") != "Id,SystemModstamp,BillingCity,Score__c" {
		t.Errorf("default list %v", got)
	}
	g, err := decodeDescribeGlobal([]byte(validDescribeGlobal))
	if err != nil || len(g.sobjects) != 3 || !g.sobjects[1].Custom || g.sobjects[2].Replicateable {
		t.Fatalf("%+v, %v", g, err)
	}
}
