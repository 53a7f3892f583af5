// Package secrets encrypts provider credentials at rest with AES-256-GCM
// under SYNCLOOP_SECRET_KEY. Ciphertexts are bound to the row they belong
// to (the connection name is the additional authenticated data), so a
// secret copied onto another connection does not decrypt.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// EnvKey names the environment variable that holds the key.
const EnvKey = "SYNCLOOP_SECRET_KEY"

const version = 1

// ErrNoKey means SYNCLOOP_SECRET_KEY is not set.
var ErrNoKey = errors.New(EnvKey + " is not set: generate one with `openssl rand -base64 32` and set it for the worker and the CLI")

// Box seals and opens secrets.
type Box struct{ aead cipher.AEAD }

// ParseKey accepts 32 bytes as base64 (standard or URL) or 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString, base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString} {
		if k, err := dec(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%s must be 32 random bytes as base64 or 64 hex digits (e.g. `openssl rand -base64 32`)", EnvKey)
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key has %d bytes; AES-256 needs 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// FromKey builds a Box from the value of SYNCLOOP_SECRET_KEY (the mains
// read it into config.Config.SecretKey); an empty one is ErrNoKey.
func FromKey(s string) (*Box, error) {
	if strings.TrimSpace(s) == "" {
		return nil, ErrNoKey
	}
	k, err := ParseKey(s)
	if err != nil {
		return nil, err
	}
	return New(k)
}

// Seal encrypts plaintext for the row named aad.
func (b *Box) Seal(plaintext []byte, aad string) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, plaintext, []byte(aad)), nil
}

// Open decrypts a Seal output for the row named aad. Its error never
// contains the plaintext.
func (b *Box) Open(sealed []byte, aad string) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, errors.New("stored secret is malformed (not written by this version of syncloop)")
	}
	p, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("stored secret of %q does not decrypt: %s differs from the key it was written with", aad, EnvKey)
	}
	return p, nil
}
