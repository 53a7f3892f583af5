package hubspot

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/syncloop/syncloop/connectors"
)

const tokenVersion = 1

// Listing phases.
const (
	// phaseList pages a live listing: a full sync, or an owners listing.
	phaseList = "list"
	// phaseChanges pages the search for changes, keyed on the modified time.
	phaseChanges = "changes"
	// phaseTies reads one millisecond's changes keyed on hs_object_id.
	phaseTies = "ties"
	// phaseArchived pages the archived listing for tombstones.
	phaseArchived = "archived"
)

const (
	maxTokenLen = 64 << 10
	// maxSkip bounds the ids carried for deduplication: one page's, plus
	// one more page's when entering phaseTies.
	maxSkip = 2 * maxSearchPageSize
)

// pageToken is the connector's page token: everything a listing needs
// across FetchPage calls, which are independent (and may run on other
// workers). It is base64url JSON plus a checksum, so that a corrupted or
// edited token is refused rather than silently skipping records; the
// checksum is an integrity check, not a secret. Times are epoch
// milliseconds, HubSpot's precision.
type pageToken struct {
	V    int    `json:"v"`
	Type string `json:"t"`
	// Full marks a full listing. A token must not switch modes: resuming a
	// full listing with a Since would skip the unchanged records not yet
	// listed.
	Full bool `json:"f,omitempty"`
	// Since is the incremental listing's PageRequest.Since; a token only
	// resumes the listing it came from.
	Since int64  `json:"s,omitempty"`
	Phase string `json:"p"`
	// After is HubSpot's paging cursor (list and archived phases).
	After string `json:"a,omitempty"`
	// Lower is the modified-time bound of the changes and ties phases;
	// Strict makes it exclusive (GT), after the ties at Lower were read.
	Lower  int64 `json:"l,omitempty"`
	Strict bool  `json:"x,omitempty"`
	// TieID is the last hs_object_id read in the ties phase.
	TieID string `json:"i,omitempty"`
	// Skip lists ids already returned whose modified time is Lower.
	Skip []string `json:"k,omitempty"`
	// Start is the listing's start (full and owners listings): the Cursor.
	Start int64 `json:"st,omitempty"`
	// MaxSeen is the highest modified time returned by the changes phase.
	MaxSeen int64 `json:"m,omitempty"`
	// Scan marks the archived phase of an object listing that the archive
	// rule chose (see the package documentation): it returns the records
	// archived at or after ArchFrom, and its last page's Cursor is End if
	// later than MaxSeen (End is 0 when the server's time was unknown).
	// Without Scan (owners, and tokens from before the rule) the bound is
	// Since and the Cursor MaxSeen.
	Scan     bool  `json:"sc,omitempty"`
	ArchFrom int64 `json:"af,omitempty"`
	End      int64 `json:"e,omitempty"`
}

// firstToken is the state before a listing's first page.
func firstToken(spec *objectSpec, req connectors.PageRequest) pageToken {
	t := pageToken{V: tokenVersion, Type: spec.name, Phase: phaseList}
	if req.Since.IsZero() {
		t.Full = true
		return t
	}
	t.Since = req.Since.UnixMilli()
	if !spec.owners {
		t.Phase, t.Lower = phaseChanges, t.Since
	}
	return t
}

func tokenSum(payload []byte) []byte {
	h := sha256.Sum256(append([]byte("syncloop hubspot page token\x00"), payload...))
	return h[:8]
}

func (t pageToken) encode() string {
	b, _ := json.Marshal(t) // strings, ints and bools: cannot fail
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(tokenSum(b))
}

// decodePageToken decodes and validates a token for req. Any problem is a
// Config error: retrying cannot repair a token.
func decodePageToken(s string, spec *objectSpec, req connectors.PageRequest) (pageToken, error) {
	bad := func(why string) (pageToken, error) {
		return pageToken{}, connectors.Errorf(connectors.Config, "malformed page token for %s: %s", req.ObjectType, why)
	}
	if len(s) > maxTokenLen {
		return bad("too long")
	}
	payloadPart, sumPart, ok := strings.Cut(s, ".")
	if !ok {
		return bad("not a HubSpot page token")
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(payloadPart)
	sum, err2 := base64.RawURLEncoding.DecodeString(sumPart)
	if err1 != nil || err2 != nil {
		return bad("not base64")
	}
	if !bytes.Equal(sum, tokenSum(payload)) {
		return bad("checksum mismatch (corrupted or edited)")
	}
	var t pageToken
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil || dec.More() {
		return bad("not a HubSpot page token")
	}
	if why := t.invalid(spec, req); why != "" {
		return bad(why)
	}
	return t, nil
}

// invalid returns why t cannot resume a listing of req, or "".
func (t *pageToken) invalid(spec *objectSpec, req connectors.PageRequest) string {
	full := req.Since.IsZero()
	listing := t.Phase == phaseList || t.Phase == phaseArchived
	switch {
	case t.V != tokenVersion:
		return fmt.Sprintf("unsupported version %d", t.V)
	case t.Type != spec.name:
		return fmt.Sprintf("it belongs to a listing of %q", t.Type)
	case t.Full && !full:
		return "it belongs to a full listing but Since is set"
	case !t.Full && full:
		return "it belongs to an incremental listing but Since is zero"
	case t.Full && t.Since != 0:
		return "a full listing with a Since"
	case !t.Full && t.Since != req.Since.UnixMilli():
		return "it belongs to an incremental listing with another Since"
	}
	switch t.Phase {
	case phaseList:
		if t.After == "" {
			return "no position"
		}
	case phaseArchived:
		if t.Full {
			return "a full listing has no archived phase"
		}
	case phaseChanges, phaseTies:
		if t.Full || spec.owners {
			return "phase " + t.Phase + " in a listing without search"
		}
	default:
		return fmt.Sprintf("unknown phase %q", t.Phase)
	}
	// Start is the Cursor of full and owners listings, which set it on
	// their first page.
	if hasStart := t.Full || spec.owners; hasStart != (t.Start > 0) {
		return "bad listing start"
	}
	switch {
	case t.MaxSeen < 0 || (t.MaxSeen != 0 && (t.Full || spec.owners)):
		return "bad cursor"
	case listing && (t.Lower != 0 || t.Strict || t.TieID != "" || len(t.Skip) != 0):
		return "search state in a listing phase"
	case !listing && t.After != "":
		return "a listing position in a search phase"
	case !listing && t.Lower < t.Since:
		return "a search bound before Since"
	case t.Phase == phaseChanges && t.TieID != "":
		return "a tie position outside the ties phase"
	case t.Phase == phaseTies && t.Strict:
		return "a strict bound in the ties phase"
	case t.Strict && len(t.Skip) != 0:
		return "ids to skip past a strict bound"
	case t.TieID != "" && !canonicalID(t.TieID):
		return "bad tie position"
	case t.Scan && (t.Phase != phaseArchived || t.Full || spec.owners):
		return "an archive scan outside an object's archived phase"
	case !t.Scan && (t.ArchFrom != 0 || t.End != 0):
		return "archive scan state without a scan"
	case t.Scan && (t.ArchFrom > t.Since || (t.End != 0 && t.End < t.MaxSeen)):
		return "bad archive scan bounds"
	case len(t.Skip) > maxSkip:
		return "too many ids to skip"
	}
	for _, id := range t.Skip {
		if id == "" || len(id) > 100 {
			return "bad id to skip"
		}
	}
	return ""
}

// canonicalID reports whether s is a HubSpot id: a decimal number without
// leading zeros.
func canonicalID(s string) bool {
	if s == "" || len(s) > 40 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// idLess orders canonical ids numerically (of any length).
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
