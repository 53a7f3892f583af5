package store_test

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncloop/syncloop/store"
)

func TestConnections(t *testing.T) {
	s, ctx := newStore(t)
	if list, err := s.ListConnections(ctx); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("ListConnections on an empty store = %#v, %v; want an empty list", list, err)
	}
	c := store.Connection{Name: "sf-main", Provider: "salesforce", BaseURL: "https://x.example", Secret: []byte{1, 2, 3}, AuthKind: store.AuthStatic}
	if res, err := s.PutConnection(ctx, c); err != nil || res.Replaced {
		t.Fatalf("PutConnection = %+v, %v; want a new connection", res, err)
	}
	if _, _, err := s.AddObject(ctx, store.NewObject{Key: key("accounts"), Interval: time.Hour, Connection: "sf-main"}); err != nil {
		t.Fatal(err)
	}
	// Replacing: same provider, a new secret version, the objects using it.
	c.Secret = []byte{4, 5, 6}
	res, err := s.PutConnection(ctx, c)
	if err != nil || !res.Replaced || !slices.Equal(res.Objects, []string{"acme/demo/accounts"}) {
		t.Fatalf("second PutConnection = %+v, %v; want replaced, used by acme/demo/accounts", res, err)
	}
	if _, err := s.PutConnection(ctx, store.Connection{Name: "sf-main", Provider: "hubspot", AuthKind: store.AuthNone}); !errors.Is(err, store.ErrOtherProvider) {
		t.Fatalf("PutConnection of another provider's name: err = %v; want ErrOtherProvider", err)
	}
	if _, err := s.PutConnection(ctx, store.Connection{Name: "bare", Provider: "demo", AuthKind: store.AuthNone}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnection(ctx, "sf-main")
	if err != nil || got.Name != c.Name || got.Provider != c.Provider || got.BaseURL != c.BaseURL || string(got.Secret) != string(c.Secret) ||
		got.SecretVersion != 2 || got.AuthKind != store.AuthStatic {
		t.Fatalf("GetConnection = %+v, %v; want %+v at secret version 2", got, err, c)
	}
	list, err := s.ListConnections(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "bare" || list[0].HasSecret || len(list[0].Objects) != 0 ||
		list[1].Name != "sf-main" || !list[1].HasSecret || !slices.Equal(list[1].Objects, []string{"acme/demo/accounts"}) || list[1].CreatedAt.IsZero() {
		t.Fatalf("ListConnections = %+v, %v", list, err)
	}
	if err := s.DeleteConnection(ctx, "bare"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, "bare"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteConnection err = %v; want ErrNotFound", err)
	}
}

// Refreshes of one connection take turns under its row lock: of eight
// callers that all saw version 1, exactly one refreshes; the others see
// the version it wrote and use that token. A failure is recorded and
// leaves the secret alone.
func TestRefreshConnectionTakesTurns(t *testing.T) {
	s, ctx := newStore(t)
	if _, err := s.PutConnection(ctx, store.Connection{Name: "hs", Provider: "hubspot", Secret: []byte("v1"), AuthKind: store.AuthRefresh, TokenURL: "https://t.example/token"}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	var wg sync.WaitGroup
	expires := time.Now().Add(30 * time.Minute).Truncate(time.Microsecond)
	rows := make([]store.Connection, 8)
	for i := range rows {
		wg.Go(func() {
			row, err := s.RefreshConnection(ctx, "hs", func(c store.Connection) (*store.TokenUpdate, error) {
				if c.SecretVersion != 1 {
					return nil, nil // someone else refreshed
				}
				calls.Add(1)
				time.Sleep(50 * time.Millisecond) // the token endpoint
				return &store.TokenUpdate{Secret: []byte("v2"), ExpiresAt: &expires}, nil
			})
			if err != nil {
				t.Error(err)
			}
			rows[i] = row
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d refreshes; want 1", n)
	}
	for _, r := range rows {
		if r.SecretVersion != 2 || string(r.Secret) != "v2" {
			t.Fatalf("a caller got version %d %q; want 2 \"v2\"", r.SecretVersion, r.Secret)
		}
	}
	got, _ := s.GetConnection(ctx, "hs")
	if got.TokenExpiresAt == nil || !got.TokenExpiresAt.Equal(expires) || got.RefreshedAt == nil || got.RefreshOutcome == nil || *got.RefreshOutcome != store.RefreshOK {
		t.Fatalf("after the refresh: %+v", got.ConnectionStatus)
	}

	refused := errors.New("invalid_grant")
	_, err := s.RefreshConnection(ctx, "hs", func(store.Connection) (*store.TokenUpdate, error) {
		return nil, &store.RefreshFailure{Outcome: store.RefreshAuth, Reason: "invalid_grant: expired access/refresh token", Err: refused}
	})
	if !errors.Is(err, refused) {
		t.Fatalf("failed refresh: err = %v; want the refusal", err)
	}
	got, _ = s.GetConnection(ctx, "hs")
	if got.SecretVersion != 2 || string(got.Secret) != "v2" || *got.RefreshOutcome != store.RefreshAuth || got.RefreshError != "invalid_grant: expired access/refresh token" {
		t.Fatalf("after the failed refresh: version %d, %+v", got.SecretVersion, got.ConnectionStatus)
	}
	// Replacing the connection forgets the refresh history.
	if _, err := s.PutConnection(ctx, store.Connection{Name: "hs", Provider: "hubspot", Secret: []byte("new"), AuthKind: store.AuthRefresh, TokenURL: "https://t.example/token"}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetConnection(ctx, "hs")
	if got.SecretVersion != 3 || got.RefreshOutcome != nil || got.RefreshError != "" || got.TokenExpiresAt != nil {
		t.Fatalf("after replacing: version %d, %+v", got.SecretVersion, got.ConnectionStatus)
	}
}
