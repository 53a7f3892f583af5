package connectors

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
)

// TokenSource gives a connector the access token of its connection. OAuth
// connections obtain and refresh tokens behind it; the connector only asks
// for the current token and, after a 401, for a newer one.
type TokenSource interface {
	// Token is the access token to send, obtained or refreshed first when
	// there is none yet or it is known to expire soon.
	Token(ctx context.Context) (string, error)
	// Refresh is called after the provider rejected rejected (HTTP 401):
	// it returns the token to retry the request with once, the one another
	// caller already obtained or a newly issued one; ErrNoRefresh when
	// there is none (a static token that was not replaced), or an Auth
	// error when refreshing failed (a revoked refresh token).
	Refresh(ctx context.Context, rejected string) (string, error)
}

// TokenRetries bounds how often one request is sent again after 401s
// with tokens the provider never accepted: one is the rule (a token
// obtained after the last one expired), a few more are for a token another
// object of the connection obtained that the provider ended before this
// request used it. A token the provider had accepted for some request and
// now rejects has expired in use; the request is sent again with a newer
// one without counting, up to TokenExpiries times, because many objects
// sharing a connection's short-lived tokens can each meet a token at its
// end. The same token is never sent twice.
const (
	TokenRetries  = 4
	TokenExpiries = 32
)

// TokenAttempt is one request's count of 401s; its zero value is a
// request not yet rejected.
type TokenAttempt struct{ unproven, expired int }

// ErrNoRefresh is what a TokenSource's Refresh returns when it has no
// other token: the connector reports the provider's 401 as it is.
var ErrNoRefresh = errors.New("the access token cannot be refreshed")

// StaticToken is a token that cannot be refreshed: Refresh returns
// ErrNoRefresh.
type StaticToken string

// Token implements TokenSource.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// Refresh implements TokenSource.
func (t StaticToken) Refresh(context.Context, string) (string, error) {
	return "", ErrNoRefresh
}

// ValidToken reports why a token cannot go into an Authorization header,
// or "" if it can.
func ValidToken(token string) string {
	switch {
	case token == "":
		return "no access token"
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
		return "the access token contains spaces or control characters"
	}
	return ""
}

// seenTokens remembers the tokens a connector sent, so that any provider
// text echoing one can be redacted, and whether the provider accepted each
// (a rejected token it accepted before has expired). Safe for concurrent
// use.
type seenTokens struct {
	mu     sync.Mutex
	tokens []seenToken
}

type seenToken struct {
	token    string
	accepted bool
}

// keptTokens is how many of the latest tokens are remembered: tokens of a
// connection that many objects share can follow each other quickly.
const keptTokens = 16

// add records a token (the last keptTokens are kept).
func (s *seenTokens) add(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t.token == token {
			return
		}
	}
	s.tokens = append(s.tokens, seenToken{token: token})
	if len(s.tokens) > keptTokens {
		s.tokens = s.tokens[len(s.tokens)-keptTokens:]
	}
}

// accept records that the provider accepted token.
func (s *seenTokens) accept(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.tokens {
		if s.tokens[i].token == token {
			s.tokens[i].accepted = true
			return
		}
	}
}

// accepted reports whether the provider accepted token for some request.
func (s *seenTokens) accepted(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t.token == token {
			return t.accepted
		}
	}
	return false
}

// list returns the tokens recorded.
func (s *seenTokens) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.tokens))
	for i, t := range s.tokens {
		out[i] = t.token
	}
	return out
}

// TokenAcceptance is implemented by token sources that many connectors
// share (credentials.Source: one per connection and worker): what one
// connector learned, that the provider accepted a token, the others use
// when the provider later rejects that token (it expired in use; see
// TokenExpiries).
type TokenAcceptance interface {
	Accepted(token string)
	WasAccepted(token string) bool
}

// AcceptedTokens implements TokenAcceptance: it remembers the last few
// tokens the provider accepted. The zero value is ready; safe for
// concurrent use.
type AcceptedTokens struct {
	mu     sync.Mutex
	tokens []string
}

// Accepted records that the provider accepted token.
func (a *AcceptedTokens) Accepted(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if slices.Contains(a.tokens, token) {
		return
	}
	a.tokens = append(a.tokens, token)
	if len(a.tokens) > keptTokens {
		a.tokens = a.tokens[len(a.tokens)-keptTokens:]
	}
}

// WasAccepted reports whether the provider accepted token.
func (a *AcceptedTokens) WasAccepted(token string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Contains(a.tokens, token)
}

// Bearer is what a connector keeps of its token source: the tokens it
// sent (for redaction) and the rules of sending them. Safe for concurrent
// use.
type Bearer struct {
	// Source gives the tokens; Provider names the provider in errors.
	Source   TokenSource
	Provider string
	seen     seenTokens
}

// Token is the token to send first.
func (b *Bearer) Token(ctx context.Context) (string, error) {
	t, err := b.Source.Token(ctx)
	return b.checked(t, err)
}

// Accepted records that the provider answered a request sent with token
// with anything but 401.
func (b *Bearer) Accepted(token string) {
	b.seen.accept(token)
	if ta, ok := b.Source.(TokenAcceptance); ok {
		ta.Accepted(token)
	}
}

// wasAccepted: this connector, or another sharing its token source, had
// token accepted.
func (b *Bearer) wasAccepted(token string) bool {
	if b.seen.accepted(token) {
		return true
	}
	ta, ok := b.Source.(TokenAcceptance)
	return ok && ta.WasAccepted(token)
}

// AfterUnauthorized decides what follows a 401 to a request sent with
// rejected (a counts the request's earlier 401s): send it again with next
// (retry true), or report the 401 as it is (retry false, nil error: no
// other token, or TokenRetries/TokenExpiries reached), or fail with the
// token source's error (a refused refresh).
func (b *Bearer) AfterUnauthorized(ctx context.Context, rejected string, a *TokenAttempt) (next string, retry bool, err error) {
	if b.wasAccepted(rejected) {
		a.expired++
	} else {
		a.unproven++
	}
	if a.unproven > TokenRetries || a.expired > TokenExpiries {
		return "", false, nil
	}
	t, err := b.Source.Refresh(ctx, rejected)
	if errors.Is(err, ErrNoRefresh) {
		return "", false, nil
	}
	if t, err = b.checked(t, err); err != nil {
		return "", false, err
	}
	return t, true, nil
}

func (b *Bearer) checked(t string, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if why := ValidToken(t); why != "" {
		return "", Errorf(Auth, "%s connection: %s", b.Provider, why)
	}
	b.seen.add(t)
	return t, nil
}

// Sent lists the tokens sent so far (the last few), for redaction.
func (b *Bearer) Sent() []string { return b.seen.list() }
