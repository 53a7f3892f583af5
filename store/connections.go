package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Auth kinds of a connection (connections.auth_kind).
const (
	AuthNone    = "none"    // no credentials (the demo provider)
	AuthStatic  = "static"  // an access token, never refreshed
	AuthRefresh = "refresh" // OAuth refresh token flow
	AuthJWT     = "jwt"     // OAuth JWT bearer flow (Salesforce)
)

// Refresh outcomes (connections.refresh_outcome).
const (
	RefreshOK        = "ok"
	RefreshAuth      = "auth"      // the provider refused the credentials
	RefreshRetryable = "retryable" // the token endpoint could not be reached or failed
)

// Connection is one connections row. Secret stays encrypted here; only
// activities decrypt it.
type Connection struct {
	Name     string `json:"name" db:"name"`
	Provider string `json:"provider" db:"provider"`
	BaseURL  string `json:"base_url" db:"base_url"`
	Secret   []byte `json:"-" db:"secret"`
	// AuthKind is one of the Auth* constants; TokenURL the OAuth token
	// endpoint of refresh and jwt connections.
	AuthKind string `json:"auth_kind" db:"auth_kind"`
	TokenURL string `json:"token_url,omitempty" db:"token_url"`
	// SecretVersion grows with every write of Secret: by a refresh, or by
	// replacing the connection.
	SecretVersion int64 `json:"secret_version" db:"secret_version"`
	ConnectionStatus
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

// ConnectionStatus is what the connection's token refreshes did: never a
// secret.
type ConnectionStatus struct {
	// TokenExpiresAt is the access token's expiry, when the provider said.
	TokenExpiresAt *time.Time `json:"token_expires_at,omitempty" db:"token_expires_at"`
	// RefreshedAt is the last refresh attempt, RefreshOutcome its outcome
	// (Refresh* constants) and RefreshError the provider's reason.
	RefreshedAt    *time.Time `json:"refreshed_at,omitempty" db:"refreshed_at"`
	RefreshOutcome *string    `json:"refresh_outcome,omitempty" db:"refresh_outcome"`
	RefreshError   string     `json:"refresh_error,omitempty" db:"refresh_error"`
}

var (
	sqlGetConnection       = query("GetConnection")
	sqlLockConnection      = query("LockConnection")
	sqlPutConnection       = query("PutConnection")
	sqlStoreRefreshedToken = query("StoreRefreshedToken")
	sqlRecordRefreshFail   = query("RecordRefreshFailure")
	sqlListConnections     = query("ListConnections")
	sqlDeleteConnection    = query("DeleteConnection")
)

// GetConnection loads a connection by name.
func (s *Store) GetConnection(ctx context.Context, name string) (Connection, error) {
	return one(ctx, s.Pool, sqlGetConnection, pgx.NamedArgs{"name": name}, pgx.RowToStructByName[Connection])
}

// ConnectionInfo is a connection as listed: never its secret.
type ConnectionInfo struct {
	Name      string   `json:"name" db:"name"`
	Provider  string   `json:"provider" db:"provider"`
	BaseURL   string   `json:"base_url" db:"base_url"`
	HasSecret bool     `json:"has_secret" db:"has_secret"`
	AuthKind  string   `json:"auth_kind" db:"auth_kind"`
	TokenURL  string   `json:"token_url,omitempty" db:"token_url"`
	Objects   []string `json:"objects" db:"objects"`
	ConnectionStatus
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

// PutResult is what PutConnection did.
type PutResult struct {
	// Replaced is true when a connection of that name existed.
	Replaced bool `db:"replaced"`
	// Objects are the objects using the connection.
	Objects []string `db:"objects"`
}

// ErrOtherProvider is PutConnection's answer when the name belongs to a
// connection of another provider.
var ErrOtherProvider = errors.New("the connection name is taken by another provider's connection")

// PutConnection inserts a connection or replaces the one of that name
// (same provider only: ErrOtherProvider otherwise). Replacing writes a new
// secret version, which every worker's next use of the connection picks up.
func (s *Store) PutConnection(ctx context.Context, c Connection) (PutResult, error) {
	res, err := one(ctx, s.Pool, sqlPutConnection, pgx.NamedArgs{
		"name": c.Name, "provider": c.Provider, "base_url": c.BaseURL, "secret": c.Secret,
		"auth_kind": c.AuthKind, "token_url": c.TokenURL,
	}, pgx.RowToStructByName[PutResult])
	if errors.Is(err, ErrNotFound) {
		return res, ErrOtherProvider
	}
	return res, err
}

// TokenUpdate is a refresh's result: the new encrypted secret, Salesforce's
// instance URL ("" keeps the base URL) and the token's expiry if known.
type TokenUpdate struct {
	Secret    []byte
	BaseURL   string
	ExpiresAt *time.Time
}

// RefreshFailure is a refresh that failed: Outcome RefreshAuth or
// RefreshRetryable, and the provider's reason (no secret in it).
type RefreshFailure struct {
	Outcome string
	Reason  string
	Err     error
}

func (f *RefreshFailure) Error() string { return f.Err.Error() }
func (f *RefreshFailure) Unwrap() error { return f.Err }

// RefreshConnection runs refresh on the connection under its row lock, so
// that the refreshes of one connection, by any number of workers, take
// turns. refresh sees the row as it is now: when its SecretVersion is no
// longer the one the caller used, another worker has refreshed or an
// operator has replaced the connection, and refresh should return a nil
// update (use the row). A returned update is stored as the next version; a
// *RefreshFailure is recorded (outcome and reason) and returned. The row
// as it is after the refresh is returned.
func (s *Store) RefreshConnection(ctx context.Context, name string, refresh func(Connection) (*TokenUpdate, error)) (Connection, error) {
	var out Connection
	var failure error
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		c, err := one(ctx, tx, sqlLockConnection, pgx.NamedArgs{"name": name}, pgx.RowToStructByName[Connection])
		if err != nil {
			return err
		}
		out = c
		upd, err := refresh(c)
		var rf *RefreshFailure
		switch {
		case errors.As(err, &rf):
			failure = err
			_, err := exec(ctx, tx, sqlRecordRefreshFail, pgx.NamedArgs{"name": name, "version": c.SecretVersion, "outcome": rf.Outcome, "error": rf.Reason})
			return err
		case err != nil:
			return err
		case upd == nil:
			return nil
		}
		n, err := exec(ctx, tx, sqlStoreRefreshedToken, pgx.NamedArgs{
			"name": name, "version": c.SecretVersion, "secret": upd.Secret, "base_url": upd.BaseURL, "expires_at": upd.ExpiresAt,
		})
		if err != nil {
			return err
		}
		if n == 0 { // cannot happen under the row lock
			return errors.New("connection " + name + " changed during its token refresh")
		}
		out, err = one(ctx, tx, sqlGetConnection, pgx.NamedArgs{"name": name}, pgx.RowToStructByName[Connection])
		return err
	})
	if err != nil {
		return out, err
	}
	return out, failure
}

// ListConnections lists connections with the objects that use them.
func (s *Store) ListConnections(ctx context.Context) ([]ConnectionInfo, error) {
	return nonNil(all(ctx, s.Pool, sqlListConnections, nil, pgx.RowToStructByName[ConnectionInfo]))
}

// DeleteConnection removes a connection no object uses.
func (s *Store) DeleteConnection(ctx context.Context, name string) error {
	n, err := exec(ctx, s.Pool, sqlDeleteConnection, pgx.NamedArgs{"name": name})
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
