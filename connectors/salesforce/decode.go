package salesforce

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/jsonsplit"
)

// queryResult is a query response as the connector understood it.
type queryResult struct {
	records []connectors.Record
	done    bool
	next    string // nextRecordsUrl as sent; empty when done
}

// decodeQueryResponse parses a query (or query locator) response whose
// records carry their last-modified time in the cursor field
// (SystemModstamp, or LastModifiedDate for ContentNote). It never panics; a body it cannot trust as a whole batch is a Retryable error, as
// a truncated or mangled response (maintenance page, dropped connection) is
// usually transient. A bad record is not an error: it comes back with an
// empty ExternalID so the pipeline rejects it visibly.
func decodeQueryResponse(body []byte, cursor string) (queryResult, error) {
	env, err := decodeEnvelope(body, "query")
	if err != nil {
		return queryResult{}, err
	}
	var res queryResult
	// "done" must be there: a missing one must not end a listing early.
	if raw, ok := env["done"]; !ok || json.Unmarshal(raw, &res.done) != nil || isNull(raw) {
		return queryResult{}, malformed("query", `"done" is not a boolean`)
	}
	elems, ok := array(env["records"])
	if !ok {
		return queryResult{}, malformed("query", `"records" is not an array`)
	}
	if raw, ok := env["nextRecordsUrl"]; ok && !isNull(raw) && json.Unmarshal(raw, &res.next) != nil {
		return queryResult{}, malformed("query", `"nextRecordsUrl" is not a string`)
	}
	if res.done {
		res.next = ""
	} else if res.next == "" {
		return queryResult{}, malformed("query", `"done" is false but there is no "nextRecordsUrl"`)
	}
	res.records = jsonsplit.Each(elems, func(raw json.RawMessage) connectors.Record { return decodeRecord(raw, cursor) },
		connectors.RejectedRecord)
	return res, nil
}

// decodeRecord maps one query record; ModifiedAt is its cursor field. Data
// is the record without
// "attributes" (at any depth: relationship fields carry them too),
// re-encoded with sorted keys; numbers keep their text. Fields that are
// missing or of the wrong type are left zero; a record that is not an
// object keeps its bytes as Data and gets no Id.
func decodeRecord(raw json.RawMessage, cursor string) connectors.Record {
	rec := connectors.Record{Data: raw}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return rec
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return rec
	}
	stripAttributes(obj)
	if data, err := json.Marshal(obj); err == nil {
		rec.Data = data
	}
	if id, ok := obj["Id"].(string); ok {
		rec.ExternalID = id
	}
	if s, ok := obj[cursor].(string); ok {
		if t, ok := sfTime(s); ok {
			rec.ModifiedAt = t
		}
	}
	return rec
}

func stripAttributes(v any) {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "attributes")
		for _, x := range v {
			stripAttributes(x)
		}
	case []any:
		for _, x := range v {
			stripAttributes(x)
		}
	}
}

// deletedResult is a deleted records response as understood.
type deletedResult struct {
	records  []connectors.Record // tombstones in (deletedDate, id) order
	earliest time.Time           // earliestDateAvailable; zero if absent
	latest   time.Time           // latestDateCovered; zero if absent
}

// decodeDeletedResponse parses a deleted records response, with the same
// promises as decodeQueryResponse.
func decodeDeletedResponse(body []byte) (deletedResult, error) {
	env, err := decodeEnvelope(body, "deleted records")
	if err != nil {
		return deletedResult{}, err
	}
	elems, ok := array(env["deletedRecords"])
	if !ok {
		return deletedResult{}, malformed("deleted records", `"deletedRecords" is not an array`)
	}
	var res deletedResult
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"earliestDateAvailable", &res.earliest}, {"latestDateCovered", &res.latest}} {
		raw, ok := env[f.name]
		if !ok || isNull(raw) {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return deletedResult{}, malformed("deleted records", `"`+f.name+`" is not a string`)
		}
		t, ok := sfTime(s)
		if !ok {
			return deletedResult{}, malformed("deleted records", `"`+f.name+`" is not a dateTime`)
		}
		*f.dst = t
	}
	// A poison entry is not a tombstone: a tombstone's payload is not
	// kept, and a rejected one's says why it is rejected.
	res.records = jsonsplit.Each(elems, decodeDeleted, connectors.RejectedRecord)
	// Pages are ordered by (ModifiedAt, ExternalID); Salesforce does not
	// promise an order here.
	slices.SortStableFunc(res.records, func(a, b connectors.Record) int {
		if c := a.ModifiedAt.Compare(b.ModifiedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ExternalID, b.ExternalID)
	})
	return res, nil
}

// decodeEnvelope checks that body is one JSON object and returns its
// members (the last of duplicate keys wins). The body is split without a
// nesting limit, as encoding/json refuses a body nested deeper than 10000
// anywhere and one deep record would fail its whole batch; the scanner
// still validates all of it, so a truncated body is refused. The members
// alias body.
func decodeEnvelope(body []byte, what string) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	switch {
	case len(trimmed) == 0:
		return nil, malformed(what, "the response body is empty")
	case trimmed[0] == '<':
		return nil, errHTML()
	}
	members, err := jsonsplit.Object(body)
	switch {
	case errors.Is(err, jsonsplit.ErrNotObject):
		return nil, malformed(what, "the response is not a JSON object")
	case err != nil:
		return nil, malformed(what, "the response is not valid JSON (truncated?)")
	}
	env := make(map[string]json.RawMessage, len(members))
	for _, m := range members {
		env[m.Key] = m.Value
	}
	return env, nil
}

// array returns the elements of a JSON array (aliasing raw); a missing
// member, null or any other type is not one.
func array(raw json.RawMessage) ([]jsonsplit.Element, bool) {
	elems, err := jsonsplit.Array(raw)
	return elems, err == nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func errHTML() *connectors.Error {
	return connectors.Errorf(connectors.Retryable,
		"Salesforce returned an HTML page instead of JSON (maintenance page, proxy or gateway error?)")
}

func malformed(what, why string) *connectors.Error {
	return connectors.Errorf(connectors.Retryable, "Salesforce sent a malformed %s response: %s", what, why)
}

// decodeDeleted is one entry of the deleted-records listing: a tombstone.
func decodeDeleted(raw json.RawMessage) connectors.Record {
	rec := connectors.Record{Deleted: true, Data: raw}
	var entry map[string]json.RawMessage
	if json.Unmarshal(raw, &entry) == nil {
		var id, date string
		if json.Unmarshal(entry["id"], &id) == nil {
			rec.ExternalID = id
		}
		if json.Unmarshal(entry["deletedDate"], &date) == nil {
			if t, ok := sfTime(date); ok {
				rec.ModifiedAt = t
			}
		}
	}
	return rec
}
