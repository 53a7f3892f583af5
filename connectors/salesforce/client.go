package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors"
	"github.com/syncloop/syncloop/connectors/internal/httpx"
)

// respInfo is what a successful response says besides its body.
type respInfo struct {
	date    time.Time     // the Date header; zero if absent or invalid
	sent    time.Time     // Config.Now just before the request was sent
	elapsed time.Duration // from sending the request to its response headers
}

// Errors the listing recovers from, wrapped in the classified error that
// says what to do if it cannot.
var (
	// errInvalidLocator marks a 400 INVALID_QUERY_LOCATOR: the query phase
	// queries again.
	errInvalidLocator = errors.New("query locator is invalid or expired")
	// errQueryTimeout marks a QUERY_TIMEOUT: the query phase splits the
	// range it asked for.
	errQueryTimeout = errors.New("query timed out")
	// errExceededIDLimit marks an EXCEEDED_ID_LIMIT: the deleted phase
	// splits its window.
	errExceededIDLimit = errors.New("too many deleted records in the window")
	// errInvalidField marks a 400 INVALID_FIELD: a query with the default
	// field list describes the object again.
	errInvalidField = errors.New("a selected field is not readable")
	// errNotFound marks a 404 NOT_FOUND: describing an SObject the org
	// does not have.
	errNotFound = errors.New("the requested resource does not exist")
)

// get performs a GET and returns the body of a 200 response, or a
// classified error. The request, body included, may take timeout. The
// token is only ever in the Authorization header, and provider messages
// are scrubbed of it, so no error contains it. A non-200 response comes
// back with its respInfo too.
func (c *Connector) get(ctx context.Context, target string, batchSize int, timeout time.Duration, doing string) ([]byte, respInfo, error) {
	var info respInfo
	if err := c.throttle(ctx); err != nil {
		return nil, info, httpx.TransportError(ctx, doing, err)
	}
	token, err := c.bearer.Token(ctx)
	if err != nil {
		return nil, info, err
	}
	var attempt connectors.TokenAttempt
	for {
		if c.limiter != nil {
			if err := c.limiter.Wait(ctx); err != nil {
				return nil, info, httpx.TransportError(ctx, doing, fmt.Errorf("waiting for the connection's rate limiter: %w", err))
			}
		}
		// The request's own deadline; a done ctx still reads as "interrupted".
		reqCtx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		httpReq, err := http.NewRequestWithContext(reqCtx, http.MethodGet, target, nil)
		if err != nil {
			return nil, info, &connectors.Error{Kind: connectors.Config, Message: "building the Salesforce request for " + doing, Err: err}
		}
		httpReq.Header.Set("Authorization", "Bearer "+token)
		httpReq.Header.Set("Accept", "application/json")
		httpReq.Header.Set("User-Agent", "syncloop-salesforce-connector")
		if batchSize > 0 {
			httpReq.Header.Set("Sforce-Query-Options", "batchSize="+strconv.Itoa(batchSize))
		}

		info.sent = c.now()
		t0 := time.Now()
		resp, err := c.client.Do(httpReq)
		info.elapsed = time.Since(t0)
		if err != nil {
			return nil, info, httpx.TransportError(ctx, doing, err)
		}
		defer httpx.DrainClose(resp.Body, maxErrorBodyBytes)
		c.recordUsage(resp.Header.Get("Sforce-Limit-Info"))
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			info.date = d.UTC()
		}
		// An expired session (INVALID_SESSION_ID: "Session expired or
		// invalid", the org's session timeout) is refreshed and the
		// same request sent again ("Errors", REST API Developer Guide,
		// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm:
		// 401 "The session ID or OAuth token used has expired or is
		// invalid"); without another token the 401 is reported.
		next, retry, err := c.bearer.Answered(ctx, token, resp.StatusCode, &attempt)
		if err != nil {
			return nil, info, err
		}
		if retry {
			httpx.DrainClose(resp.Body, maxErrorBodyBytes)
			token = next
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, info, c.statusError(resp, doing)
		}
		if httpx.IsHTML(resp.Header) {
			return nil, info, errHTML()
		}
		body, err := httpx.ReadBody(resp, c.maxBody)
		switch {
		case errors.Is(err, httpx.ErrTooLarge):
			// Retrying would fetch the same batch; fewer or smaller fields would not.
			return nil, info, connectors.Errorf(connectors.Config,
				"Salesforce response exceeds %s; select fewer or smaller fields (long text areas) for this object", httpx.SizeLimit(c.maxBody))
		case err != nil:
			return nil, info, httpx.TransportError(ctx, "reading the response to "+doing, err)
		}
		return body, info, nil
	}
}

// sfError is the first entry of a Salesforce error body.
type sfError struct {
	Code    string
	Message string
	Fields  []string
}

// parseSFError reads [{"message":…,"errorCode":…,"fields":[…]}], or the
// OAuth form {"error":…,"error_description":…}. Missing parts stay empty.
func parseSFError(b []byte) sfError {
	var list []struct {
		Message   string   `json:"message"`
		ErrorCode string   `json:"errorCode"`
		Fields    []string `json:"fields"`
	}
	if json.Unmarshal(b, &list) == nil && len(list) > 0 {
		return sfError{Code: list[0].ErrorCode, Message: list[0].Message, Fields: list[0].Fields}
	}
	var obj struct {
		Message     string `json:"message"`
		ErrorCode   string `json:"errorCode"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(b, &obj) == nil {
		if obj.ErrorCode != "" || obj.Message != "" {
			return sfError{Code: obj.ErrorCode, Message: obj.Message}
		}
		return sfError{Code: obj.Error, Message: obj.Description}
	}
	return sfError{}
}

var (
	errorCodeRE   = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)
	noSuchFieldRE = regexp.MustCompile(`No such column '([^']{1,200})'`)
)

// clean makes provider text safe and short for an error message: no token,
// one line, at most 300 characters.
func (c *Connector) clean(s string) string {
	for _, t := range c.bearer.Sent() {
		s = httpx.Redact(s, t)
	}
	return httpx.Truncate(strings.Join(strings.Fields(s), " "), 300)
}

// statusError classifies a non-200 response.
func (c *Connector) statusError(resp *http.Response, doing string) error {
	status := resp.StatusCode
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	e := parseSFError(b)
	if !errorCodeRE.MatchString(e.Code) {
		e.Code = ""
	}
	msg := c.clean(e.Message)
	detail := func() string { // "(CODE: message)" or "(HTTP 400)"
		switch {
		case e.Code != "" && msg != "":
			return fmt.Sprintf("(%s: %s)", e.Code, msg)
		case e.Code != "":
			return "(" + e.Code + ")"
		case msg != "":
			return fmt.Sprintf("(HTTP %d: %s)", status, msg)
		}
		return fmt.Sprintf("(HTTP %d)", status)
	}
	classified := func(kind connectors.Kind, format string, args ...any) *connectors.Error {
		return connectors.Errorf(kind, format, args...)
	}

	switch {
	case status == http.StatusUnauthorized:
		code := e.Code
		if code == "" {
			code = "HTTP 401"
		}
		return classified(connectors.Auth, "Salesforce rejected the access token (%s); reconnect the connection", code)

	case status == http.StatusForbidden && e.Code == "REQUEST_LIMIT_EXCEEDED",
		status == http.StatusTooManyRequests:
		ce := classified(connectors.RateLimited, "Salesforce is limiting requests %s while %s", detail(), doing)
		ce.RetryAfter = httpx.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if ce.RetryAfter == 0 {
			ce.RetryAfter = limitDelay(e.Message)
		}
		return ce

	case status == http.StatusForbidden:
		// Missing permissions (INSUFFICIENT_ACCESS, API_DISABLED_FOR_ORG…)
		// are fixed in Salesforce's setup, not by reconnecting: Config.
		return classified(connectors.Config,
			"Salesforce refused access while %s %s; check the connected user's permissions and API access", doing, detail())

	case status == http.StatusBadRequest:
		switch e.Code {
		case "INVALID_QUERY_LOCATOR":
			return &connectors.Error{Kind: connectors.Config, Message: "Salesforce query locator expired while " + doing, Err: errInvalidLocator}
		case "QUERY_TIMEOUT":
			// Retrying the same query would time out again: the query phase
			// splits its range (Err), and only what escapes is retried.
			return &connectors.Error{Kind: connectors.Retryable, Message: fmt.Sprintf("Salesforce timed out %s %s", doing, detail()), Err: errQueryTimeout}
		case "EXCEEDED_ID_LIMIT":
			// "If more than 600,000 IDs are found, EXCEEDED_ID_LIMIT is
			// returned. You can correct the error by choosing start and end
			// dates that are closer together." ("sObject Get Deleted",
			// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm)
			// The deleted phase does so; a window it cannot split further
			// leaves a full resync.
			return &connectors.Error{Kind: connectors.ResyncRequired,
				Message: fmt.Sprintf("Salesforce cannot list the deletions since the cursor %s; a full resync is needed", detail()), Err: errExceededIDLimit}
		case "INVALID_FIELD":
			field := ""
			if m := noSuchFieldRE.FindStringSubmatch(e.Message); m != nil {
				field = c.clean(m[1])
			} else if len(e.Fields) > 0 {
				field = c.clean(e.Fields[0])
			}
			if field != "" {
				return &connectors.Error{Kind: connectors.Config, Err: errInvalidField,
					Message: fmt.Sprintf("Salesforce has no field %q (INVALID_FIELD) while %s; fix the field list: %s", field, doing, msg)}
			}
			return &connectors.Error{Kind: connectors.Config, Err: errInvalidField,
				Message: fmt.Sprintf("Salesforce rejected a field while %s %s; fix the field list", doing, detail())}
		case "INVALID_TYPE":
			return classified(connectors.Config, "Salesforce does not offer this object to the connected user while %s %s", doing, detail())
		case "INVALID_REPLICATION_DATE":
			return classified(connectors.ResyncRequired,
				"Salesforce cannot list the deletions since the cursor %s; a full resync is needed", detail())
		}
		return classified(connectors.Config, "Salesforce rejected the request while %s %s", doing, detail())

	case status == http.StatusNotFound:
		ce := classified(connectors.Config,
			"Salesforce answered 404 while %s %s; check the instance URL and API version %s", doing, detail(), c.version)
		if e.Code == "NOT_FOUND" {
			ce.Err = errNotFound
		}
		return ce

	case status == http.StatusRequestTimeout || status >= 500:
		ce := classified(connectors.Retryable, "Salesforce returned HTTP %d while %s", status, doing)
		if httpx.IsHTML(resp.Header) {
			ce.Message += " (an HTML error page)"
		} else if e.Code != "" || msg != "" {
			ce.Message += " " + detail()
		}
		return ce

	case status >= 300 && status < 400:
		return classified(connectors.Config,
			"Salesforce redirected the request (HTTP %d) while %s; check the instance URL (use the org's My Domain URL)", status, doing)
	}
	return classified(connectors.Config, "Salesforce returned unexpected HTTP %d while %s %s", status, doing, detail())
}

// limitDelay is how long to wait after a REQUEST_LIMIT_EXCEEDED (or 429)
// without Retry-After. Salesforce has two request limits ("API Request
// Limits and Allocations",
// https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-api.html),
// both answered with REQUEST_LIMIT_EXCEEDED; the page names no Retry-After
// header (nor does any other Salesforce page read), so none is expected,
// and the message tells them apart:
//
//   - the total API request allocation of a rolling 24 hours, "TotalRequests
//     Limit exceeded.": "Calls are blocked until usage for the preceding 24
//     hours drops below the limit." (Salesforce Help, "System Overview: API
//     Usage"). Retrying within minutes is pointless: dailyLimitRetryAfter.
//   - concurrent long-running requests (20 seconds or longer; 25 in
//     production orgs and sandboxes, 5 in Developer Edition and trial
//     orgs), "ConcurrentRequests (Concurrent API Requests) Limit exceeded"
//     (Salesforce Help article 000389067): "Any new concurrent requests
//     aren't processed until there are fewer requests than the allowed
//     limit", which happens as soon as one of them ends. The docs give no
//     delay; concurrentLimitRetryAfter waits as long as a request must run
//     to count as long-running.
//
// The daily limit's message text is not in the docs read (it is what
// Salesforce is known to send), the concurrent one is from the Help
// article; any other REQUEST_LIMIT_EXCEEDED (or a 429, which the REST API
// pages read do not mention) waits defaultRetryAfter.
func limitDelay(message string) time.Duration {
	switch {
	case strings.Contains(message, "TotalRequests"):
		return dailyLimitRetryAfter
	case strings.Contains(message, "Concurrent"):
		return concurrentLimitRetryAfter
	}
	return defaultRetryAfter
}

var apiUsageRE = regexp.MustCompile(`(?:^|[\s,;])api-usage=([0-9]{1,12})/([0-9]{1,12})(?:$|[\s,;])`)

// recordUsage remembers the api-usage of a Sforce-Limit-Info header.
func (c *Connector) recordUsage(header string) {
	m := apiUsageRE.FindStringSubmatch(header)
	if m == nil {
		return
	}
	used, err1 := strconv.Atoi(m[1])
	limit, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil || limit <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.usage.Used, c.usage.Max, c.usage.At = used, limit, c.now()
}

// throttleDelay is the pause before a request at the given usage: none up
// to 80% of the limit, then growing linearly to maxThrottle at 100%.
func throttleDelay(used, limit int, maxThrottle time.Duration) time.Duration {
	if limit <= 0 || maxThrottle <= 0 || used < 0 {
		return 0
	}
	// (used/limit - 0.8) / 0.2, in integers up to the final division.
	excess := 5*int64(used) - 4*int64(limit)
	switch {
	case excess <= 0:
		return 0
	case excess >= int64(limit):
		return maxThrottle
	}
	return time.Duration(math.Round(float64(excess) / float64(limit) * float64(maxThrottle)))
}

// throttle pauses before a request when the last seen API usage is high,
// so that syncing leaves room for the org's other integrations.
func (c *Connector) throttle(ctx context.Context) error {
	c.mu.Lock()
	d := throttleDelay(c.usage.Used, c.usage.Max, c.maxThrottle)
	c.usage.Throttled += d
	c.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return c.sleep(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
