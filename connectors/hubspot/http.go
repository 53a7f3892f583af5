package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/httpx"
)

// Rate-limit headers HubSpot sends.
const (
	hdrMax            = "X-HubSpot-RateLimit-Max"
	hdrRemaining      = "X-HubSpot-RateLimit-Remaining"
	hdrInterval       = "X-HubSpot-RateLimit-Interval-Milliseconds"
	hdrDailyRemaining = "X-HubSpot-RateLimit-Daily-Remaining"
	hdrSecondlyRem    = "X-HubSpot-RateLimit-Secondly-Remaining"
)

const (
	// dailyLimitWait is how long a spent daily limit is waited out: HubSpot
	// resets it at midnight in the account's time zone, which is unknown
	// here, so the sync checks back hourly.
	dailyLimitWait = time.Hour
	// burstWindow is the window of the general (burst) limit, stated per 10
	// seconds: "API usage guidelines and limits"
	// (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines),
	// and the changelog "Increasing our API limits"
	// (https://developers.hubspot.com/changelog/increasing-our-api-limits):
	// "The burst limit will be increased from 150 requests per 10 seconds to
	// 190 requests per 10 seconds."
	burstWindow = 10 * time.Second
	// secondWindow is the window of the search limit ("Search the CRM",
	// https://developers.hubspot.com/docs/api-reference/search/guide: "five
	// requests per second per account") and of the secondly limit that
	// X-HubSpot-RateLimit-Secondly-Remaining reports.
	secondWindow = time.Second
	// maxProactivePause bounds a proactive slowdown.
	maxProactivePause = time.Minute
	// defaultLowWater is the Remaining that triggers a slowdown when the
	// response does not say the window's size.
	defaultLowWater = 10
)

type response struct {
	body   []byte
	header http.Header
}

// do performs one request and returns the body of a 2xx response, or a
// classified error. No error contains the token: it is only in a header,
// and anything HubSpot says is redacted.
func (c *Connector) do(ctx context.Context, method, rawURL string, payload []byte, objectType string, search bool) (response, error) {
	wait := c.waitTurn
	if search {
		wait = c.search.wait
	}
	token, err := c.cred.Token(ctx)
	if err != nil {
		return response{}, err
	}
	var attempt connectors.TokenAttempt
	for {
		// A request sent again after a refresh is paced like any other.
		if err := wait(ctx, objectType); err != nil {
			return response{}, err
		}
		var body io.Reader
		if payload != nil {
			body = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
		if err != nil {
			return response{}, &connectors.Error{Kind: connectors.Config, Message: "building the HubSpot request", Err: c.redacted(err)}
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("User-Agent", userAgent)

		resp, err := c.client.Do(req)
		if err != nil {
			return response{}, httpx.TransportError(ctx, "requesting "+objectType+" from HubSpot", c.redacted(err))
		}
		defer httpx.DrainClose(resp.Body, maxErrorBodyBytes)
		// An expired OAuth access token (category EXPIRED_AUTHENTICATION;
		// they live expires_in seconds, "OAuth" tokens,
		// https://developers.hubspot.com/docs/api/oauth/tokens) is
		// refreshed and the same request sent again; without another
		// token the 401 is reported.
		next, retry, err := c.cred.Answered(ctx, token, resp.StatusCode, &attempt)
		if err != nil {
			return response{}, err
		}
		if retry {
			httpx.DrainClose(resp.Body, maxErrorBodyBytes)
			token = next
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return response{}, c.statusError(resp, objectType, search)
		}
		return c.readResponse(ctx, resp, objectType)
	}
}

// readResponse reads a 2xx response.
func (c *Connector) readResponse(ctx context.Context, resp *http.Response, objectType string) (response, error) {
	c.observeLimits(resp.Header)
	if httpx.IsHTML(resp.Header) {
		return response{}, errHTML()
	}
	b, err := httpx.ReadBody(resp, c.maxBody)
	switch {
	case errors.Is(err, httpx.ErrTooLarge):
		// Retrying would fetch the same oversized page.
		return response{}, connectors.Errorf(connectors.Config,
			"HubSpot response exceeds %s; lower the page size or read fewer properties", httpx.SizeLimit(c.maxBody))
	case err != nil:
		return response{}, httpx.TransportError(ctx, "reading the "+objectType+" response", c.redacted(err))
	}
	return response{body: b, header: resp.Header}, nil
}

// waitTurn waits out a proactive slowdown, then the caller's Limiter: the
// pacing of every request but searches.
func (c *Connector) waitTurn(ctx context.Context, objectType string) error {
	c.mu.Lock()
	wait := time.Until(c.notBefore)
	c.mu.Unlock()
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return &connectors.Error{Kind: connectors.Retryable,
				Message: "waiting out HubSpot's rate limit before reading " + objectType + " interrupted", Err: ctx.Err()}
		case <-timer.C:
		}
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return &connectors.Error{Kind: connectors.Retryable,
				Message: "waiting for the rate limiter before reading " + objectType, Err: err}
		}
	}
	return nil
}

// observeLimits slows down before HubSpot has to say 429: when the
// remaining requests of the rolling window fall to a tenth of its size, the
// next request waits interval/(remaining+1), which spreads what is left of
// the window over it (a full interval once nothing is left).
func (c *Connector) observeLimits(h http.Header) {
	remaining, ok1 := headerInt(h, hdrRemaining)
	interval, ok2 := headerInt(h, hdrInterval)
	if !ok1 || !ok2 || interval <= 0 {
		return
	}
	low := int64(defaultLowWater)
	if m, ok := headerInt(h, hdrMax); ok && m > 0 {
		low = max(m/10, 1)
	}
	if remaining > low {
		return
	}
	pause := min(time.Duration(interval)*time.Millisecond/time.Duration(max(remaining, 0)+1), maxProactivePause)
	until := time.Now().Add(pause)
	c.mu.Lock()
	if until.After(c.notBefore) {
		c.notBefore = until
	}
	c.mu.Unlock()
}

func headerInt(h http.Header, name string) (int64, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// apiError is what the connector reads of a HubSpot error body.
type apiError struct {
	message       string
	category      string
	correlationID string
	policyName    string
	scopes        []string // scopes the body says are required
}

// parseAPIError reads a HubSpot error body, field by field so that one
// field of an unexpected type does not hide the others.
func parseAPIError(body []byte) apiError {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return apiError{}
	}
	str := func(raw json.RawMessage) string {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	e := apiError{
		message:       str(fields["message"]),
		category:      str(fields["category"]),
		correlationID: str(fields["correlationId"]),
		policyName:    str(fields["policyName"]),
	}
	var details []map[string]json.RawMessage
	_ = json.Unmarshal(fields["errors"], &details)
	for _, d := range details {
		var ctx map[string]json.RawMessage
		_ = json.Unmarshal(d["context"], &ctx)
		for _, key := range []string{"requiredGranularScopes", "requiredScopes"} {
			var scopes []string
			_ = json.Unmarshal(ctx[key], &scopes)
			for _, s := range scopes {
				if validName(s) && !slices.Contains(e.scopes, s) && len(e.scopes) < 10 {
					e.scopes = append(e.scopes, s)
				}
			}
		}
	}
	return e
}

// statusError classifies a non-2xx response to a search request or not.
func (c *Connector) statusError(resp *http.Response, objectType string, search bool) error {
	status := resp.StatusCode
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	ae := parseAPIError(body)
	said := c.quote(ae) // ": <message> (correlation id …)" or ""

	switch {
	case status == http.StatusUnauthorized:
		return connectors.Errorf(connectors.Auth, "HubSpot rejected the access token; reconnect the connection")
	case status == http.StatusForbidden:
		if ae.category == "MISSING_SCOPES" || len(ae.scopes) > 0 || strings.Contains(strings.ToLower(ae.message), "scope") {
			if len(ae.scopes) == 0 {
				return connectors.Errorf(connectors.Config,
					"the HubSpot access token lacks a scope needed to read %s; grant it to the app and reconnect%s", objectType, said)
			}
			return connectors.Errorf(connectors.Config,
				"the HubSpot access token lacks the scope needed to read %s (HubSpot requires %s); grant it to the app and reconnect",
				objectType, strings.Join(ae.scopes, " or "))
		}
		return connectors.Errorf(connectors.Auth, "HubSpot refused access to %s (HTTP 403); check the connection's permissions%s", objectType, said)
	case status == http.StatusNotFound:
		return connectors.Errorf(connectors.Config, "HubSpot does not know object type %q (HTTP 404)%s", objectType, said)
	case status == http.StatusTooManyRequests:
		e := connectors.Errorf(connectors.RateLimited, "HubSpot is rate limiting requests")
		if p := sanitize(ae.policyName, 64); p != "" {
			e.Message += " (" + p + ")"
		}
		e.RetryAfter = rateLimitDelay(resp.Header, ae, time.Now(), search)
		return e
	case status == http.StatusRequestTimeout || status == http.StatusLocked || status >= 500:
		e := connectors.Errorf(connectors.Retryable, "HubSpot returned HTTP %d for %s%s", status, objectType, said)
		if httpx.IsHTML(resp.Header) || bytes.HasPrefix(bytes.TrimSpace(body), []byte("<")) {
			e.Message += " (an HTML error page, likely from a proxy)"
		}
		return e
	case status >= 400:
		if said == "" {
			said = ": no reason given"
		}
		return connectors.Errorf(connectors.Config, "HubSpot rejected the request for %s (HTTP %d)%s", objectType, status, said)
	default:
		return connectors.Errorf(connectors.Config, "HubSpot returned unexpected HTTP %d for %s", status, objectType)
	}
}

// rateLimitDelay is how long to wait after a 429 to a search request or
// not. See the package documentation.
//
// HubSpot's documentation gives the limits' windows (per day and per 10
// seconds in "API usage guidelines and limits",
// https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines;
// search per second in "Search the CRM") but, in the pages consulted,
// neither a Retry-After on 429s, nor what a search 429 carries, nor the
// policyName values of a 429 body (DAILY, TEN_SECONDLY_ROLLING and SECONDLY
// are what HubSpot is seen to send). So when nothing in the response says
// how long to wait, the wait is the documented window of the limit that
// must have been hit.
func rateLimitDelay(h http.Header, ae apiError, now time.Time, search bool) time.Duration {
	if d := httpx.ParseRetryAfter(h.Get("Retry-After"), now); d > 0 {
		return d
	}
	if n, ok := headerInt(h, hdrDailyRemaining); (ok && n <= 0) || ae.policyName == "DAILY" {
		return dailyLimitWait
	}
	interval, hasInterval := headerInt(h, hdrInterval)
	hasInterval = hasInterval && interval > 0
	switch ae.policyName {
	case "TEN_SECONDLY_ROLLING":
		if hasInterval {
			return min(time.Duration(interval)*time.Millisecond, httpx.MaxRetryAfter)
		}
		return burstWindow
	case "SECONDLY":
		return secondWindow
	}
	if hasInterval {
		if n, ok := headerInt(h, hdrRemaining); !ok || n <= 0 {
			return min(time.Duration(interval)*time.Millisecond, httpx.MaxRetryAfter)
		}
	}
	if n, ok := headerInt(h, hdrSecondlyRem); ok && n <= 0 {
		return secondWindow
	}
	switch {
	case search:
		// Search responses carry no rate-limit headers: the limit hit is
		// the search limit, per second.
		return secondWindow
	case !hasRateHeaders(h):
		// Nothing says which limit: the general one's window.
		return burstWindow
	}
	return 0 // the headers say the window has room: another limit; back off
}

// hasRateHeaders reports whether a response carries any of HubSpot's
// rate-limit headers.
func hasRateHeaders(h http.Header) bool {
	for _, k := range []string{hdrMax, hdrRemaining, hdrInterval, hdrDailyRemaining, hdrSecondlyRem} {
		if h.Get(k) != "" {
			return true
		}
	}
	return false
}

// quote renders what HubSpot said for an error message: the message, with
// the token redacted, and the correlation id HubSpot support asks for.
func (c *Connector) quote(ae apiError) string {
	msg := sanitize(c.redact(ae.message), 300)
	id := sanitize(ae.correlationID, 64)
	switch {
	case msg != "" && id != "":
		return fmt.Sprintf(": %s (correlation id %s)", msg, id)
	case msg != "":
		return ": " + msg
	case id != "":
		return fmt.Sprintf(" (correlation id %s)", id)
	}
	return ""
}

// sanitize collapses whitespace and control characters and truncates s to
// n runes.
func sanitize(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == ' ' }), " ")
	return httpx.Truncate(s, n)
}

func (c *Connector) redact(s string) string {
	for _, t := range c.cred.Sent() {
		s = httpx.Redact(s, t)
	}
	return s
}

// redacted wraps err so that its message cannot reveal the token, should a
// transport ever quote a header.
func (c *Connector) redacted(err error) error {
	if err == nil {
		return err
	}
	msg := err.Error()
	if r := c.redact(msg); r != msg {
		return redactedError{msg: r, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }
