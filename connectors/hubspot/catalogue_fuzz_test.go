package hubspot

import (
	"testing"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

const validProperties = `{"results":[` +
	`{"updatedAt":"2019-10-30T03:30:17.883Z","createdAt":"2019-08-06T02:41:52.095Z","name":"email","label":"Email",` +
	`"type":"string","fieldType":"text","description":"A contact's email address","groupName":"contactinformation",` +
	`"options":[],"displayOrder":-1,"calculated":false,"externalOptions":false,"hasUniqueValue":false,"hidden":false,` +
	`"hubspotDefined":true,"modificationMetadata":{"archivable":true,"readOnlyDefinition":true,"readOnlyValue":false},` +
	`"formField":true,"dataSensitivity":"non_sensitive"},` +
	`{"name":"hs_lead_status","label":"Lead Status","type":"enumeration","fieldType":"radio","groupName":"sales_properties",` +
	`"options":[{"label":"New","value":"NEW","displayOrder":0,"hidden":false}],"calculated":false,"hidden":false,"archived":false},` +
	`{"name":"hs_all_owner_ids","label":"All owner IDs","type":"enumeration","fieldType":"checkbox","hidden":true,"calculated":false},` +
	`{"name":"old_field","label":"Old","type":"string","fieldType":"text","archived":true,"archivedAt":"2024-01-01T00:00:00Z"}]}`

const validSchemas = `{"results":[{"id":"123456","createdAt":"2020-02-20T18:07:11.390Z","updatedAt":"2020-02-20T18:09:07.555Z",` +
	`"labels":{"singular":"My object","plural":"My objects"},"requiredProperties":["my_object_property"],` +
	`"searchableProperties":["my_object_property"],"primaryDisplayProperty":"my_object_property",` +
	`"properties":[{"name":"my_object_property","label":"My object property","type":"string","fieldType":"text",` +
	`"calculated":false,"archived":false,"hasUniqueValue":false}],` +
	`"associations":[{"id":"123","fromObjectTypeId":"2-123456","toObjectTypeId":"0-1","name":"my_object_to_contact"}],` +
	`"metaType":"PORTAL_SPECIFIC","objectTypeId":"2-123456","fullyQualifiedName":"p7878787_my_object","name":"my_object"},` +
	`{"id":"9","objectTypeId":"2-9","name":"gone","archived":true}]}`

var catalogueSeeds = []string{
	`{"results":[]}`,
	`{"results":null}`,
	`{"results":{}}`,
	`{"results":[null]}`,
	`{"results":["email"]}`,
	`{"results":[{"name":"a b"}]}`,
	`{"results":[{"name":""}]}`,
	`{"results":[{"name":7}]}`,
	`{"results":[{"objectTypeId":"2-1"}]}`,
	`{"results":[{"objectTypeId":"2-1","name":"x/y"}]}`,
	`{"results":[{"name":"x","hidden":"yes"}]}`,
	`<html>502</html>`,
	`[]`,
	``,
	`{"results":[{"name":"x"}]`,
}

func FuzzDecodeProperties(f *testing.F) {
	f.Add([]byte(validProperties))
	f.Add([]byte(validProperties[:len(validProperties)/2]))
	f.Add([]byte(validSchemas))
	for _, s := range catalogueSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		defs, err := decodeProperties(body)
		if err != nil {
			if e := connectors.Classify(err); e.Kind != connectors.Retryable || defs != nil {
				t.Fatalf("error %v (kind %s) with %d definitions", err, e.Kind, len(defs))
			}
			return
		}
		for _, d := range defs {
			if !validName(d.Name) {
				t.Fatalf("accepted property name %q", d.Name)
			}
		}
	})
}

func FuzzDecodeSchemas(f *testing.F) {
	f.Add([]byte(validSchemas))
	f.Add([]byte(validSchemas[:len(validSchemas)/3]))
	f.Add([]byte(validProperties))
	for _, s := range catalogueSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		list, err := decodeSchemas(body)
		if err != nil {
			if e := connectors.Classify(err); e.Kind != connectors.Retryable || list != nil {
				t.Fatalf("error %v (kind %s) with %d schemas", err, e.Kind, len(list))
			}
			return
		}
		for _, s := range list {
			if !validName(s.ObjectTypeID) || !validName(s.Name) || s.Archived {
				t.Fatalf("accepted schema %+v", s)
			}
		}
	})
}

// The seeds decode as documented: garbage is refused, archived entries
// are kept as properties (and excluded by default) but dropped as schemas.
func TestDecodeCatalogueSeeds(t *testing.T) {
	t.Parallel()
	defs, err := decodeProperties([]byte(validProperties))
	if err != nil || len(defs) != 4 || !defs[2].Hidden || !defs[3].Archived || defs[1].Type != "enumeration" {
		t.Fatalf("properties %+v, %v", defs, err)
	}
	if got := defaultList(defs, "lastmodifieddate"); len(got) != 6 || got[3] != "hs_object_id" || got[2] != "hs_all_owner_ids" {
		t.Errorf("default list %v: hidden kept, archived dropped, the always-read ones added", got)
	}
	schemas, err := decodeSchemas([]byte(validSchemas))
	if err != nil || len(schemas) != 1 || !schemas[0].names("p_my_object") || !schemas[0].names("2-123456") ||
		!schemas[0].names("p7878787_my_object") || schemas[0].names("my_object_x") {
		t.Fatalf("schemas %+v, %v", schemas, err)
	}
	for _, s := range catalogueSeeds[1:] {
		_, err1 := decodeProperties([]byte(s))
		_, err2 := decodeSchemas([]byte(s))
		if s == `{"results":[{"name":"x","hidden":"yes"}]}` {
			continue // a wrongly typed field: refused too, checked below
		}
		testutil.WantKind(t, err1, connectors.Retryable)
		testutil.WantKind(t, err2, connectors.Retryable)
	}
	_, err = decodeProperties([]byte(`{"results":[{"name":"x","hidden":"yes"}]}`))
	testutil.WantKind(t, err, connectors.Retryable)
}
