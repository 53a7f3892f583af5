package credentials

import (
	"errors"
	"net/url"
)

// checkInstanceURL accepts an instance_url from a token response only as
// an http(s) origin: it becomes the base of every request the connection
// sends its token to. http is accepted only from an http token endpoint
// (a test server on this machine), never to downgrade an https one.
func checkInstanceURL(raw, tokenURL string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", errors.New("not an http(s) origin")
	}
	if t, err := url.Parse(tokenURL); u.Scheme == "http" && (err != nil || t.Scheme != "http") {
		return "", errors.New("an http instance URL from an https token endpoint")
	}
	return u.Scheme + "://" + u.Host, nil
}
