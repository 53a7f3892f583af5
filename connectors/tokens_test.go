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

// retriesUntilGivenUp sends one request whose every token is rejected;
// acceptedFirst says whether the provider accepted each token for another
// request before rejecting it here. It returns how often the request was
// sent again.
func retriesUntilGivenUp(t *testing.T, acceptedFirst bool) int {
	t.Helper()
	ctx := context.Background()
	b := &Bearer{Source: &sharedCounting{}, Provider: "Test"}
	token, err := b.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var a TokenAttempt
	for retries := 0; ; retries++ {
		if acceptedFirst {
			if _, retry, _ := b.Answered(ctx, token, http.StatusOK, &a); retry {
				t.Fatal("a 200 is retried")
			}
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

// A provider that rejects every new token at once (a user without API
// access, a token for another org) gets the request TokenRetries more
// times and then its 401 reported.
func TestTokensNeverAcceptedAreRetriedTokenRetriesTimes(t *testing.T) {
	if n := retriesUntilGivenUp(t, false); n != TokenRetries {
		t.Fatalf("sent again %d times; want %d", n, TokenRetries)
	}
}

// Tokens that worked and then expired (many objects sharing short-lived
// tokens, each meeting one at its end) do not use up the request's
// TokenRetries: a request that keeps losing the race is sent again up to
// TokenExpiries times.
func TestTokensThatExpiredInUseAreRetriedLonger(t *testing.T) {
	if n := retriesUntilGivenUp(t, true); n != TokenExpiries {
		t.Fatalf("sent again %d times; want %d", n, TokenExpiries)
	}
}

// A 5xx (which a proxy may send) does not show the provider accepted the
// token: a 401 after it counts against TokenRetries.
func TestServerErrorsDoNotProveAToken(t *testing.T) {
	ctx := context.Background()
	b := &Bearer{Source: &sharedCounting{}, Provider: "Test"}
	token, err := b.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var a TokenAttempt
	retries := 0
	for {
		b.Answered(ctx, token, http.StatusBadGateway, &a)
		next, retry, err := b.Answered(ctx, token, http.StatusUnauthorized, &a)
		if err != nil {
			t.Fatal(err)
		}
		if !retry {
			break
		}
		token = next
		retries++
	}
	if retries != TokenRetries {
		t.Fatalf("sent again %d times; want %d", retries, TokenRetries)
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
	ctx := context.Background()
	src := &sharedCounting{}
	other := &Bearer{Source: src, Provider: "Test"}
	b := &Bearer{Source: src, Provider: "Test"}
	token, err := b.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var a TokenAttempt
	retries := 0
	for ; ; retries++ {
		var theirs TokenAttempt
		other.Answered(ctx, token, http.StatusOK, &theirs) // the other connector used it first
		next, retry, err := b.Answered(ctx, token, http.StatusUnauthorized, &a)
		if err != nil {
			t.Fatal(err)
		}
		if !retry {
			break
		}
		token = next
	}
	if retries != TokenExpiries {
		t.Fatalf("sent again %d times; want %d (tokens the other connector had accepted)", retries, TokenExpiries)
	}
}
