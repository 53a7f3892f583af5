package hubspot

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/jsonsplit"
)

// object is one record of a response as the connector understood it.
type object struct {
	rec connectors.Record
	// modified is the modified property's value (zero if absent or
	// invalid): what search filters and sorts on, so the only time the
	// search keyset may use. rec.ModifiedAt falls back to updatedAt.
	modified time.Time
	// archivedAt is zero if absent or invalid.
	archivedAt time.Time
	// merged lists the ids hs_merged_object_ids names, but the record's
	// own (see parseMergedIDs); nil for owners.
	merged []string
}

// decodedPage is a list or search response.
type decodedPage struct {
	objects []object
	// next is paging.next.after: empty on the last page.
	next string
}

// decodeListResponse parses a list response (objects or owners). modProp
// is the modified property; "" for owners, whose time is updatedAt.
//
// It never panics. A body it cannot trust as a whole page is a Retryable
// error, since a truncated or mangled response (proxy error page, dropped
// connection) is usually transient. A single bad record is not an error:
// it is returned with what could be read (no id if none) so that the
// pipeline rejects it visibly.
func decodeListResponse(body []byte, modProp string) (decodedPage, error) {
	page, _, err := decodeResponse(body, modProp)
	return page, err
}

// decodeSearchResponse parses a search response, which is a list response
// with a "total".
func decodeSearchResponse(body []byte, modProp string) (decodedPage, error) {
	page, envelope, err := decodeResponse(body, modProp)
	if err != nil {
		return decodedPage{}, err
	}
	if raw, ok := envelope["total"]; ok {
		var total json.Number
		if json.Unmarshal(raw, &total) != nil {
			return decodedPage{}, malformed(`"total" is not a number`)
		}
	}
	return page, nil
}

func decodeResponse(body []byte, modProp string) (decodedPage, map[string]json.RawMessage, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n\ufeff")
	switch {
	case len(trimmed) == 0:
		return decodedPage{}, nil, malformed("the response body is empty")
	case trimmed[0] == '<':
		return decodedPage{}, nil, errHTML()
	}
	// The envelope is split without a nesting limit (encoding/json refuses
	// a body nested deeper than 10000 anywhere, so one deep record would
	// fail its whole page); the scanner still validates all of it, so a
	// truncated body is refused.
	members, err := jsonsplit.Object(body)
	switch {
	case errors.Is(err, jsonsplit.ErrNotObject):
		return decodedPage{}, nil, malformed("the response is not a JSON object")
	case err != nil:
		return decodedPage{}, nil, malformed("the response is not valid JSON (truncated?)")
	}
	envelope := make(map[string]json.RawMessage, len(members))
	for _, m := range members { // the last of duplicate keys wins
		envelope[m.Key] = m.Value
	}

	// Demand an actual array: a missing or null results field must not read
	// as an empty last page, or a broken response would end a sync early.
	elems, err := jsonsplit.Array(envelope["results"])
	if err != nil {
		return decodedPage{}, nil, malformed(`"results" is not an array`)
	}

	var page decodedPage
	if raw, ok := envelope["paging"]; ok && !isNull(raw) {
		var paging map[string]json.RawMessage
		if json.Unmarshal(raw, &paging) != nil || paging == nil {
			return decodedPage{}, nil, malformed(`"paging" is not an object`)
		}
		if raw, ok := paging["next"]; ok && !isNull(raw) {
			var next map[string]json.RawMessage
			if json.Unmarshal(raw, &next) != nil || next == nil {
				return decodedPage{}, nil, malformed(`"paging.next" is not an object`)
			}
			if json.Unmarshal(next["after"], &page.next) != nil || page.next == "" {
				return decodedPage{}, nil, malformed(`"paging.next.after" is not a non-empty string`)
			}
		}
	}

	page.objects = jsonsplit.Each(elems,
		func(raw json.RawMessage) object { return decodeObject(raw, modProp) },
		func(data []byte) object { return object{rec: connectors.RejectedRecord(data)} })
	return page, envelope, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// decodeObject maps one record. Data is always the record's bytes exactly
// as received; fields that are missing or of the wrong type are left zero.
func decodeObject(raw json.RawMessage, modProp string) object {
	o := object{rec: connectors.Record{Data: raw}}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return o // not an object: no id, so the pipeline rejects it
	}
	var id string
	if json.Unmarshal(fields["id"], &id) == nil {
		o.rec.ExternalID = id
	}
	if modProp != "" {
		var props map[string]json.RawMessage
		if json.Unmarshal(fields["properties"], &props) == nil {
			o.modified = timeField(props[modProp])
			var merged string
			if json.Unmarshal(props[mergedProp], &merged) == nil {
				o.merged = parseMergedIDs(merged, o.rec.ExternalID)
			}
		}
	}
	o.rec.ModifiedAt = o.modified
	if o.rec.ModifiedAt.IsZero() {
		o.rec.ModifiedAt = timeField(fields["updatedAt"])
	}
	o.archivedAt = timeField(fields["archivedAt"])
	return o
}

// maxMergedIDs bounds the ids read from one record's hs_merged_object_ids.
// HubSpot's documentation gives no bound on how many merges a record can
// absorb; this one only keeps a corrupt value from making a page of
// millions of tombstones.
const maxMergedIDs = 10_000

// parseMergedIDs reads an hs_merged_object_ids value: record ids separated
// by ";", the separator of HubSpot's multi-value properties (e.g.
// "chocolate;strawberry" in the example response of "Merge two contacts",
// https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/merge-contacts).
// The documentation does not give this property's format, so commas and
// spaces are accepted as separators too. Only canonical ids are kept, once
// each, in the order given, without self (a record whose merge kept its id
// could list it) and at most maxMergedIDs.
func parseMergedIDs(v, self string) []string {
	var ids []string
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool {
		return r == ';' || r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	}) {
		if !canonicalID(f) || f == self || seen[f] {
			continue
		}
		if len(ids) == maxMergedIDs {
			break
		}
		seen[f] = true
		ids = append(ids, f)
	}
	return ids
}

// timeField reads a HubSpot time: an RFC 3339 string (as v3 sends), or
// epoch milliseconds as a string or number (as older APIs and some
// properties do). It returns zero for anything else.
func timeField(raw json.RawMessage) time.Time {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return time.Time{}
		}
		s = n.String()
	}
	return parseTime(s)
}

var (
	minMillis = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxMillis = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
)

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		// The years an RFC 3339 time can have (1 to 9999): anything else
		// is not a real time (and far enough from int64 overflow in the
		// keyset's millisecond math).
		if ms < minMillis || ms > maxMillis {
			return time.Time{}
		}
		return time.UnixMilli(ms).UTC()
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}
	}
	return t.UTC()
}

func errHTML() *connectors.Error {
	return connectors.Errorf(connectors.Retryable,
		"HubSpot returned an HTML page instead of JSON (a proxy or gateway error?)")
}

func malformed(what string) *connectors.Error {
	return connectors.Errorf(connectors.Retryable, "HubSpot sent a malformed response: %s", what)
}
