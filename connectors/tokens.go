package connectors

import (
	"context"
	"errors"
	"net/http"
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

// recentTokens is the last keptTokens distinct tokens added. Safe for
// concurrent use.
type recentTokens struct {
	mu     sync.Mutex
	tokens []string
}

// keptTokens is how many of the latest tokens are remembered: tokens of a
// connection that many objects share can follow each other quickly.
const keptTokens = 16

func (r *recentTokens) add(token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.Contains(r.tokens, token) {
		return
	}
	r.tokens = append(r.tokens, token)
	if len(r.tokens) > keptTokens {
		r.tokens = r.tokens[len(r.tokens)-keptTokens:]
	}
}

func (r *recentTokens) contains(token string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.tokens, token)
}

func (r *recentTokens) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.tokens)
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
type AcceptedTokens struct{ recent recentTokens }

// Accepted records that the provider accepted token.
func (a *AcceptedTokens) Accepted(token string) { a.recent.add(token) }

// WasAccepted reports whether the provider accepted token.
func (a *AcceptedTokens) WasAccepted(token string) bool { return a.recent.contains(token) }

// Bearer is what a connector keeps of its token source: the tokens it
// sent (for redaction) and the rules of sending them. Safe for concurrent
// use.
type Bearer struct {
	// Source gives the tokens; Provider names the provider in errors.
	Source   TokenSource
	Provider string
	sent     recentTokens
}

// Token is the token to send first.
func (b *Bearer) Token(ctx context.Context) (string, error) {
	t, err := b.Source.Token(ctx)
	return b.checked(t, err)
}

// Answered applies the token rules to the answer status to a request
// sent with token (a counts the request's earlier 401s): any answer but a
// 401 or a 5xx (which a proxy may give) shows the provider accepted the
// token; after a 401 it returns the token to send the same request again
// with (retry true), or retry false with a nil error (no other token, or
// TokenRetries/TokenExpiries reached: report the 401), or the token
// source's error (a refused refresh).
func (b *Bearer) Answered(ctx context.Context, token string, status int, a *TokenAttempt) (next string, retry bool, err error) {
	ta, shared := b.Source.(TokenAcceptance)
	if status != http.StatusUnauthorized {
		if shared && status < http.StatusInternalServerError {
			ta.Accepted(token)
		}
		return "", false, nil
	}
	if shared && ta.WasAccepted(token) {
		a.expired++
	} else {
		a.unproven++
	}
	if a.unproven > TokenRetries || a.expired > TokenExpiries {
		return "", false, nil
	}
	t, err := b.Source.Refresh(ctx, token)
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
	b.sent.add(t)
	return t, nil
}

// Sent lists the tokens sent so far (the last few), for redaction.
func (b *Bearer) Sent() []string { return b.sent.list() }
