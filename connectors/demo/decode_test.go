package demo

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/jsonsplit"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

const validPage = `{"records":[{"id":"acc_000001","modified_at":"2025-03-01T10:00:00.000001Z","name":"Acme"},` +
	`{"id":"acc_000002","modified_at":"2025-03-01T10:00:00.000002Z","deleted":true}],` +
	`"next":"eyJ0IjoiMjAyNS0wMy0wMVQxMDowMDowMC4wMDAwMDJaIiwiaWQiOiJhY2NfMDAwMDAyIn0",` +
	`"server_time":"2025-03-02T00:00:00Z"}`

func FuzzDecodePage(f *testing.F) {
	for _, seed := range []string{
		validPage,
		validPage[:len(validPage)/2], // truncated
		`<html><head><title>502 Bad Gateway</title></head></html>`,
		"\ufeff<!DOCTYPE html>",
		`{"records":{"id":"x"}}`,
		`{"records":null,"next":""}`,
		`{"records":[],"next":5,"server_time":"now"}`,
		`{"records":[{"modified_at":"2025-03-01T10:00:00Z"},{"id":7},"x",null,[1]]}`,
		`[{"id":"a"}]`,
		`null`,
		``,
		`{"records":[{"id":"a","id":"b","deleted":"true","modified_at":1}],"server_time":""}`,
		`{"records":[{"id":"a"},` + testutil.Nested(10001, `{"id":"deep"}`) + `,{"id":"b"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := decodePage(body)
		if testutil.Refused(t, err) {
			return
		}
		// A page is only accepted if the whole body is JSON, so every
		// record's Data is JSON (or says why it could not be decoded), and
		// an id implies an object.
		for i, r := range page.records {
			if jsonsplit.IsUndecodable(r.Data) && r.ExternalID == "" && !r.Deleted {
				continue
			}
			if !json.Valid(r.Data) {
				t.Fatalf("record %d: Data %q is not JSON", i, r.Data)
			}
			if r.ExternalID != "" && !strings.HasPrefix(string(r.Data), "{") {
				t.Fatalf("record %d: id %q from a non-object %q", i, r.ExternalID, r.Data)
			}
			// The mapping agrees with a plain decode of the record.
			var m map[string]any
			if json.Unmarshal(r.Data, &m) == nil {
				if id, _ := m["id"].(string); id != r.ExternalID {
					t.Fatalf("record %d: ExternalID %q, but id is %q", i, r.ExternalID, id)
				}
				if (m["deleted"] == true) != r.Deleted {
					t.Fatalf("record %d: Deleted %v, but deleted is %v", i, r.Deleted, m["deleted"])
				}
			}
		}
	})
}

func TestDecodePage(t *testing.T) {
	t.Parallel()
	page, err := decodePage([]byte(validPage))
	if err != nil {
		t.Fatal(err)
	}
	if len(page.records) != 2 || page.records[0].ExternalID != "acc_000001" || !page.records[1].Deleted ||
		page.next == "" || page.serverTime.IsZero() {
		t.Fatalf("decoded %+v", page)
	}
	testutil.DataNotAliased(t, validPage, func(body []byte) []byte {
		page, _ := decodePage(body)
		return page.records[0].Data
	})

	decode := func(body []byte) error { _, err := decodePage(body); return err }
	testutil.WantRefused(t, "decodePage", decode, map[string]string{
		``:                                    "empty",
		`  <html>`:                            "HTML",
		`{"records":[`:                        "not valid JSON",
		`[]`:                                  "not a JSON object",
		`null`:                                "not a JSON object",
		`{"records":null}`:                    `"records" is not an array`,
		`{"records":"[]"}`:                    `"records" is not an array`,
		`{"records":[],"next":[]}`:            `"next" is not a string`,
		`{"records":[],"server_time":1}`:      `"server_time" is not a string`,
		`{"records":[],"server_time":"soon"}`: `"server_time" is not an RFC 3339 time`,
	})
}

// One record nested deeper than encoding/json decodes is rejected alone;
// the rest of its page is kept.
func TestDecodePageDeepRecord(t *testing.T) {
	t.Parallel()
	testutil.CheckDeepRecord(t,
		func(records string) string {
			return `{"records":[` + records + `],"next":"tok","server_time":"2025-03-02T00:00:00Z"}`
		},
		`{"id":"acc_000001","modified_at":"2025-03-01T10:00:00.000001Z","name":"[{\"]"}`,
		`{"id":"acc_000002","modified_at":"2025-03-01T10:00:00.000002Z","deleted":true}`,
		func(body []byte) ([]connectors.Record, error) {
			page, err := decodePage(body)
			if err == nil && (page.next != "tok" || page.serverTime.IsZero()) {
				t.Fatalf("envelope decoded as %+v", page)
			}
			return page.records, err
		})
}

// The fast path that reads a record's keys gives what encoding/json
// gives for every input it accepts.
func FuzzExactKeys(f *testing.F) {
	for _, s := range []string{
		`{"id":"a","modified_at":"2024-01-01T00:00:00Z","deleted":false,"name":"x"}`,
		`{"id":"a","id":"b"}`, `{"ID":"a","id":"b"}`, `{"Id":"a"}`, `{}`, `[]`, `"s"`, `{"id":1}`,
		`{"modified_at":null,"deleted":"yes","nested":{"id":"inner"}}`, `{"id":"\u0061"}`, ` {"id" : "a" } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, ok := exactKeys(raw)
		if !ok {
			return
		}
		var slow recordKeys
		if err := json.Unmarshal(raw, &slow); err != nil {
			if json.Valid(raw) && len(raw) > 0 {
				t.Fatalf("exactKeys accepted %q, which encoding/json refuses into recordKeys: %v", raw, err)
			}
			t.Fatalf("exactKeys accepted invalid JSON %q", raw)
		}
		if !bytes.Equal(fast.ID, slow.ID) || !bytes.Equal(fast.ModifiedAt, slow.ModifiedAt) || !bytes.Equal(fast.Deleted, slow.Deleted) {
			t.Fatalf("exactKeys(%q) = %q %q %q; encoding/json: %q %q %q", raw,
				fast.ID, fast.ModifiedAt, fast.Deleted, slow.ID, slow.ModifiedAt, slow.Deleted)
		}
	})
}
