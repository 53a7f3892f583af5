package hstest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// The token endpoints, served once EnableOAuth was called.
//
// Sources, cited below by title:
//   - "Refresh OAuth 2.0 access token" (last updated October 1, 2021),
//     https://legacydocs.hubspot.com/docs/methods/oauth2/refresh-access-token,
//     and its successor "Refresh an access token",
//     https://developers.hubspot.com/docs/api-reference/auth-oauth-v1/tokens/post-oauth-v1-token;
//   - "Manage OAuth access tokens using the v3 APIs",
//     https://developers.hubspot.com/docs/api-reference/auth-oauth-v3/guide;
//   - the changelog "New OAuth v3 API Endpoints and Standardized Error
//     Responses",
//     https://developers.hubspot.com/changelog/new-oauth-v3-api-endpoints-and-standardized-error-responses;
//   - the changelog "Upcoming: Expiration of OAuth access tokens is
//     changing",
//     https://developers.hubspot.com/changelog/upcoming-expiration-of-oauth-access-tokens-is-changing;
//   - "Managing tokens", https://developers.hubspot.com/docs-beta/oauth/tokens;
//   - "Handling errors", https://developers.hubspot.com/docs/api/error-handling.
const (
	// TokenPath is the v1 token endpoint.
	TokenPath = "/oauth/v1/token"
	// TokenPathV3 is the v3 one ("POST /v3/token: Handles authorization code
	// and refresh token requests", changelog): the same answers, but "Each
	// of the v3 endpoints require that parameters are included in the
	// request body" (v3 guide), so it ignores the query string.
	TokenPathV3 = "/oauth/v3/token"
	// GrantRefreshToken is the only grant type the fake serves: "must be
	// refresh_token when refreshing an access token" ("Refresh OAuth 2.0
	// access token"). The authorization code grant needs a user's browser.
	GrantRefreshToken = "refresh_token"
	// defaultTokenTTL: "After this change, tokens will expire 30 minutes
	// after being generated" (changelog, access token expiration), which
	// the v3 guide still gives ("expires after 30 minutes").
	defaultTokenTTL = 30 * time.Minute
	maxTokenForm    = 1 << 16 // the fake's own bound on a token request
)

// OAuthConfig is the public app whose tokens the server issues.
type OAuthConfig struct {
	// ClientID and ClientSecret are the app's credentials. A request with
	// another client id gets 400 BAD_CLIENT_ID, with another secret 400
	// BAD_CLIENT_SECRET.
	ClientID, ClientSecret string
	// RefreshToken is the refresh token of the app's install in the
	// account; empty: none, every refresh fails with BAD_REFRESH_TOKEN.
	RefreshToken string
	// TokenTTL is an access token's lifetime, from when it is issued, on
	// the server's clock (Options.Now): 30 minutes if 0 (see above). The
	// response's expires_in gives it in seconds.
	TokenTTL time.Duration
}

// TokenCallCount counts token endpoint requests of one grant type.
type TokenCallCount struct {
	OK     int // answered 200 with an access token
	Failed int // answered with an error
}

// oauthState is the token endpoints' state; the server's lock guards it.
type oauthState struct {
	cfg     OAuthConfig
	refresh string // the valid refresh token; "" once revoked
	access  map[string]*accessToken
	issued  int
	calls   map[string]TokenCallCount
}

type accessToken struct {
	seq     int
	expires time.Time
}

// EnableOAuth turns on the token endpoints (POST /oauth/v1/token and POST
// /oauth/v3/token) with cfg, replacing any earlier configuration and
// forgetting every token issued under it. From then on an API request is
// accepted with an access token the endpoints issued that has not expired
// (401 EXPIRED_AUTHENTICATION once it has), or with the static
// Options.Token if that is not empty, standing for a private app's token,
// which does not expire; an empty Options.Token no longer accepts every
// request. Token requests are logged (RequestLog.TokenRequest) but are not
// API requests: no rate limit applies to them.
func (s *Server) EnableOAuth(cfg OAuthConfig) {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = defaultTokenTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth = &oauthState{
		cfg:     cfg,
		refresh: cfg.RefreshToken,
		access:  map[string]*accessToken{},
		calls:   map[string]TokenCallCount{},
	}
}

// RevokeRefreshToken deletes the refresh token, as DELETE
// /oauth/v1/refresh-tokens/{token} does: "This will only delete the
// refresh token. Access tokens generated with the refresh token will not be
// affected." ("Managing tokens") Later refreshes fail with
// BAD_REFRESH_TOKEN.
func (s *Server) RevokeRefreshToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth != nil {
		s.oauth.refresh = ""
	}
}

// ExpireAccessTokens makes every access token issued so far expire now:
// later API requests with them get 401 EXPIRED_AUTHENTICATION.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth == nil {
		return
	}
	now := s.stamps.Clock()
	for _, at := range s.oauth.access {
		if at.expires.After(now) {
			at.expires = now
		}
	}
}

// TokenCalls returns the token endpoint requests served so far by
// grant_type as sent ("" if none was), successful and failed. Requests an
// injected Fault answered are not counted.
func (s *Server) TokenCalls() map[string]TokenCallCount {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth == nil {
		return map[string]TokenCallCount{}
	}
	return maps.Clone(s.oauth.calls)
}

func (s *Server) oauthEnabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oauth != nil
}

// authResult is the outcome of authenticating an API request.
type authResult struct {
	ok      bool
	seq     int       // the issued access token presented; 0 if none
	expired time.Time // when the presented token expired; zero if it has not
}

// authorize checks an API request's bearer token.
func (s *Server) authorize(r *http.Request) authResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.oauth
	if st == nil {
		return authResult{ok: fake.Authorized(r, s.token, "Bearer")}
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" {
		return authResult{}
	}
	if s.token != "" && equal(tok, s.token) {
		return authResult{ok: true}
	}
	at := st.access[tok]
	if at == nil {
		return authResult{}
	}
	if now := s.stamps.Clock(); !now.Before(at.expires) {
		return authResult{seq: at.seq, expired: at.expires}
	}
	return authResult{ok: true, seq: at.seq}
}

// expiredAuthentication answers an API request made with an expired token.
// HubSpot's documentation gives 401 for invalid authentication and the
// error body's shape (status, message, correlationId, category: "Handling
// errors") but not this error's category or wording; these are what
// HubSpot is reported to send, e.g. {"status":"error","message":"The OAuth
// token used to make this call expired 75 second(s) ago.",
// "correlationId":"…","category":"EXPIRED_AUTHENTICATION","context":
// {"expire time":["2022-06-21T10:37:52.040Z"]}}. HubSpot also words longer
// delays in minutes, hours or days (e.g. "5 minute(s)"), at thresholds no
// source gives; the fake always counts seconds. Error messages are for
// people ("HubSpot error responses are intended to be human-readable"), so
// a client goes by the category.
func (o *responder) expiredAuthentication(expired, now time.Time) {
	o.w.Header().Set("WWW-Authenticate", `Bearer realm="hubspot"`) // as for other 401s
	ago := int64(now.Sub(expired) / time.Second)
	o.errorWith(http.StatusUnauthorized, "EXPIRED_AUTHENTICATION",
		fmt.Sprintf("The OAuth token used to make this call expired %d second(s) ago.", ago),
		map[string]any{"context": map[string][]string{"expire time": {formatTime(expired)}}})
}

// tokenError is a token endpoint error. Since the OAuth v3 changelog,
// error responses "now include the standard error and error_description
// fields" beside the older status and message, in "both the v1 and v3
// OAuth API endpoints", as in its example: {"error": "invalid_grant",
// "error_description": "refresh token is invalid, expired or revoked",
// "status": "BAD_REFRESH_TOKEN", "message": "refresh token is invalid,
// expired or revoked"}. The pages read give no HTTP status for them; the
// fake sends 400, as HubSpot is reported to.
type tokenError struct {
	status, oauthCode, msg string
}

var (
	errBadRefresh = &tokenError{"BAD_REFRESH_TOKEN", "invalid_grant", "refresh token is invalid, expired or revoked"}
	// Reported, not documented: {"status":"BAD_CLIENT_ID","message":"missing
	// or unknown client id","error":"invalid_request",…}, checked before
	// the grant type.
	errBadClientID = &tokenError{"BAD_CLIENT_ID", "invalid_request", "missing or unknown client id"}
	// Not documented: BAD_GRANT_TYPE is the status HubSpot is reported to
	// send for an unsupported grant type; the error code is RFC 6749's.
	errGrantType = &tokenError{"BAD_GRANT_TYPE", "unsupported_grant_type", "unsupported grant type"}
	// Not documented at all: a wrong client secret. The fake says
	// BAD_CLIENT_SECRET and RFC 6749's invalid_client.
	errBadSecret = &tokenError{"BAD_CLIENT_SECRET", "invalid_client", "missing or invalid client secret"}
)

func (o *responder) tokenError(e *tokenError) {
	body, _ := json.Marshal(map[string]string{
		"error": e.oauthCode, "error_description": e.msg, "status": e.status, "message": e.msg,
	})
	o.errorCode = e.status
	o.send(http.StatusBadRequest, "application/json;charset=utf-8", body)
}

// tokenResponse is the refresh response: {"token_type": "bearer",
// "refresh_token", "access_token", "expires_in"} ("Refresh an access
// token"). The refresh token is the one sent: the docs have a client
// "store the refresh token you get when initiating your OAuth integration
// and use it to generate a new access token", and say nothing of rotation.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
}

// tokenHandler serves a token endpoint; v3 reads the body only.
func (s *Server) tokenHandler(v3 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.oauthEnabled() {
			s.notFound(w, r) // as before EnableOAuth: not logged
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxTokenForm)
		formErr := r.ParseForm()
		form := r.Form // body first, then the query string (v1 took either)
		if v3 {
			form = r.PostForm
		}
		// Nothing of the form but the grant type is logged: it holds
		// secrets. So is the query string, which v1 clients may use.
		entry := &RequestLog{Kind: KindToken, Method: r.Method, Path: r.URL.Path, TokenRequest: true,
			GrantType: form.Get("grant_type"), At: s.stamps.Clock()}
		fault := s.log.Add(entry, &entry.Seq)
		out := s.respond(w, fault, s.serverTime())
		record := func() {
			s.log.Update(func() { entry.Status, entry.ErrorCode = out.status, out.errorCode })
		}
		out.onSend = record
		switch {
		case !out.fault.Wait(r.Context()):
			out.status = fake.StatusClientClosed
			record()
		case out.fault.Injected():
			out.injected()
		default:
			s.serveToken(out, form, formErr != nil)
		}
	}
}

// serveToken answers a token request. Its checks follow the parameters
// "Refresh OAuth 2.0 access token" requires (grant_type, client_id,
// client_secret, refresh_token: redirect_uri, which an older version of the
// page also required, is not needed and ignored), in the order HubSpot is
// reported to check them: the client id first.
func (s *Server) serveToken(out *responder, form url.Values, badForm bool) {
	s.mu.Lock()
	st := s.oauth
	if st == nil { // disabled since the handler looked
		s.mu.Unlock()
		out.error(http.StatusNotFound, "RESOURCE_NOT_FOUND", "no such endpoint")
		return
	}
	grant := form.Get("grant_type")
	var err *tokenError
	switch {
	case badForm:
		err = &tokenError{"BAD_REQUEST", "invalid_request", "the request body could not be read"}
	case !equal(form.Get("client_id"), st.cfg.ClientID):
		err = errBadClientID
	case grant != GrantRefreshToken:
		err = errGrantType
	case !equal(form.Get("client_secret"), st.cfg.ClientSecret):
		err = errBadSecret
	case st.refresh == "" || !equal(form.Get("refresh_token"), st.refresh):
		err = errBadRefresh
	}
	n := st.calls[grant]
	if err != nil {
		n.Failed++
		st.calls[grant] = n
		s.mu.Unlock()
		out.tokenError(err)
		return
	}
	n.OK++
	st.calls[grant] = n
	st.issued++
	tok := newAccessToken()
	st.access[tok] = &accessToken{seq: st.issued, expires: s.stamps.Clock().Add(st.cfg.TokenTTL)}
	resp := tokenResponse{TokenType: "bearer", RefreshToken: st.refresh, AccessToken: tok,
		ExpiresIn: int64(st.cfg.TokenTTL / time.Second)}
	s.mu.Unlock()
	body, _ := json.Marshal(resp) // strings and a number: cannot fail
	out.send(http.StatusOK, "application/json;charset=utf-8", body)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// newAccessToken returns a random token shaped like HubSpot's (which "will
// fluctuate in size", up to 300 characters: "Refresh an access token").
func newAccessToken() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "C" + base64.RawURLEncoding.EncodeToString(b)
}
