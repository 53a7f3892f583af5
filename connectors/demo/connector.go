// Package demo is the connector that reads the demo CRM: the in-memory
// provider of package democrm, whose HTTP API package demoapi describes.
package demo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/demo/demoapi"
	"github.com/syncloop/syncloop/connectors/internal/httpx"
)

// ObjectTypes are the object types the demo provider has.
func ObjectTypes() []string { return demoapi.ObjectTypes() }

const (
	// maxBodyBytes bounds a response body: a page of 1000 demo records is
	// far smaller, so anything bigger is a broken provider, not data.
	maxBodyBytes = 64 << 20
	// maxErrorBodyBytes bounds how much of an error response is read.
	maxErrorBodyBytes = 4 << 10
	defaultTimeout    = 30 * time.Second
)

// Connector reads the demo CRM's API. It implements connectors.Connector.
type Connector struct {
	base    *url.URL
	baseErr error // a bad base URL is reported by FetchPage, as a Config error
	token   string
	client  *http.Client
	maxBody int64 // maxBodyBytes; lowered by tests
	// fields are the field lists configured per object type (none: every
	// field).
	fields map[string][]string
}

var (
	_ connectors.Connector = (*Connector)(nil)
	_ connectors.Catalogue = (*Connector)(nil)
)

// WithFields makes the connector read only fields of objectType (names
// from demoapi.Fields; id and modified_at are always read). It returns c.
func (c *Connector) WithFields(objectType string, fields []string) *Connector {
	if c.fields == nil {
		c.fields = map[string][]string{}
	}
	c.fields[objectType] = append([]string(nil), fields...)
	return c
}

// ObjectTypes implements connectors.Catalogue: the demo CRM's six types,
// each listed incrementally (modified_since).
func (c *Connector) ObjectTypes(context.Context) ([]connectors.ObjectType, error) {
	var out []connectors.ObjectType
	for _, t := range demoapi.ObjectTypes() {
		out = append(out, connectors.ObjectType{Name: t, Incremental: true})
	}
	return out, nil
}

// Fields implements connectors.Catalogue from the demo API's contract.
func (c *Connector) Fields(_ context.Context, objectType string) ([]connectors.Field, error) {
	list := demoapi.Fields(objectType)
	if list == nil {
		return nil, connectors.Errorf(connectors.Config, "provider demo has no object type %q: use one of %s", objectType, strings.Join(demoapi.ObjectTypes(), ", "))
	}
	out := make([]connectors.Field, len(list))
	for i, f := range list {
		out[i] = connectors.Field{Name: f.Name, Type: f.Type, Kind: connectors.FieldKind(f.Type), Default: true}
	}
	return out, nil
}

// NewConnector returns a connector for the demo server at baseURL (e.g.
// "http://localhost:8081"), authenticating with token. A nil client means a
// default client with a 30 s timeout. Redirects are never followed (a copy
// of the client is used).
func NewConnector(baseURL, token string, client *http.Client) *Connector {
	client = connectors.HTTPClient(client, defaultTimeout)
	c := &Connector{token: token, client: client, maxBody: maxBodyBytes}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	switch {
	case err != nil:
		c.baseErr = errors.New("invalid demo base URL")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		c.baseErr = fmt.Errorf("demo base URL %q must be an absolute http(s) URL", u.Redacted())
	default:
		c.base = u
	}
	return c
}

// pageToken is the connector's own page token. Besides the server's keyset
// token it carries what the Cursor of later pages depends on, since each
// FetchPage call is independent (and may run on another worker).
type pageToken struct {
	ObjectType string `json:"t"`
	// Full marks a full listing (no Since). A token must not switch modes:
	// resuming a full listing with a Since would silently skip the
	// unchanged records not yet listed.
	Full bool   `json:"f,omitempty"`
	Next string `json:"n"` // the server's keyset token
	// Start is the server_time of a full listing's first page.
	Start time.Time `json:"s,omitzero"`
	// MaxSeen is the highest modified_at seen so far in an incremental
	// listing; zero if none.
	MaxSeen time.Time `json:"m,omitzero"`
}

func (t pageToken) encode() string {
	b, _ := json.Marshal(t) // strings, a bool and times: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string, req connectors.PageRequest) (pageToken, error) {
	bad := func(why string) (pageToken, error) {
		return pageToken{}, connectors.Errorf(connectors.Config, "malformed page token for %s: %s", req.ObjectType, why)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bad("not base64")
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil {
		return bad("not a demo page token")
	}
	full := req.Since.IsZero()
	switch {
	case t.Next == "":
		return bad("no position")
	case t.ObjectType != req.ObjectType:
		return bad(fmt.Sprintf("it belongs to a listing of %q", t.ObjectType))
	case t.Full != full && full:
		return bad("it belongs to an incremental listing but Since is zero")
	case t.Full != full:
		return bad("it belongs to a full listing but Since is set")
	case t.Full && t.Start.IsZero():
		return bad("no listing start time")
	}
	return t, nil
}

// FetchPage returns one page of req.ObjectType. See connectors.Page for the
// Cursor semantics: for a full listing it is the server_time of the first
// page; for an incremental one the highest modified_at seen so far.
func (c *Connector) FetchPage(ctx context.Context, req connectors.PageRequest) (connectors.Page, error) {
	if c.baseErr != nil {
		return connectors.Page{}, &connectors.Error{Kind: connectors.Config, Message: "demo connection misconfigured", Err: c.baseErr}
	}
	if req.ObjectType == "" {
		return connectors.Page{}, connectors.Errorf(connectors.Config, "no object type given")
	}
	full := req.Since.IsZero()
	var prev pageToken
	if req.PageToken != "" {
		var err error
		if prev, err = decodePageToken(req.PageToken, req); err != nil {
			return connectors.Page{}, err
		}
	}

	body, err := c.get(ctx, c.listURL(req, prev.Next), req.ObjectType)
	if err != nil {
		return connectors.Page{}, err
	}
	dp, err := decodePage(body)
	if err != nil {
		return connectors.Page{}, err
	}
	// A provider that hands back the position it was given would make the
	// sync loop forever.
	if dp.next != "" && dp.next == prev.Next {
		return connectors.Page{}, connectors.Errorf(connectors.Retryable, "demo provider pagination did not advance for %s", req.ObjectType)
	}

	next := pageToken{ObjectType: req.ObjectType, Full: full, Next: dp.next}
	page := connectors.Page{Records: dp.records}
	if full {
		next.Start = prev.Start
		if next.Start.IsZero() { // first page of the listing
			if dp.serverTime.IsZero() {
				return connectors.Page{}, malformed(`"server_time" is missing`)
			}
			next.Start = dp.serverTime
		}
		page.Cursor = next.Start
	} else {
		next.MaxSeen = prev.MaxSeen
		for _, r := range dp.records {
			if r.ModifiedAt.After(next.MaxSeen) {
				next.MaxSeen = r.ModifiedAt
			}
		}
		page.Cursor = next.MaxSeen
	}
	if dp.next != "" {
		page.NextPageToken = next.encode()
	}
	return page, nil
}

func (c *Connector) listURL(req connectors.PageRequest, after string) string {
	q := url.Values{}
	if !req.Since.IsZero() {
		q.Set(demoapi.ParamModifiedSince, req.Since.UTC().Format(time.RFC3339Nano))
	}
	if after != "" {
		q.Set(demoapi.ParamAfter, after)
	}
	if fields := c.fields[req.ObjectType]; len(fields) > 0 {
		q.Set(demoapi.ParamFields, strings.Join(fields, ","))
	}
	if req.PageSize > 0 {
		q.Set(demoapi.ParamLimit, strconv.Itoa(min(req.PageSize, demoapi.MaxLimit)))
	}
	u := *c.base
	u.Path = c.base.Path + demoapi.APIPrefix + req.ObjectType
	u.RawPath = c.base.EscapedPath() + demoapi.APIPrefix + url.PathEscape(req.ObjectType)
	u.RawQuery = q.Encode()
	return u.String()
}

// get performs the request and returns the body of a 200 response, or a
// classified error. No error ever contains the token: it is only in a header.
func (c *Connector) get(ctx context.Context, rawURL, objectType string) ([]byte, error) {
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &connectors.Error{Kind: connectors.Config, Message: "building demo request", Err: err}
	}
	if c.token != "" {
		httpReq.Header.Set("Authorization", "Bearer "+c.token)
	}
	httpReq.Header.Set("Accept", "application/json")
	httpReq.Header.Set("User-Agent", "syncloop-demo-connector")

	resp, err := c.client.Do(httpReq)
	if err != nil {
		return nil, httpx.TransportError(ctx, "requesting "+objectType, err)
	}
	defer httpx.DrainClose(resp.Body, maxErrorBodyBytes)

	if resp.StatusCode != http.StatusOK {
		return nil, c.statusError(resp, objectType)
	}
	if httpx.IsHTML(resp.Header) {
		return nil, errHTML()
	}
	body, err := httpx.ReadBody(resp, c.maxBody)
	switch {
	case errors.Is(err, httpx.ErrTooLarge):
		// Retrying would fetch the same oversized page; a smaller page size may help.
		return nil, connectors.Errorf(connectors.Config, "demo provider response exceeds %s; lower the page size", httpx.SizeLimit(c.maxBody))
	case err != nil:
		return nil, httpx.TransportError(ctx, "reading the "+objectType+" response", err)
	}
	return body, nil
}

// statusError classifies a non-200 response.
func (c *Connector) statusError(resp *http.Response, objectType string) error {
	status := resp.StatusCode
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return connectors.Errorf(connectors.Auth, "demo provider rejected the credentials; check the connection's token")
	case status == http.StatusNotFound:
		return connectors.Errorf(connectors.Config, "unknown object type %q", objectType)
	case status == http.StatusBadRequest:
		msg := c.errorMessage(resp.Body)
		if msg == "" {
			msg = "no reason given"
		}
		return connectors.Errorf(connectors.Config, "demo provider rejected the request for %s: %s", objectType, msg)
	case status == http.StatusTooManyRequests:
		e := connectors.Errorf(connectors.RateLimited, "demo provider is rate limiting requests")
		e.RetryAfter = httpx.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return e
	case status == http.StatusRequestTimeout || status >= 500:
		e := connectors.Errorf(connectors.Retryable, "demo provider returned HTTP %d for %s", status, objectType)
		if httpx.IsHTML(resp.Header) {
			e.Message += " (an HTML error page, likely from a proxy)"
		}
		return e
	default:
		return connectors.Errorf(connectors.Config, "demo provider returned unexpected HTTP %d for %s", status, objectType)
	}
}

// errorMessage extracts {"error": "..."} from an error body, or "". The
// text is the provider's, so the token is scrubbed in case it is echoed.
func (c *Connector) errorMessage(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, maxErrorBodyBytes))
	var e demoapi.ErrorBody
	if json.Unmarshal(b, &e) != nil {
		return ""
	}
	return httpx.Truncate(httpx.Redact(e.Error, c.token), 300)
}
