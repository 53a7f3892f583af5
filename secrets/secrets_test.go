package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func key(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRoundTripAndBinding(t *testing.T) {
	b, err := New(key(t))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(`{"access_token":"00D-super-secret"}`)
	sealed, err := b.Seal(secret, "acme-sf")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("super-secret")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	again, _ := b.Seal(secret, "acme-sf")
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of the same secret are identical: nonce reused")
	}
	got, err := b.Open(sealed, "acme-sf")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := b.Open(sealed, "other-connection"); err == nil {
		t.Fatal("a secret opened under another connection's name")
	}
	other, _ := New(key(t))
	if _, err := other.Open(sealed, "acme-sf"); err == nil || strings.Contains(err.Error(), "super-secret") || !strings.Contains(err.Error(), EnvKey) {
		t.Fatalf("wrong key: err = %v; want an error naming %s and not the secret", err, EnvKey)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := b.Open(sealed, "acme-sf"); err == nil {
		t.Fatal("a tampered secret opened")
	}
	for _, bad := range [][]byte{nil, {1}, {2, 3, 4}} {
		if _, err := b.Open(bad, "acme-sf"); err == nil {
			t.Fatalf("Open(%v) succeeded", bad)
		}
	}
}

func TestParseKey(t *testing.T) {
	k := key(t)
	for _, s := range []string{base64.StdEncoding.EncodeToString(k), hex.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k) + "\n"} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Fatalf("ParseKey(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "short", base64.StdEncoding.EncodeToString(k[:16]), strings.Repeat("z", 64)} {
		if _, err := ParseKey(s); err == nil || !strings.Contains(err.Error(), "openssl rand") {
			t.Fatalf("ParseKey(%q) err = %v; want one naming the fix", s, err)
		}
	}
}

func TestFromKey(t *testing.T) {
	if _, err := FromKey(""); err != ErrNoKey {
		t.Fatalf("no key: %v", err)
	}
	if _, err := FromKey(base64.StdEncoding.EncodeToString(key(t))); err != nil {
		t.Fatal(err)
	}
	if _, err := FromKey("short"); err == nil || err == ErrNoKey {
		t.Fatalf("bad key: %v", err)
	}
}
