package demo

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/syncloop/syncloop/connectors"
)

// decodedPage is a listing response as the connector understood it.
type decodedPage struct {
	records    []connectors.Record
	next       string    // the server's keyset token; empty on the last page
	serverTime time.Time // zero if the response had none
}

// decodePage parses a listing response body. It never panics; any body it
// cannot trust as a whole page is a Retryable error, because a truncated or
// mangled response (proxy error page, dropped connection) is usually
// transient. A single bad record is not an error: it is returned with an
// empty ExternalID so that the pipeline rejects it visibly.
func decodePage(body []byte) (decodedPage, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	switch {
	case len(trimmed) == 0:
		return decodedPage{}, malformed("the response body is empty")
	case trimmed[0] == '<':
		return decodedPage{}, errHTML()
	case !json.Valid(body):
		return decodedPage{}, malformed("the response is not valid JSON (truncated?)")
	}

	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(body, &envelope); err != nil || envelope == nil {
		return decodedPage{}, malformed("the response is not a JSON object")
	}

	// Demand an actual array: a missing or null records field must not read
	// as an empty last page, or a broken response would end a sync early.
	rawRecords := bytes.TrimSpace(envelope["records"])
	var elems []json.RawMessage
	if len(rawRecords) == 0 || rawRecords[0] != '[' || json.Unmarshal(rawRecords, &elems) != nil {
		return decodedPage{}, malformed(`"records" is not an array`)
	}

	var page decodedPage
	if raw, ok := envelope["next"]; ok && json.Unmarshal(raw, &page.next) != nil {
		return decodedPage{}, malformed(`"next" is not a string`)
	}
	if raw, ok := envelope["server_time"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return decodedPage{}, malformed(`"server_time" is not a string`)
		}
		if s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return decodedPage{}, malformed(`"server_time" is not an RFC 3339 time`)
			}
			page.serverTime = t.UTC()
		}
	}

	page.records = make([]connectors.Record, len(elems))
	for i, raw := range elems {
		page.records[i] = decodeRecord(raw)
	}
	return page, nil
}

// decodeRecord maps one record. Data is always the record's bytes exactly as
// received; fields that are missing or of the wrong type are left zero.
func decodeRecord(raw json.RawMessage) connectors.Record {
	rec := connectors.Record{Data: raw}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return rec // not an object: no id, so the pipeline rejects it
	}
	var id string
	if json.Unmarshal(fields["id"], &id) == nil {
		rec.ExternalID = id
	}
	var modifiedAt string
	if json.Unmarshal(fields["modified_at"], &modifiedAt) == nil {
		if t, err := time.Parse(time.RFC3339Nano, modifiedAt); err == nil {
			rec.ModifiedAt = t.UTC()
		}
	}
	var deleted bool
	if json.Unmarshal(fields["deleted"], &deleted) == nil {
		rec.Deleted = deleted
	}
	return rec
}

func errHTML() *connectors.Error {
	return connectors.Errorf(connectors.Retryable,
		"demo provider returned an HTML page instead of JSON (a proxy or gateway error?)")
}

func malformed(what string) *connectors.Error {
	return connectors.Errorf(connectors.Retryable, "demo provider sent a malformed page: %s", what)
}
