package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/jsonsplit"
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
	}
	// The envelope is split without a nesting limit (encoding/json refuses
	// a body nested deeper than 10000 anywhere, so one deep record would
	// fail its whole page); the scanner still validates all of it, so a
	// truncated body is refused. The fields stay raw so each type error
	// gets its own message.
	members, err := jsonsplit.Object(body)
	switch {
	case errors.Is(err, jsonsplit.ErrNotObject):
		return decodedPage{}, malformed("the response is not a JSON object")
	case err != nil:
		return decodedPage{}, malformed("the response is not valid JSON (truncated?)")
	}
	// The last of duplicate keys wins; keys are matched exactly.
	v, _ := jsonsplit.Pick(members, "records", "next", "server_time")
	envelope := struct{ Records, Next, ServerTime []byte }{v[0], v[1], v[2]}
	// Demand an actual array: a missing or null records field must not read
	// as an empty last page, or a broken response would end a sync early.
	elems, err := jsonsplit.Array(envelope.Records)
	if err != nil {
		return decodedPage{}, malformed(`"records" is not an array`)
	}
	var page decodedPage
	if raw := envelope.Next; len(raw) > 0 && json.Unmarshal(raw, &page.next) != nil {
		return decodedPage{}, malformed(`"next" is not a string`)
	}
	if raw := envelope.ServerTime; len(raw) > 0 {
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
	page.records = jsonsplit.Each(elems, decodeRecord, connectors.RejectedRecord)
	return page, nil
}

// recordKeys are the fields syncloop reads; the payload stays as received.
type recordKeys struct {
	ID         json.RawMessage `json:"id"`
	ModifiedAt json.RawMessage `json:"modified_at"`
	Deleted    json.RawMessage `json:"deleted"`
}

func decodeRecord(raw json.RawMessage) connectors.Record {
	rec := connectors.Record{Data: raw}
	keys, ok := exactKeys(raw)
	if !ok && json.Unmarshal(raw, &keys) != nil {
		// Not an object (or a field of another type): read what can be
		// read; without an id the pipeline rejects it.
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			return rec
		}
		keys = recordKeys{ID: fields["id"], ModifiedAt: fields["modified_at"], Deleted: fields["deleted"]}
	}
	if id, ok := jsonsplit.String(keys.ID); ok {
		rec.ExternalID = id
	}
	if modifiedAt, ok := jsonsplit.String(keys.ModifiedAt); ok {
		if t, err := time.Parse(time.RFC3339Nano, modifiedAt); err == nil {
			rec.ModifiedAt = t.UTC()
		}
	}
	var deleted bool
	if json.Unmarshal(keys.Deleted, &deleted) == nil {
		rec.Deleted = deleted
	}
	return rec
}

// exactKeys reads the three fields from the record's top-level members
// without decoding the rest (the full sync's hottest loop: a whole-record
// json.Unmarshal cost a third of the worker's CPU). It defers to
// encoding/json (ok false) for anything that is not a plain object with
// those keys spelled exactly, e.g. "ID", which encoding/json matches
// case-insensitively.
func exactKeys(raw []byte) (keys recordKeys, ok bool) {
	members, err := jsonsplit.Object(raw)
	if err != nil {
		return keys, false
	}
	v, folded := jsonsplit.Pick(members, "id", "modified_at", "deleted")
	if folded {
		return recordKeys{}, false
	}
	keys = recordKeys{ID: v[0], ModifiedAt: v[1], Deleted: v[2]}
	return keys, true
}

func errHTML() *connectors.Error {
	return connectors.Errorf(connectors.Retryable,
		"demo provider returned an HTML page instead of JSON (a proxy or gateway error?)")
}

func malformed(what string) *connectors.Error {
	return connectors.Errorf(connectors.Retryable, "demo provider sent a malformed page: %s", what)
}
