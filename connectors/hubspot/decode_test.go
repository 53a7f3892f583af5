package hubspot

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/jsonsplit"
	"github.com/syncloop/syncloop/connectors/internal/testutil"
)

const validList = `{"results":[` +
	`{"id":"101","properties":{"createdate":"2025-02-01T10:00:00.000Z","hs_lastmodifieddate":"2025-03-01T10:00:00.001Z","hs_object_id":"101","name":"Acme"},` +
	`"createdAt":"2025-02-01T10:00:00.000Z","updatedAt":"2025-03-01T10:00:00.001Z","archived":false},` +
	`{"id":"102","properties":{"hs_lastmodifieddate":"2025-03-01T10:00:00.002Z"},"updatedAt":"2025-03-01T10:00:00.002Z",` +
	`"archived":true,"archivedAt":"2025-03-02T00:00:00.000Z"}],` +
	`"paging":{"next":{"after":"MTAy","link":"?after=MTAy"}}}`

const validSearch = `{"total":2,"results":[` +
	`{"id":"7","properties":{"lastmodifieddate":"2025-03-01T10:00:00.001Z","hs_object_id":"7"},"archived":false},` +
	`{"id":"9","properties":{"lastmodifieddate":"2025-03-01T10:00:00.001Z","hs_object_id":"9"},"archived":false}],` +
	`"paging":{"next":{"after":"2"}}}`

var decodeSeeds = []string{
	validList,
	validSearch,
	validList[:len(validList)/2], // truncated
	`<html><head><title>502 Bad Gateway</title></head></html>`,
	"\ufeff<!DOCTYPE html>",
	`{"results":{"id":"x"}}`,
	`{"results":null,"paging":null}`,
	`{"results":[],"paging":{"next":{"after":""}}}`,
	`{"results":[],"paging":{"next":{"after":5}}}`,
	`{"results":[],"paging":{"next":null}}`,
	`{"results":[],"paging":[]}`,
	`{"results":[],"total":"3"}`,
	`{"results":[{"properties":{"hs_lastmodifieddate":"2025-03-01T10:00:00Z"}},{"id":7},"x",null,[1]]}`,
	`{"results":[{"id":"a","id":"b","properties":{"hs_lastmodifieddate":1},"updatedAt":"99999999999999999999"}]}`,
	`{"results":[{"id":"1","properties":{"lastmodifieddate":"-62135596800001"},"archivedAt":"0001-01-01T00:00:00Z"}]}`,
	`{"results":[{"id":"8","properties":{"hs_lastmodifieddate":"2025-03-01T10:00:00Z","hs_merged_object_ids":"3;8;x;4;3"}}]}`,
	`{"results":[{"id":"8","properties":{"hs_merged_object_ids":["3"]}},{"properties":{"hs_merged_object_ids":"5"}}]}`,
	`[{"id":"a"}]`,
	`null`,
	``,
}

// checkDecoded asserts what any accepted page must satisfy.
func checkDecoded(t *testing.T, page decodedPage, err error) {
	if testutil.Refused(t, err) {
		return
	}
	for i, o := range page.objects {
		r := o.rec
		// A page is only accepted if the whole body is JSON, so every
		// record's Data is JSON (or says why it could not be decoded), and
		// an id implies an object.
		if jsonsplit.IsUndecodable(r.Data) && r.ExternalID == "" && !r.Deleted {
			continue
		}
		if !json.Valid(r.Data) {
			t.Fatalf("record %d: Data %q is not JSON", i, r.Data)
		}
		if r.Deleted {
			t.Fatalf("record %d: decoding made a tombstone", i)
		}
		if r.ExternalID != "" && !strings.HasPrefix(strings.TrimSpace(string(r.Data)), "{") {
			t.Fatalf("record %d: id %q from a non-object %q", i, r.ExternalID, r.Data)
		}
		var m map[string]any
		if json.Unmarshal(r.Data, &m) == nil {
			if id, _ := m["id"].(string); id != r.ExternalID {
				t.Fatalf("record %d: ExternalID %q, but id is %q", i, r.ExternalID, id)
			}
		}
		// ModifiedAt is the modified property when there is one, and any
		// time is within the range the keyset's millisecond math handles.
		if !o.modified.IsZero() && !o.modified.Equal(r.ModifiedAt) {
			t.Fatalf("record %d: ModifiedAt %s differs from the modified property %s", i, r.ModifiedAt, o.modified)
		}
		if y := r.ModifiedAt.Year(); !r.ModifiedAt.IsZero() && (y < -300000 || y > 300000) {
			t.Fatalf("record %d: ModifiedAt %s", i, r.ModifiedAt)
		}
		// Merged ids (tombstones to be) are canonical, distinct, not the
		// record's own.
		seen := map[string]bool{}
		for _, id := range o.merged {
			if !canonicalID(id) || id == r.ExternalID || seen[id] {
				t.Fatalf("record %d (%q): merged ids %q", i, r.ExternalID, o.merged)
			}
			seen[id] = true
		}
	}
}

func FuzzDecodeListResponse(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s), "hs_lastmodifieddate")
		f.Add([]byte(s), "")
	}
	f.Fuzz(func(t *testing.T, body []byte, modProp string) {
		page, err := decodeListResponse(body, modProp)
		checkDecoded(t, page, err)
	})
}

func FuzzDecodeSearchResponse(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s), "lastmodifieddate")
	}
	f.Fuzz(func(t *testing.T, body []byte, modProp string) {
		page, err := decodeSearchResponse(body, modProp)
		checkDecoded(t, page, err)
		if err == nil {
			// A search response is a list response with a valid total.
			if _, lerr := decodeListResponse(body, modProp); lerr != nil {
				t.Fatalf("search response accepted, list response refused: %v", lerr)
			}
		}
	})
}

func TestDecodeResponses(t *testing.T) {
	t.Parallel()
	page, err := decodeListResponse([]byte(validList), "hs_lastmodifieddate")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.objects) != 2 || page.next != "MTAy" || page.objects[0].rec.ExternalID != "101" ||
		page.objects[0].modified.UnixMilli()%1000 != 1 || page.objects[1].archivedAt.IsZero() {
		t.Fatalf("decoded %+v", page)
	}
	page, err = decodeSearchResponse([]byte(validSearch), "lastmodifieddate")
	if err != nil || len(page.objects) != 2 || page.next != "2" || page.objects[1].modified.IsZero() {
		t.Fatalf("search decoded %+v, %v", page, err)
	}
	testutil.DataNotAliased(t, validList, func(body []byte) []byte {
		page, _ := decodeListResponse(body, "hs_lastmodifieddate")
		return page.objects[0].rec.Data
	})
	decode := func(body []byte) error { _, err := decodeListResponse(body, "hs_lastmodifieddate"); return err }
	testutil.WantRefused(t, "decodeListResponse", decode, map[string]string{
		``:                                    "empty",
		`  <html>`:                            "HTML",
		`{"results":[`:                        "not valid JSON",
		`[]`:                                  "not a JSON object",
		`null`:                                "not a JSON object",
		`{"results":null}`:                    `"results" is not an array`,
		`{"results":"[]"}`:                    `"results" is not an array`,
		`{"results":[],"paging":1}`:           `"paging" is not an object`,
		`{"results":[],"paging":{"next":[]}}`: `"paging.next" is not an object`,
		`{"results":[],"paging":{"next":{}}}`: `"paging.next.after" is not a non-empty string`,
	})
	if p, err := decodeListResponse([]byte(`{"results":[],"paging":{"next":null}}`), ""); err != nil || p.next != "" {
		t.Errorf("null next: %+v %v", p, err)
	}
}

// One record nested deeper than encoding/json decodes is rejected alone;
// the rest of its page is kept.
func TestDecodeListResponseDeepRecord(t *testing.T) {
	t.Parallel()
	for name, decode := range map[string]func([]byte, string) (decodedPage, error){
		"list": decodeListResponse, "search": decodeSearchResponse,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testutil.CheckDeepRecord(t,
				func(records string) string {
					return `{"total":3,"results":[` + records + `],"paging":{"next":{"after":"MTAy"}}}`
				},
				`{"id":"101","properties":{"hs_lastmodifieddate":"2025-03-01T10:00:00.001Z","name":"[{\"]"}}`,
				`{"id":"102","updatedAt":"2025-03-01T10:00:00.002Z","archived":true}`,
				func(body []byte) ([]connectors.Record, error) {
					page, err := decode(body, "hs_lastmodifieddate")
					if err == nil && page.next != "MTAy" {
						t.Fatalf("envelope decoded as %+v", page)
					}
					recs := make([]connectors.Record, len(page.objects))
					for i, o := range page.objects {
						recs[i] = o.rec
					}
					return recs, err
				})
		})
	}
}
