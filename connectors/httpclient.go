package connectors

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// HTTPClient is the one HTTP client constructor for every connector (and
// the webhook notifier): a copy of base (nil: a new client with timeout)
// that never follows a redirect. A 3xx answer with a Location fails the
// request with a Config *Error (wrapped in the *url.Error client.Do
// returns), because following it would send the Authorization header —
// Go keeps it when only the port differs — or the payload to another
// address. The redirect target is never contacted.
func HTTPClient(base *http.Client, timeout time.Duration) *http.Client {
	c := &http.Client{Timeout: timeout}
	if base != nil {
		cp := *base
		c = &cp
	}
	c.CheckRedirect = refuseRedirect
	return c
}

func refuseRedirect(req *http.Request, via []*http.Request) error {
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	from := "the server"
	if len(via) > 0 {
		from = origin(via[len(via)-1].URL)
	}
	return &Error{Kind: Config, Message: fmt.Sprintf(
		"%s redirected the request (HTTP %d) to %s; redirects are never followed, so credentials cannot leak to another address: set the URL to the address that serves the API itself (https, final host and port)",
		from, status, origin(req.URL))}
}

// origin is scheme://host of u: no path or query, which might carry
// something sensitive.
func origin(u *url.URL) string {
	if u == nil {
		return "an unknown address"
	}
	return u.Scheme + "://" + u.Host
}
