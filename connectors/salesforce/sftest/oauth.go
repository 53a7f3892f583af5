package sftest

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/syncloop/syncloop/connectors/internal/fake"
)

// The token endpoint and its grant types (RequestLog.GrantType and the keys
// of TokenCalls).
//
// Sources, cited below by title:
//   - "OAuth 2.0 Refresh Token Flow for Renewed Sessions",
//     https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_refresh_token_flow.htm&type=5
//     (and its predecessor in the REST API guide, "How Does the OAuth
//     Refresh Token Fit Into the Authentication Flow?",
//     https://developer.salesforce.com/docs/atlas.en-us.218.0.api_rest.meta/api_rest/intro_understanding_refresh_token_oauth.htm);
//   - "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration",
//     https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm&type=5;
//   - "OAuth 2.0 Authorization Errors",
//     https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_flow_errors.htm&type=5;
//   - "Revoking OAuth Tokens" (Mobile SDK guide),
//     https://developer.salesforce.com/docs/atlas.en-us.mobile_sdk.meta/mobile_sdk/oauth_revoking_tokens.htm;
//   - "Session Timeout Issues" (Salesforce Help knowledge article 000383251),
//     https://help.salesforce.com/s/articleView?id=000383251&type=1.
const (
	// TokenPath is the token endpoint, served once EnableOAuth was called.
	TokenPath = "/services/oauth2/token"
	// GrantRefreshToken is the refresh token flow's grant_type.
	GrantRefreshToken = "refresh_token"
	// GrantJWTBearer is the JWT bearer flow's grant_type.
	GrantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

const (
	// Audiences the JWT bearer flow page lists for aud: "https://login.salesforce.com,
	// https://test.salesforce.com, or https://site.force.com/customers if
	// implementing for an Experience Cloud site".
	audienceLogin = "https://login.salesforce.com"
	audienceTest  = "https://test.salesforce.com"
	// defaultJWTLifetime: exp "must be the expiration time of the assertion
	// within 3 minutes, expressed as the number of seconds from
	// 1970-01-01T0:0:0Z measured in UTC" (JWT bearer flow page).
	defaultJWTLifetime = 3 * time.Minute
	// maxTokenForm bounds a token request's form: the fake's own limit.
	maxTokenForm = 1 << 16
	// fakeOrgID and fakeUserID make the identity URL ("id"), which has the
	// form https://login.salesforce.com/id/orgID/userID.
	fakeOrgID  = "00DSy0000000001EAA"
	fakeUserID = "005Sy0000000001AAA"
	// scopes granted, space-separated as in the docs' examples; the docs
	// leave the value to the connected app's settings.
	refreshScope = "refresh_token api"
	jwtScope     = "api"
)

// OAuthConfig is the connected app (or external client app) that the token
// endpoint serves, and the session policy of the tokens it issues.
type OAuthConfig struct {
	// ClientID is the consumer key. Requests naming another one get 400
	// invalid_client_id "client identifier invalid"; a JWT's iss is the
	// client id too.
	ClientID string
	// ClientSecret is the consumer secret. If empty, the refresh token flow
	// requires none, as when the app's "Require Secret for Refresh Token
	// Flow" setting is off ("client_secret … Required unless the Require
	// Secret for Web Server Flow setting is not enabled", refresh token
	// flow); otherwise a missing or wrong one gets 400 invalid_client
	// "invalid client credentials".
	ClientSecret string
	// RefreshToken is the one valid refresh token issued to the app (an
	// earlier web server flow); empty: none, every refresh fails.
	RefreshToken string
	// RotateRefreshToken turns on refresh token rotation: "With this setting
	// enabled, the connected app issues a new refresh token along with the
	// access token each time the flow is invoked. The previous refresh token
	// is automatically invalidated." And: "If someone tries to use a refresh
	// token that's been rotated out, Salesforce invalidates the current
	// refresh token and any associated access tokens." (refresh token flow
	// page, which offers the setting for connected apps and external client
	// apps alike). Without it the response carries no refresh_token, as in
	// the page's example.
	RotateRefreshToken bool
	// JWTPublicKey is the public key of the certificate uploaded to the app
	// ("Use digital signatures"); nil: no certificate, and every JWT bearer
	// request fails as an invalid assertion.
	JWTPublicKey *rsa.PublicKey
	// JWTSubject is the username of the one user who has approved the app
	// (or is pre-authorized). A JWT for anyone else gets invalid_grant
	// "user hasn't approved this consumer".
	JWTSubject string
	// JWTAudiences are the aud values accepted. Nil: the two the JWT bearer
	// flow page lists for orgs (https://login.salesforce.com and
	// https://test.salesforce.com) and the server's own base URL (InstanceURL,
	// or the origin the request was sent to), which stands for the org's
	// login URL in tests (see credentials.SalesforceAudience). Empty but
	// not nil: none. A trailing slash is ignored on both sides; the docs do
	// not say whether Salesforce ignores it.
	JWTAudiences []string
	// JWTMaxLifetime is how far in the future a JWT's exp may be: 3 minutes
	// if 0 (the JWT bearer flow page), no bound if negative. exp is compared
	// with the server's clock (Options.Now).
	JWTMaxLifetime time.Duration
	// TokenRequests, if positive, is how many authenticated API requests an
	// issued access token is accepted for; the next one gets 401
	// INVALID_SESSION_ID and the token stays dead. A test device: Salesforce
	// has no such limit.
	TokenRequests int
	// TokenTTL, if positive, is the session timeout: "The connected app's
	// session timeout value determines when an access token is no longer
	// valid" (refresh token flow page). Salesforce's timeout is one of
	// inactivity, and "a current active session is not updated until
	// halfway through the session's timeout period" ("Session Timeout
	// Issues"): a token unused for TokenTTL expires, and a request in the
	// second half of the period starts it afresh. Measured on the server's
	// clock. Zero: no timeout.
	TokenTTL time.Duration
	// InstanceURL is the instance_url of token responses (and a default
	// JWT audience); empty: the origin the token request was sent to
	// (http://<Host>, or https:// over TLS).
	InstanceURL string
}

// TokenCallCount counts token endpoint requests of one grant type.
type TokenCallCount struct {
	OK     int // answered 200 with an access token
	Failed int // answered with an OAuth error
}

// oauthState is the token endpoint's state. The server's lock guards it.
type oauthState struct {
	cfg     OAuthConfig
	refresh string          // the valid refresh token; "" if none
	retired map[string]bool // refresh tokens rotated out
	access  map[string]*accessToken
	issued  int // access tokens issued so far; numbers them from 1
	calls   map[string]TokenCallCount
}

// accessToken is one issued access token.
type accessToken struct {
	seq         int
	fromRefresh bool // issued by the refresh token flow (so revoked with it)
	lastActive  time.Time
	uses        int
	dead        bool
}

// EnableOAuth turns the token endpoint on (POST /services/oauth2/token)
// with cfg, replacing any earlier configuration and forgetting every token
// issued under it. From then on an API request is accepted with an access
// token the endpoint issued and has not expired, or with the static token
// (Options.Token or SetToken) if that is not empty: it stands for a session
// obtained otherwise, which never expires here. An empty static token no
// longer accepts every request. Token endpoint requests are logged with
// Kind KindToken, and do not count against the API limit; see TokenCalls.
func (s *Server) EnableOAuth(cfg OAuthConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg.JWTAudiences = slices.Clone(cfg.JWTAudiences)
	s.oauth = &oauthState{
		cfg:     cfg,
		refresh: cfg.RefreshToken,
		retired: map[string]bool{},
		access:  map[string]*accessToken{},
		calls:   map[string]TokenCallCount{},
	}
}

// RevokeRefreshToken revokes the refresh token, as POST
// /services/oauth2/revoke does: "If a refresh token is included, Salesforce
// revokes it and any associated access tokens." ("Revoking OAuth Tokens")
// Access tokens from the refresh token flow stop working at once; those
// from the JWT bearer flow are not associated with it and keep working.
func (s *Server) RevokeRefreshToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth != nil {
		s.oauth.revokeRefreshLocked()
	}
}

// ExpireRefreshToken makes the refresh token stop working without touching
// the access tokens issued with it, as when the app's refresh token policy
// expires it. The docs read do not say what such an expiry does to live
// sessions; the fake leaves them to their own timeout.
func (s *Server) ExpireRefreshToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth != nil {
		s.oauth.refresh = ""
	}
}

// RefreshToken returns the refresh token that works now ("" if none): after
// a rotation, the one last issued.
func (s *Server) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth == nil {
		return ""
	}
	return s.oauth.refresh
}

// ExpireAccessTokens ends every access token issued so far, as a session
// timeout would; later API requests with them get 401 INVALID_SESSION_ID.
// The static token is not affected (see SetToken).
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth != nil {
		for _, at := range s.oauth.access {
			at.dead = true
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

func (st *oauthState) revokeRefreshLocked() {
	st.refresh = ""
	for _, at := range st.access {
		if at.fromRefresh {
			at.dead = true
		}
	}
}

// authorizeLocked reports whether r carries a valid session, and the number
// of the issued access token it carries (0 if none, the static token or an
// unknown one). A valid issued token is used up by one request.
func (s *Server) authorizeLocked(r *http.Request) (ok bool, seq int) {
	st := s.oauth
	if st == nil {
		return fake.Authorized(r, s.token, "Bearer", "OAuth"), 0
	}
	tok := bearerToken(r, "Bearer", "OAuth")
	if tok == "" {
		return false, 0
	}
	if s.token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1 {
		return true, 0
	}
	at := st.access[tok]
	if at == nil {
		return false, 0
	}
	now := s.stamps.Clock()
	ttl := st.cfg.TokenTTL
	switch {
	case at.dead:
	case ttl > 0 && now.Sub(at.lastActive) >= ttl:
		at.dead = true
	case st.cfg.TokenRequests > 0 && at.uses >= st.cfg.TokenRequests:
		at.dead = true
	}
	if at.dead {
		return false, at.seq
	}
	at.uses++
	if ttl > 0 && now.Sub(at.lastActive) >= ttl/2 {
		at.lastActive = now // "not updated until halfway through"
	}
	return true, at.seq
}

// bearerToken returns the token after one of the Authorization schemes.
func bearerToken(r *http.Request, schemes ...string) string {
	h := r.Header.Get("Authorization")
	for _, scheme := range schemes {
		if tok, ok := strings.CutPrefix(h, scheme+" "); ok {
			return tok
		}
	}
	return ""
}

// tokenRequest is what the server read of a token request before serving it.
type tokenRequest struct {
	form      url.Values // body and query parameters, the body first
	formErr   bool
	basicUser string // HTTP Basic client credentials, if sent
	basicPass string
	hasBasic  bool
	origin    string // scheme://host the request was sent to
}

// readTokenRequest reads a token request's parameters. It runs without the
// server's lock, so that a slow client holds up no one.
func readTokenRequest(w http.ResponseWriter, r *http.Request) *tokenRequest {
	tr := &tokenRequest{}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenForm)
	if err := r.ParseForm(); err != nil {
		tr.formErr = true
	}
	tr.form = r.Form
	if u, p, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1 form-encodes both before the Base64; the
		// Salesforce pages show the plain pair. Accept either.
		if v, err := url.QueryUnescape(u); err == nil {
			u = v
		}
		if v, err := url.QueryUnescape(p); err == nil {
			p = v
		}
		tr.basicUser, tr.basicPass, tr.hasBasic = u, p, true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	tr.origin = scheme + "://" + r.Host
	return tr
}

// tokenResponse is a token endpoint's success body. Salesforce's refresh
// token flow response has access_token, signature, scope, instance_url, id,
// token_type and issued_at (milliseconds since the epoch, as a string) and
// no expires_in: the lifetime is the org's session timeout (refresh token
// flow page and its example). The JWT bearer flow's response has
// access_token, scope, instance_url, id and token_type, and no refresh token.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Signature    string `json:"signature,omitempty"`
	Scope        string `json:"scope"`
	InstanceURL  string `json:"instance_url"`
	ID           string `json:"id"`
	TokenType    string `json:"token_type"`
	IssuedAt     string `json:"issued_at,omitempty"`
}

// oauthError is an OAuth error answer: "If an error occurs in the OAuth 2.0
// JWT bearer flow, the authorizing server replies with a standard OAuth
// error response" (RFC 6749 §5.2), 400 with {"error", "error_description"}
// and Cache-Control: no-store, as the "OAuth 2.0 Authorization Errors" page
// shows. That page's sample description ("Audience validation failed") is
// only a sample; the descriptions the fake sends are those Salesforce is
// reported to send, named where they are used. The refresh token flow
// answers in the same shape (e.g. invalid_grant "expired access/refresh
// token" for a revoked refresh token).
type oauthError struct {
	code, desc string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

var (
	// The descriptions Salesforce is reported to send (the error codes are
	// the RFC 6749 ones or Salesforce's own, as on the errors page):
	// integration tests against Salesforce (e.g. "invalid_client_id: client
	// identifier invalid", "invalid_client: invalid client credentials"),
	// and https://www.nango.dev/blog/salesforce-oauth-refresh-token-invalid-grant
	// for "expired access/refresh token" and "grant type not supported".
	errUnknownClient  = &oauthError{"invalid_client_id", "client identifier invalid"}
	errBadSecret      = &oauthError{"invalid_client", "invalid client credentials"}
	errBadRefresh     = &oauthError{"invalid_grant", "expired access/refresh token"}
	errGrantType      = &oauthError{"unsupported_grant_type", "grant type not supported"}
	errMustPost       = &oauthError{"invalid_request", "must use HTTP POST"}
	errBadForm        = &oauthError{"invalid_request", "invalid request body"}
	errBadAssertion   = &oauthError{"invalid_grant", "invalid assertion"}
	errBadAudience    = &oauthError{"invalid_grant", "audience is invalid"}
	errNotApproved    = &oauthError{"invalid_grant", "user hasn't approved this consumer"}
	errExpiredJWT     = &oauthError{"invalid_grant", "expired authorization code"}
	errJWTTooLongLife = &oauthError{"invalid_grant", "invalid assertion"}
)

// serveTokenLocked serves the token endpoint.
func (s *Server) serveTokenLocked(out *responder, r *http.Request, tr *tokenRequest) {
	st := s.oauth
	out.noStore = true
	grant := tr.form.Get("grant_type")
	var resp *tokenResponse
	var err *oauthError
	switch {
	case r.Method != http.MethodPost:
		// The pages read show only POST and do not say what another method
		// gets; RFC 6749 §3.2 requires POST, §5.2 answers invalid_request.
		err = errMustPost
	case tr.formErr:
		err = errBadForm
	case grant == GrantRefreshToken:
		resp, err = s.refreshGrantLocked(tr)
	case grant == GrantJWTBearer:
		resp, err = s.jwtGrantLocked(tr)
	default:
		err = errGrantType
	}
	n := st.calls[grant]
	if err != nil {
		n.Failed++
		st.calls[grant] = n
		body, _ := json.Marshal(map[string]string{"error": err.code, "error_description": err.desc})
		out.code = err.code
		out.send(http.StatusBadRequest, "application/json;charset=UTF-8", body)
		return
	}
	n.OK++
	st.calls[grant] = n
	body, _ := json.Marshal(resp) // strings only: cannot fail
	out.send(http.StatusOK, "application/json;charset=UTF-8", body)
}

// clientCredentials returns the client id and secret of a refresh token
// request: "Instead of sending client credentials as parameters in the body
// of the POST request, Salesforce supports the HTTP Basic authentication
// scheme" (refresh token flow, REST API guide version). The pages do not
// say which wins when both are sent; the header does here.
func (tr *tokenRequest) clientCredentials() (id, secret string) {
	if tr.hasBasic {
		return tr.basicUser, tr.basicPass
	}
	return tr.form.Get("client_id"), tr.form.Get("client_secret")
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) refreshGrantLocked(tr *tokenRequest) (*tokenResponse, *oauthError) {
	st := s.oauth
	id, secret := tr.clientCredentials()
	if !equal(id, st.cfg.ClientID) {
		return nil, errUnknownClient
	}
	if st.cfg.ClientSecret != "" && !equal(secret, st.cfg.ClientSecret) {
		return nil, errBadSecret
	}
	rt := tr.form.Get("refresh_token")
	switch {
	case rt != "" && st.refresh != "" && equal(rt, st.refresh):
	case rt != "" && st.retired[rt]:
		// Reuse of a rotated-out token: "Salesforce invalidates the current
		// refresh token and any associated access tokens" (refresh token
		// flow page).
		st.revokeRefreshLocked()
		return nil, errBadRefresh
	default:
		return nil, errBadRefresh
	}
	resp := s.issueLocked(tr, true)
	resp.Scope = refreshScope
	if st.cfg.RotateRefreshToken {
		st.retired[st.refresh] = true
		st.refresh = newSecret("5Aep861")
		resp.RefreshToken = st.refresh
	}
	// signature: a "Base64-encoded HMAC-SHA256 signature signed with the
	// client_secret (private key) containing the concatenated ID and
	// issued_at value" (the REST API guide's token response tables, as
	// client libraries quote them; the refresh token flow page's example
	// has the field).
	mac := hmac.New(sha256.New, []byte(st.cfg.ClientSecret))
	mac.Write([]byte(resp.ID + resp.IssuedAt))
	resp.Signature = base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return resp, nil
}

// jwtGrantLocked serves the JWT bearer flow. The checks follow what the JWT
// bearer flow page requires of the claims: "The issuer must contain the
// OAuth client_id", the audience must be the authorization server's URL,
// "The subject must contain the username of the user", and exp within 3
// minutes. The order is the fake's: the client (iss) first, since its
// certificate verifies the signature, then the signature, aud, exp and sub.
func (s *Server) jwtGrantLocked(tr *tokenRequest) (*tokenResponse, *oauthError) {
	st := s.oauth
	jwt, ok := parseJWT(tr.form.Get("assertion"))
	if !ok {
		return nil, errBadAssertion
	}
	if !equal(jwt.claims.Iss, st.cfg.ClientID) {
		return nil, errUnknownClient
	}
	// The assertion is signed RS256 ("Set alg to the RS256 hash
	// algorithm", "Step 2: Generate an Access Token",
	// https://developer.salesforce.com/docs/service/messaging-byob/guide/generate-access-token.html);
	// the pages read do not say what another algorithm gets.
	if jwt.alg != "RS256" || st.cfg.JWTPublicKey == nil || !jwt.verify(st.cfg.JWTPublicKey) {
		return nil, errBadAssertion
	}
	if !s.audienceOKLocked(jwt.claims.Aud, tr.origin) {
		return nil, errBadAudience // reported: salesforce.stackexchange.com/questions/184363
	}
	now := s.stamps.Clock()
	exp, ok := jwt.expiry()
	switch {
	case !ok:
		return nil, errBadAssertion
	case !exp.After(now):
		// Reported for an assertion that expired on its way:
		// salesforce.stackexchange.com/questions/282513.
		return nil, errExpiredJWT
	}
	lifetime := st.cfg.JWTMaxLifetime
	if lifetime == 0 {
		lifetime = defaultJWTLifetime
	}
	if lifetime > 0 && exp.After(now.Add(lifetime)) {
		// The docs require exp within 3 minutes without saying what a later
		// one gets; the fake says invalid assertion.
		return nil, errJWTTooLongLife
	}
	if st.cfg.JWTSubject == "" || !equal(jwt.claims.Sub, st.cfg.JWTSubject) {
		// "If no previous approvals included a refresh_token, no approved
		// scopes are available, and the request fails as unauthorized" (JWT
		// bearer flow page); the description is the one reported in
		// salesforce.stackexchange.com/questions/207685.
		return nil, errNotApproved
	}
	resp := s.issueLocked(tr, false)
	resp.Scope = jwtScope
	resp.IssuedAt = "" // not in the JWT bearer flow's response
	return resp, nil
}

func (s *Server) audienceOKLocked(aud []string, origin string) bool {
	accepted := s.oauth.cfg.JWTAudiences
	if accepted == nil {
		accepted = []string{audienceLogin, audienceTest, s.instanceURLLocked(origin)}
	}
	for _, a := range aud {
		for _, b := range accepted {
			if strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/") {
				return true
			}
		}
	}
	return false
}

func (s *Server) instanceURLLocked(origin string) string {
	if u := s.oauth.cfg.InstanceURL; u != "" {
		return strings.TrimSuffix(u, "/")
	}
	return origin
}

// issueLocked issues an access token and returns the response fields
// common to both flows.
func (s *Server) issueLocked(tr *tokenRequest, fromRefresh bool) *tokenResponse {
	st := s.oauth
	now := s.stamps.Clock()
	st.issued++
	tok := newSecret("00DSy0000000001!")
	st.access[tok] = &accessToken{seq: st.issued, fromRefresh: fromRefresh, lastActive: now}
	instance := s.instanceURLLocked(tr.origin)
	return &tokenResponse{
		AccessToken: tok,
		InstanceURL: instance,
		ID:          instance + "/id/" + fakeOrgID + "/" + fakeUserID,
		TokenType:   "Bearer",
		IssuedAt:    strconv.FormatInt(now.UnixMilli(), 10),
	}
}

// newSecret returns prefix and 32 random bytes, URL-safe.
func newSecret(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// jwt is a parsed JSON Web Token (compact serialization, RFC 7519).
type jwt struct {
	alg          string
	signingInput string
	sig          []byte
	claims       jwtClaims
}

type jwtClaims struct {
	Iss string
	Sub string
	Aud []string
	Exp json.Number
}

// UnmarshalJSON accepts aud as a string or an array of strings (RFC 7519
// §4.1.3); the Salesforce pages show a string.
func (c *jwtClaims) UnmarshalJSON(b []byte) error {
	var raw struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp json.Number     `json:"exp"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	c.Iss, c.Sub, c.Exp = raw.Iss, raw.Sub, raw.Exp
	var one string
	if json.Unmarshal(raw.Aud, &one) == nil {
		c.Aud = []string{one}
		return nil
	}
	if len(raw.Aud) > 0 && json.Unmarshal(raw.Aud, &c.Aud) != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	return nil
}

// parseJWT splits and decodes a compact JWT; it does not verify it.
func parseJWT(s string) (*jwt, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, false
	}
	header, err1 := decodeSegment(parts[0])
	payload, err2 := decodeSegment(parts[1])
	sig, err3 := decodeSegment(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	j := &jwt{signingInput: parts[0] + "." + parts[1], sig: sig}
	if json.Unmarshal(header, &h) != nil || json.Unmarshal(payload, &j.claims) != nil {
		return nil, false
	}
	j.alg = h.Alg
	return j, true
}

// decodeSegment decodes base64url, with or without padding.
func decodeSegment(seg string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
}

func (j *jwt) verify(pub *rsa.PublicKey) bool {
	h := sha256.Sum256([]byte(j.signingInput))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], j.sig) == nil
}

// expiry returns exp, a NumericDate: seconds since the epoch, possibly
// fractional (RFC 7519 §2).
func (j *jwt) expiry() (time.Time, bool) {
	if j.claims.Exp == "" {
		return time.Time{}, false
	}
	f, err := j.claims.Exp.Float64()
	if err != nil || f <= 0 || f > 1<<53 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
}
