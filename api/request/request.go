// Package request decodes and validates what a REST API request carries:
// JSON bodies, path values and query parameters. The decoders are pure (no
// I/O besides the reader they are given) and the package imports nothing
// heavy, so its fuzz targets build quickly. Every error they return is an
// *Error.
package request

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/syncloop/syncloop/model"
)

// DefaultMaxBodyBytes is the request body limit when a decoder is given
// none.
const DefaultMaxBodyBytes int64 = 64 << 10

// Limits on user-supplied strings.
const (
	maxReasonLen     = 500 // as control.SyncNow enforces
	maxConnectionLen = 200
)

// Defaults and limits of the count query parameters (see ParseLimit).
const (
	DefaultCycles = 10 // GET /objects/{…}: cycles shown with the object
	DefaultLimit  = 50 // GET …/cycles
	// DefaultFeedLimit is GET …/records' (up to MaxLimit).
	DefaultFeedLimit = 100
	MaxLimit         = 1000
)

// Error codes of the errors the decoders return.
const (
	CodeBadRequest       = "bad_request"
	CodeBodyTooLarge     = "body_too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
)

// Error is a request that cannot be served, with the HTTP status and
// error code to answer it with. Msg is meant for the client.
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// addObjectBody is POST /sync/v1/objects.
type addObjectBody struct {
	Object     string   `json:"object"`
	Interval   string   `json:"interval"`
	Connection string   `json:"connection"`
	Fields     []string `json:"fields"`
	// WebhookKinds: null or absent is the worker's, [] none.
	WebhookKinds []string `json:"webhook_kinds"`
}

// intervalBody is PUT …/interval.
type intervalBody struct {
	Interval string `json:"interval"`
}

// fieldsBody is PUT …/fields.
type fieldsBody struct {
	Fields []string `json:"fields"`
}

// triggerBody is POST …/trigger (optional).
type triggerBody struct {
	Reason string `json:"reason"`
}

const (
	addExample      = `{"object":"acme/demo/accounts","interval":"30m"}`
	intervalExample = `{"interval":"30m"}`
	triggerExample  = `{"reason":"fixed the mapping"}`
)

// AddObject is a decoded add-object request. It converts to a
// control.AddRequest, and is its own type so that this package does not
// import control (and with it PostgreSQL and the Temporal SDK).
type AddObject struct {
	Key        model.ObjectKey
	Interval   time.Duration // 0 means the default
	Connection string
	Fields     []string // none: the provider's default list
	// WebhookKinds: nil is the worker's SYNCLOOP_WEBHOOK_KINDS, empty none.
	WebhookKinds []string
}

// maxFields bounds a field list (the store's limit).
const maxFields = 1000

// DecodeAddObject decodes and validates an add-object request.
func DecodeAddObject(r io.Reader, max int64) (AddObject, error) {
	var b addObjectBody
	if err := decodeJSON(r, max, &b, false, addExample, []string{"object", "interval", "connection", "fields", "webhook_kinds"}); err != nil {
		return AddObject{}, err
	}
	if b.Object == "" {
		return AddObject{}, badRequest(`field "object" is required: send e.g. %s`, addExample)
	}
	k, err := model.ParseObjectKey(b.Object)
	if err != nil {
		return AddObject{}, badRequest("%s", model.Clip(err.Error(), 400))
	}
	if err := checkFields(b.Fields); err != nil {
		return AddObject{}, err
	}
	req := AddObject{Key: k, Connection: b.Connection, Fields: b.Fields, WebhookKinds: b.WebhookKinds}
	if b.Interval != "" {
		if req.Interval, err = parseInterval(b.Interval); err != nil {
			return AddObject{}, err
		}
	}
	if len(b.Connection) > maxConnectionLen || strings.ContainsFunc(b.Connection, isControl) {
		return AddObject{}, badRequest(`field "connection" must be a connection name of at most %d printable characters`, maxConnectionLen)
	}
	return req, nil
}

const fieldsExample = `{"fields":["Name","Industry"]}`

// DecodeFields decodes a set-fields request: the field list (empty: the
// provider's default list).
func DecodeFields(r io.Reader, max int64) ([]string, error) {
	var b fieldsBody
	if err := decodeJSON(r, max, &b, false, fieldsExample, []string{"fields"}); err != nil {
		return nil, err
	}
	if err := checkFields(b.Fields); err != nil {
		return nil, err
	}
	return b.Fields, nil
}

// checkFields bounds a field list.
func checkFields(fields []string) error {
	if len(fields) > maxFields {
		return badRequest(`field "fields" lists %d fields; at most %d`, len(fields), maxFields)
	}
	for _, f := range fields {
		if f == "" || len(f) > 200 || strings.ContainsFunc(f, isControl) {
			return badRequest(`field "fields" must list field API names of at most 200 printable characters`)
		}
	}
	return nil
}

// DecodeInterval decodes a set-interval request.
func DecodeInterval(r io.Reader, max int64) (time.Duration, error) {
	var b intervalBody
	if err := decodeJSON(r, max, &b, false, intervalExample, []string{"interval"}); err != nil {
		return 0, err
	}
	if b.Interval == "" {
		return 0, badRequest(`field "interval" is required: send e.g. %s`, intervalExample)
	}
	return parseInterval(b.Interval)
}

// DecodeTrigger decodes a trigger request; the body is optional.
func DecodeTrigger(r io.Reader, max int64) (string, error) {
	var b triggerBody
	if err := decodeJSON(r, max, &b, true, triggerExample, []string{"reason"}); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(b.Reason) > maxReasonLen {
		return "", badRequest(`field "reason" is longer than %d characters: shorten it`, maxReasonLen)
	}
	return b.Reason, nil
}

func parseInterval(s string) (time.Duration, error) {
	d, err := model.ParseInterval(s)
	if err != nil {
		return 0, badRequest("%s", model.Clip(err.Error(), 300))
	}
	return d, nil
}

// ParseObjectPath validates the {tenant}/{provider}/{object} path values.
// Each part is checked on its own, so an escaped slash inside a part
// ("acme%2Fx") is refused rather than shifting the parts.
func ParseObjectPath(tenant, provider, object string) (model.ObjectKey, error) {
	k := model.ObjectKey{Tenant: tenant, Provider: provider, ObjectType: object}
	if err := k.Validate(); err != nil {
		return k, badRequest("%s", model.Clip(err.Error(), 400))
	}
	return k, nil
}

// ParseForce parses the force query parameter: absent means false; true,
// false, 1 and 0 are accepted.
func ParseForce(s string) (bool, error) {
	switch s {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, badRequest("query parameter force=%q is not a boolean: use force=true or leave it out", model.Clip(s, 40))
}

// ParseLimit parses a count query parameter: absent means def; otherwise
// an integer from min to max.
func ParseLimit(name, s string, def, min, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, badRequest("query parameter %s=%q is invalid: use an integer from %d to %d", name, model.Clip(s, 40), min, max)
	}
	return n, nil
}

// ParseCursor parses the after query parameter of the change feed: absent
// or empty means from the beginning (nil); otherwise a cursor that a read
// of the feed returned (model.DecodeFeedCursor). Whether it is the
// object's own is checked against the object (control.Records).
func ParseCursor(name, s string) (*model.FeedCursor, error) {
	if s == "" {
		return nil, nil
	}
	c, err := model.DecodeFeedCursor(s)
	if err != nil {
		return nil, badRequest("query parameter %s=%q is not a cursor of this feed: pass the next_cursor of an earlier answer unchanged, or leave %s out to read from the beginning", name, model.Clip(s, 60), name)
	}
	return &c, nil
}

// CheckQuery refuses query parameters the route does not know, and
// repeated ones, so a typo (?forse=true) is an error rather than ignored.
func CheckQuery(q url.Values, allowed []string) error {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return badRequest("unknown query parameter %q: this route takes none", model.Clip(name, 40))
			}
			return badRequest("unknown query parameter %q: this route accepts %s", model.Clip(name, 40), strings.Join(allowed, ", "))
		}
		if len(q[name]) > 1 {
			return badRequest("query parameter %q is given %d times: give it once", name, len(q[name]))
		}
	}
	return nil
}

// CheckContentType accepts a missing Content-Type (curl -d with -H is the
// norm, but scripts often send none) and any JSON media type; anything
// else is 415.
func CheckContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return nil
	}
	return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia,
		Msg: fmt.Sprintf("Content-Type %q is not JSON: send the body as JSON with Content-Type: application/json", model.Clip(ct, 80))}
}

// decodeJSON reads at most max bytes from r and decodes one JSON object
// into dst, refusing unknown fields and trailing data. An empty body is
// an error unless allowEmpty.
func decodeJSON(r io.Reader, max int64, dst any, allowEmpty bool, example string, fields []string) error {
	if max <= 0 {
		max = DefaultMaxBodyBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(max)
		}
		return badRequest("cannot read the request body: %s", model.Clip(err.Error(), 200))
	}
	if int64(len(data)) > max {
		return tooLarge(max)
	}
	data = bytes.Trim(data, " \t\r\n") // JSON's whitespace only
	if len(data) == 0 {
		if allowEmpty {
			return nil
		}
		return badRequest("request body is empty: send a JSON object such as %s", example)
	}
	if data[0] != '{' {
		return badRequest("request body must be a JSON object such as %s", example)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return badRequest("%s", describeJSONError(err, example, fields))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("request body has data after the JSON object: send one object such as %s", example)
	}
	return nil
}

func describeJSONError(err error, example string, fields []string) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d (%s): send e.g. %s", syn.Offset, model.Clip(syn.Error(), 100), example)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fmt.Sprintf("request body must be a JSON object such as %s", example)
		}
		return fmt.Sprintf("field %q must be a %s, not a JSON %s: send e.g. %s", model.Clip(field, 40), typeName(typ), typ.Value, example)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("truncated JSON: send a complete object such as %s", example)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, err := strconv.Unquote(name); err == nil {
			name = unq
		}
		return fmt.Sprintf("unknown field %q: this request accepts %s", model.Clip(name, 40), strings.Join(fields, ", "))
	}
	return fmt.Sprintf("invalid JSON (%s): send e.g. %s", model.Clip(err.Error(), 100), example)
}

func typeName(e *json.UnmarshalTypeError) string {
	if e.Type == nil {
		return "value"
	}
	return e.Type.Kind().String()
}

func tooLarge(max int64) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
		Msg: fmt.Sprintf("request body is larger than %d bytes: send a smaller body", max)}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
