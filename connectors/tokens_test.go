package connectors

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// counting issues t1, t2, … : each Refresh a token newer than the one
// rejected.
type counting struct {
	mu sync.Mutex
	n  int
}

func (c *counting) Token(context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.n = 1
	}
	return fmt.Sprintf("t%d", c.n), nil
}

func (c *counting) Refresh(context.Context, string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return fmt.Sprintf("t%d", c.n), nil
}

// retriesUntilGivenUp sends one request through b whose every token is
// rejected; before(token), if set, runs ahead of each rejection (the
// provider answering another request with that token). It returns how
// often the request was sent again.
func retriesUntilGivenUp(t *testing.T, b *Bearer, before func(token string)) int {
	t.Helper()
	ctx := context.Background()
	token, err := b.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var a TokenAttempt
	for retries := 0; ; retries++ {
		if before != nil {
			before(token)
		}
		next, retry, err := b.Answered(ctx, token, http.StatusUnauthorized, &a)
		if err != nil {
			t.Fatal(err)
		}
		if !retry {
			return retries
		}
		if next == token {
			t.Fatalf("retry %d sends the rejected token %q again", retries, token)
		}
		token = next
		if retries > 10*TokenExpiries {
			t.Fatal("never gives up")
		}
	}
}

func testBearer(src TokenSource) *Bearer { return &Bearer{Source: src, Provider: "Test"} }

// A provider that rejects every new token at once (a user without API
// access, a token for another org) gets the request TokenRetries more
// times and then its 401 reported.
func TestTokensNeverAcceptedAreRetriedTokenRetriesTimes(t *testing.T) {
	if n := retriesUntilGivenUp(t, testBearer(&sharedCounting{}), nil); n != TokenRetries {
		t.Fatalf("sent again %d times; want %d", n, TokenRetries)
	}
}

// Tokens that worked and then expired (many objects sharing short-lived
// tokens, each meeting one at its end) do not use up the request's
// TokenRetries: a request that keeps losing the race is sent again up to
// TokenExpiries times.
func TestTokensThatExpiredInUseAreRetriedLonger(t *testing.T) {
	b := testBearer(&sharedCounting{})
	var ok TokenAttempt
	n := retriesUntilGivenUp(t, b, func(token string) {
		if _, retry, _ := b.Answered(context.Background(), token, http.StatusOK, &ok); retry {
			t.Fatal("a 200 is retried")
		}
	})
	if n != TokenExpiries {
		t.Fatalf("sent again %d times; want %d", n, TokenExpiries)
	}
}

// A 5xx (which a proxy may send) does not show the provider accepted the
// token: a 401 after it counts against TokenRetries.
func TestServerErrorsDoNotProveAToken(t *testing.T) {
	b := testBearer(&sharedCounting{})
	var bad TokenAttempt
	n := retriesUntilGivenUp(t, b, func(token string) { b.Answered(context.Background(), token, http.StatusBadGateway, &bad) })
	if n != TokenRetries {
		t.Fatalf("sent again %d times; want %d", n, TokenRetries)
	}
}

// A static token has no successor: the first 401 is reported as it is.
func TestStaticTokenIsNotRetried(t *testing.T) {
	b := &Bearer{Source: StaticToken("s3cret-static"), Provider: "Test"}
	var a TokenAttempt
	if _, retry, err := b.Answered(context.Background(), "s3cret-static", http.StatusUnauthorized, &a); retry || err != nil {
		t.Fatalf("retry %v, err %v; want the 401 reported", retry, err)
	}
}

// sharedCounting is a token source many connectors share, which
// remembers what any of them had accepted (as credentials.Source does).
type sharedCounting struct {
	counting
	AcceptedTokens
}

// A token that another connector of the connection had accepted and this
// one finds rejected expired in use: it does not use up this request's
// TokenRetries, although this connector never had it accepted itself.
func TestAcceptanceIsSharedByConnectorsOfOneSource(t *testing.T) {
	src := &sharedCounting{}
	other := testBearer(src)
	n := retriesUntilGivenUp(t, testBearer(src), func(token string) {
		var theirs TokenAttempt
		other.Answered(context.Background(), token, http.StatusOK, &theirs) // the other connector used it first
	})
	if n != TokenExpiries {
		t.Fatalf("sent again %d times; want %d (tokens the other connector had accepted)", n, TokenExpiries)
	}
}
