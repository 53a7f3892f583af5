package connectors

import (
	"context"
	"errors"
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

// TokenRetries is how many times a connector sends a request again after
// a 401, each time with a token newer than the one rejected. One is the
// rule; more are for a token that another connector of the connection
// obtained but that expired before this request used it (many objects
// share a connection's token, and a provider may end sessions at any
// time). The same token is never sent twice.
const TokenRetries = 4

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
// text echoing one can be redacted. Safe for concurrent use.
type seenTokens struct {
	mu     sync.Mutex
	tokens []string
}

// add records a token (the last few are kept).
func (s *seenTokens) add(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t == token {
			return
		}
	}
	s.tokens = append(s.tokens, token)
	if len(s.tokens) > 4 {
		s.tokens = s.tokens[len(s.tokens)-4:]
	}
}

// list returns the tokens recorded.
func (s *seenTokens) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
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

// AfterUnauthorized decides what follows a 401 to a request sent with
// rejected, the retries-th time: send it again with next (retry true), or
// report the 401 as it is (retry false, nil error: no other token), or
// fail with the token source's error (a refused refresh).
func (b *Bearer) AfterUnauthorized(ctx context.Context, rejected string, retries int) (next string, retry bool, err error) {
	if retries >= TokenRetries {
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
