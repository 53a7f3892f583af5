package salesforce

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/jsonsplit"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

const validQuery = `{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v60.0/query/01gSy0000000000001-2000","records":[` +
	`{"attributes":{"type":"Account","url":"/services/data/v60.0/sobjects/Account/001Sy0000000001IAA"},` +
	`"Id":"001Sy0000000001IAA","Name":"Acme \u003cUK\u003e","AnnualRevenue":5.0E7,"NumberOfEmployees":1200,` +
	`"Owner":{"attributes":{"type":"User","url":"/x"},"Name":"Ada"},"SystemModstamp":"2025-03-01T10:00:00.000+0000"},` +
	`{"Id":"001Sy0000000002IAA","SystemModstamp":"2025-03-01T10:00:01.000Z","Website":null},` +
	`{"Name":"no id"},"x",null,[1]]}`

const validDeleted = `{"deletedRecords":[` +
	`{"id":"001Sy0000000009IAA","deletedDate":"2025-03-02T10:00:00.000+0000"},` +
	`{"id":"001Sy0000000003IAA","deletedDate":"2025-03-01T10:00:00.000+0000"},` +
	`{"deletedDate":"2025-03-01T09:00:00.000+0000"}],` +
	`"earliestDateAvailable":"2025-02-20T00:00:00.000+0000","latestDateCovered":"2025-03-05T10:31:00.000+0000"}`

func TestDecodeQueryResponse(t *testing.T) {
	t.Parallel()
	res, err := decodeQueryResponse([]byte(validQuery), "SystemModstamp")
	if err != nil {
		t.Fatal(err)
	}
	if res.done || res.next != "/services/data/v60.0/query/01gSy0000000000001-2000" || len(res.records) != 6 {
		t.Fatalf("decoded %+v", res)
	}
	r := res.records[0]
	want := `{"AnnualRevenue":5.0E7,"Id":"001Sy0000000001IAA","Name":"Acme \u003cUK\u003e","NumberOfEmployees":1200,` +
		`"Owner":{"Name":"Ada"},"SystemModstamp":"2025-03-01T10:00:00.000+0000"}`
	if r.ExternalID != "001Sy0000000001IAA" || string(r.Data) != want ||
		!r.ModifiedAt.Equal(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)) || r.Deleted {
		t.Errorf("record 0: %+v\n%s\nwant %s", r, r.Data, want)
	}
	if r := res.records[1]; r.ExternalID != "001Sy0000000002IAA" || !r.ModifiedAt.Equal(time.Date(2025, 3, 1, 10, 0, 1, 0, time.UTC)) {
		t.Errorf("record 1: %+v", r)
	}
	for i, data := range []string{`{"Name":"no id"}`, `"x"`, `null`, `[1]`} {
		if r := res.records[2+i]; r.ExternalID != "" || string(r.Data) != data || !r.ModifiedAt.IsZero() {
			t.Errorf("record %d: %+v", 2+i, r)
		}
	}
	// done wins over a stray nextRecordsUrl.
	if res, err := decodeQueryResponse([]byte(`{"done":true,"nextRecordsUrl":"/x","records":[]}`), "SystemModstamp"); err != nil || res.next != "" || !res.done {
		t.Errorf("done with a nextRecordsUrl: %+v %v", res, err)
	}

	decode := func(body []byte) error { _, err := decodeQueryResponse(body, "SystemModstamp"); return err }
	testutil.WantRefused(t, "decodeQueryResponse", decode, map[string]string{
		``:                             "empty",
		" \n<html>":                    "HTML",
		`{"done":true,"records":[`:     "not valid JSON",
		`[]`:                           "not a JSON object",
		`null`:                         "not a JSON object",
		`{"records":[]}`:               `"done" is not a boolean`,
		`{"done":null,"records":[]}`:   `"done" is not a boolean`,
		`{"done":"true","records":[]}`: `"done" is not a boolean`,
		`{"done":true}`:                `"records" is not an array`,
		`{"done":true,"records":null}`: `"records" is not an array`,
		`{"done":false,"records":[]}`:  `no "nextRecordsUrl"`,
		`{"done":false,"records":[],"nextRecordsUrl":1}`: `"nextRecordsUrl" is not a string`,
	})
}

func TestDecodeDeletedResponse(t *testing.T) {
	t.Parallel()
	res, err := decodeDeletedResponse([]byte(validDeleted))
	if err != nil {
		t.Fatal(err)
	}
	if !res.earliest.Equal(time.Date(2025, 2, 20, 0, 0, 0, 0, time.UTC)) || !res.latest.Equal(time.Date(2025, 3, 5, 10, 31, 0, 0, time.UTC)) {
		t.Errorf("dates %s %s", res.earliest, res.latest)
	}
	var ids []string
	for _, r := range res.records {
		if !r.Deleted || !json.Valid(r.Data) {
			t.Errorf("tombstone %+v", r)
		}
		ids = append(ids, r.ExternalID)
	}
	if strings.Join(ids, ",") != ",001Sy0000000003IAA,001Sy0000000009IAA" {
		t.Errorf("tombstones %v, want them in deletedDate order", ids)
	}
	if string(res.records[1].Data) != `{"id":"001Sy0000000003IAA","deletedDate":"2025-03-01T10:00:00.000+0000"}` {
		t.Errorf("Data %s, want the entry as sent", res.records[1].Data)
	}
	if res, err := decodeDeletedResponse([]byte(`{"deletedRecords":[],"earliestDateAvailable":null}`)); err != nil || !res.earliest.IsZero() {
		t.Errorf("null earliestDateAvailable: %+v %v", res, err)
	}
	decode := func(body []byte) error { _, err := decodeDeletedResponse(body); return err }
	testutil.WantRefused(t, "decodeDeletedResponse", decode, map[string]string{
		`<HTML>`:                  "HTML",
		`{"deletedRecords":[`:     "not valid JSON",
		`{}`:                      `"deletedRecords" is not an array`,
		`{"deletedRecords":"[]"}`: `"deletedRecords" is not an array`,
		`{"deletedRecords":[],"earliestDateAvailable":7}`:       `"earliestDateAvailable" is not a string`,
		`{"deletedRecords":[],"latestDateCovered":"yesterday"}`: `"latestDateCovered" is not a dateTime`,
	})
}

func TestSFTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2024, 5, 1, 10, 0, 0, 123000000, time.UTC)
	for _, s := range []string{"2024-05-01T10:00:00.123+0000", "2024-05-01T10:00:00.123Z", "2024-05-01T12:00:00.123+02:00", "2024-05-01T11:00:00.123+0100"} {
		if got, ok := sfTime(s); !ok || !got.Equal(want) {
			t.Errorf("sfTime(%q) = %s, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "2024-05-01", "2024-05-01 10:00:00", "yesterday"} {
		if _, ok := sfTime(s); ok {
			t.Errorf("sfTime(%q) accepted", s)
		}
	}
	if got := soqlDateTime(time.Date(2024, 5, 1, 12, 0, 0, 999999999, time.FixedZone("x", 2*3600))); got != "2024-05-01T10:00:00.999Z" {
		t.Errorf("soqlDateTime = %s", got)
	}
}

// checkRecords asserts what holds for any records decodeQueryResponse or
// decodeDeletedResponse accepted.
func checkRecords(t *testing.T, recs []connectors.Record, idKey string, deleted bool) {
	for i, r := range recs {
		if jsonsplit.IsUndecodable(r.Data) && r.ExternalID == "" && !r.Deleted {
			continue // too deep to decode: rejected with the reason
		}
		if !json.Valid(r.Data) {
			t.Fatalf("record %d: Data %q is not JSON", i, r.Data)
		}
		if r.Deleted != deleted {
			t.Fatalf("record %d: Deleted %v", i, r.Deleted)
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(r.Data, &m) != nil {
			if r.ExternalID != "" {
				t.Fatalf("record %d: id %q from a non-object %q", i, r.ExternalID, r.Data)
			}
			continue
		}
		var id string
		if json.Unmarshal(m[idKey], &id) == nil && id != r.ExternalID {
			t.Fatalf("record %d: ExternalID %q, but %s is %q", i, r.ExternalID, idKey, id)
		}
		if !deleted && bytes.HasPrefix(bytes.TrimSpace(r.Data), []byte("{")) {
			if _, ok := m["attributes"]; ok {
				t.Fatalf("record %d kept its attributes: %s", i, r.Data)
			}
		}
	}
}

func FuzzDecodeQueryResponse(f *testing.F) {
	for _, seed := range []string{
		validQuery,
		validQuery[:len(validQuery)/2],
		`{"totalSize":0,"done":true,"records":[]}`,
		`<html><head><title>502 Bad Gateway</title></head></html>`,
		"\ufeff<!DOCTYPE html>",
		`{"done":true,"records":{"Id":"x"}}`,
		`{"done":false,"records":[],"nextRecordsUrl":null}`,
		`{"done":true,"records":[{"Id":7,"SystemModstamp":1},{"Id":"a","Id":"b","attributes":5}]}`,
		`{"done":true,"records":[{"Id":"a","SystemModstamp":"2025-13-45T99:99:99.000+0000","x":[{"attributes":{}}]}]}`,
		`{"done":true,"records":[{"Id":"a","n":1e400,"s":"\ud800"}]}`,
		`[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]`,
		`null`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Add([]byte(`{"done":true,"records":[{"Id":"069A","LastModifiedDate":"2025-03-01T10:00:00.000+0000","SystemModstamp":"x"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		cursor := "SystemModstamp"
		if len(body)%2 == 1 {
			cursor = "LastModifiedDate" // ContentNote's
		}
		res, err := decodeQueryResponse(body, cursor)
		if testutil.Refused(t, err) {
			return
		}
		if !res.done && res.next == "" || res.done && res.next != "" {
			t.Fatalf("done %v with next %q", res.done, res.next)
		}
		checkRecords(t, res.records, "Id", false)
		// Data is stable: decoding a record's Data again gives it back.
		for i, r := range res.records {
			if again := decodeRecord(r.Data, cursor); string(again.Data) != string(r.Data) || again.ExternalID != r.ExternalID ||
				!again.ModifiedAt.Equal(r.ModifiedAt) {
				t.Fatalf("record %d: %s re-decodes as %s", i, r.Data, again.Data)
			}
		}
	})
}

func FuzzDecodeDeletedResponse(f *testing.F) {
	for _, seed := range []string{
		validDeleted,
		validDeleted[:len(validDeleted)/3],
		`{"deletedRecords":[],"earliestDateAvailable":"2025-02-20T00:00:00.000+0000","latestDateCovered":null}`,
		`{"deletedRecords":[{"id":1,"deletedDate":"x"},"x",null,{"id":"a","deletedDate":"2025-02-20T00:00:00Z"}]}`,
		`{"deletedRecords":null}`,
		`<html></html>`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := decodeDeletedResponse(body)
		if testutil.Refused(t, err) {
			return
		}
		checkRecords(t, res.records, "id", true)
		for i := 1; i < len(res.records); i++ {
			a, b := res.records[i-1], res.records[i]
			if c := a.ModifiedAt.Compare(b.ModifiedAt); c > 0 || c == 0 && a.ExternalID > b.ExternalID {
				t.Fatalf("tombstones %d and %d out of order", i-1, i)
			}
		}
	})
}

// One record nested deeper than encoding/json decodes is rejected alone;
// the rest of its batch is kept.
func TestDecodeQueryResponseDeepRecord(t *testing.T) {
	t.Parallel()
	testutil.CheckDeepRecord(t,
		func(records string) string {
			return `{"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v60.0/query/01g-2000","records":[` + records + `]}`
		},
		`{"attributes":{"type":"Account"},"Id":"001A","Name":"[{\"]","SystemModstamp":"2025-03-01T10:00:00.000+0000"}`,
		`{"Id":"001B","SystemModstamp":"2025-03-01T10:00:01.000Z"}`,
		func(body []byte) ([]connectors.Record, error) {
			res, err := decodeQueryResponse(body, "SystemModstamp")
			if err == nil && res.next == "" {
				t.Fatalf("envelope decoded as %+v", res)
			}
			return res.records, err
		})
}

func TestDecodeDeletedResponseDeepRecord(t *testing.T) {
	t.Parallel()
	testutil.CheckDeepRecord(t,
		func(records string) string {
			return `{"deletedRecords":[` + records + `],"latestDateCovered":"2025-03-01T10:00:00.000+0000"}`
		},
		`{"id":"001A","deletedDate":"2025-03-01T10:00:00.000+0000"}`,
		`{"id":"001B","deletedDate":"2025-03-01T10:00:01.000+0000"}`,
		func(body []byte) ([]connectors.Record, error) {
			res, err := decodeDeletedResponse(body)
			if err != nil {
				return nil, err
			}
			// Sorted by time, the undecodable one (no time) comes first:
			// put it back in the middle for the check.
			if len(res.records) == 3 && res.records[0].ExternalID == "" {
				res.records[0], res.records[1] = res.records[1], res.records[0]
			}
			return res.records, nil
		})
}
