package credentials

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/oauth2"
)

// What a token endpoint says when it refuses is decoded from RFC 6749's
// error body (Salesforce), HubSpot's status/message body, or nothing: the
// reason is one short line, never a secret of the connection.
func FuzzProviderReason(f *testing.F) {
	f.Add(400, []byte(`{"error":"invalid_grant","error_description":"expired access/refresh token"}`))
	f.Add(400, []byte(`{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token","correlationId":"x"}`))
	f.Add(401, []byte(`{"error":"invalid_client","error_description":"invalid client credentials r3fresh-T0ken-value"}`))
	f.Add(500, []byte(`<html>oops</html>`))
	f.Add(429, []byte(``))
	s := &Source{name: "c", secret: Secret{ClientSecret: "cl1ent-S3cret", RefreshToken: "r3fresh-T0ken-value", AccessToken: "acc3ss-T0ken"}}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		re := &oauth2.RetrieveError{Response: &http.Response{StatusCode: status}, Body: body}
		got := s.clean(providerReason(re))
		if got == "" || strings.Contains(got, "\n") || utf8.RuneCountInString(got) > 301 {
			t.Fatalf("reason %q: want one non-empty line of at most 300 characters", got)
		}
		for _, secret := range []string{s.secret.ClientSecret, s.secret.RefreshToken, s.secret.AccessToken} {
			if strings.Contains(got, secret) {
				t.Fatalf("reason %q contains a secret", got)
			}
		}
	})
}

func TestProviderReason(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"error":"invalid_grant","error_description":"expired access/refresh token"}`, "invalid_grant: expired access/refresh token"},
		{400, `{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token"}`, "BAD_REFRESH_TOKEN: missing or unknown refresh token"},
		{502, `gateway`, "HTTP 502"},
	} {
		re := &oauth2.RetrieveError{Response: &http.Response{StatusCode: c.status}, Body: []byte(c.body)}
		if got := providerReason(re); got != c.want {
			t.Errorf("providerReason(%d %s) = %q; want %q", c.status, c.body, got, c.want)
		}
	}
}
