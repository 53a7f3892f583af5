package hubspot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncloop/syncloop/connectors"
)

// searchPacer paces search requests. HubSpot limits them apart from every
// other request: "Search the CRM"
// (https://developers.hubspot.com/docs/api-reference/search/guide), Limits:
// "The search endpoints are rate limited to five requests per second per
// account", a limit of its own beside the per-10-second burst limit of "API
// usage guidelines and limits"
// (https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines).
// The pages consulted do not say whether searches also count against the
// burst limit; as Config.Limiter paces that one at a rate the caller picks
// for the other requests, a search waits only on this, never on
// Config.Limiter or the proactive slowdown (which reads the burst limit's
// headers, which search responses do not carry).
type searchPacer struct {
	own    *rate.Limiter // Config.SearchLimiter
	key    [32]byte      // the shared limiter's key, when own is nil
	limit  rate.Limit    // the shared limiter's rate; 0: no pacing
	shared bool
}

func newSearchPacer(cfg Config, base *url.URL, token string) (searchPacer, error) {
	if cfg.SearchLimiter != nil {
		return searchPacer{own: cfg.SearchLimiter}, nil
	}
	limit := cfg.SearchRate
	switch {
	case limit == 0:
		limit = DefaultSearchRate
	case limit == rate.Inf:
		return searchPacer{}, nil
	case limit < 0:
		return searchPacer{}, fmt.Errorf("SearchRate %v is negative", float64(limit))
	}
	return searchPacer{key: sha256.Sum256([]byte(base.String() + "\x00" + token)), limit: limit, shared: true}, nil
}

// wait blocks until a search may be sent.
func (p searchPacer) wait(ctx context.Context, objectType string) error {
	var err error
	switch {
	case p.own != nil:
		err = p.own.Wait(ctx)
	case p.shared:
		err = sharedSearch.wait(ctx, p.key, p.limit)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return &connectors.Error{Kind: connectors.Retryable,
			Message: "waiting for the search rate limiter before reading " + objectType, Err: err}
	}
	return nil
}

// sharedSearch holds one search limiter per base URL and access token for
// the process: the resolver builds a Connector per cycle, and cycles of one
// connection's object types run at once, so a limiter per Connector would
// let each of them search at the full rate. (Connections with different
// tokens for one HubSpot account still each get the full rate, as the
// account is not known from a token.)
var sharedSearch = searchLimiters{m: map[[32]byte]*rate.Limiter{}}

type searchLimiters struct {
	mu     sync.Mutex
	m      map[[32]byte]*rate.Limiter
	pruned time.Time
}

// wait reserves the next slot of key's limiter (created at limit, burst 1,
// or moved to limit) under the lock, then sleeps until it. Limiters whose
// bucket is full are dropped now and then: such a limiter is the same as a
// new one, and one with a reservation outstanding is never full, so a key
// never has two live limiters.
func (s *searchLimiters) wait(ctx context.Context, key [32]byte, limit rate.Limit) error {
	s.mu.Lock()
	now := time.Now()
	if now.Sub(s.pruned) > time.Minute {
		for k, l := range s.m {
			if l.TokensAt(now) >= float64(l.Burst()) {
				delete(s.m, k)
			}
		}
		s.pruned = now
	}
	l := s.m[key]
	switch {
	case l == nil:
		l = rate.NewLimiter(limit, 1)
		s.m[key] = l
	case l.Limit() != limit:
		l.SetLimitAt(now, limit)
	}
	r := l.ReserveN(now, 1)
	s.mu.Unlock()
	if !r.OK() {
		return errors.New("the search limiter allows no request")
	}
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(now.Add(delay)) {
		r.Cancel()
		return errors.New("the context deadline comes before the search limiter's turn")
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
