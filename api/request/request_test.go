package request

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syncloop/syncloop/model"
)

func TestDecodeAddObject(t *testing.T) {
	req, err := DecodeAddObject(strings.NewReader(` {"object":"acme/demo/accounts","interval":"1d12h","connection":"sf-prod"} `), 1024)
	require.NoError(t, err)
	assert.Equal(t, model.ObjectKey{Tenant: "acme", Provider: "demo", ObjectType: "accounts"}, req.Key)
	assert.Equal(t, 36*time.Hour, req.Interval)
	assert.Equal(t, "sf-prod", req.Connection)

	req, err = DecodeAddObject(strings.NewReader(`{"object":"acme/demo/accounts"}`), 1024)
	require.NoError(t, err)
	assert.Zero(t, req.Interval, "no interval means the default")

	for body, want := range map[string]string{
		``:                                       "empty",
		`{}`:                                     `"object" is required`,
		`{"object":"acme/demo/accounts","x":1}`:  `unknown field "x"`,
		`{"object":1}`:                           `"object" must be a string`,
		`{"object":"a/b/c","interval":"10y"}`:    "between 1m and 7d",
		`{"object":"a/b/c"`:                      "truncated JSON",
		`{"object":"a/b/c"}x`:                    "after the JSON object",
		`{"object":"a/b/c",}`:                    "malformed JSON",
		`{"object":"a/b/c","connection":"x\ny"}`: "printable",
		"\u00a0{\"object\":\"a/b/c\"}":           "must be a JSON object",
	} {
		_, err := DecodeAddObject(strings.NewReader(body), 1024)
		var ae *Error
		require.ErrorAs(t, err, &ae, "body %q", body)
		assert.Equal(t, http.StatusBadRequest, ae.Status, "body %q", body)
		assert.Contains(t, ae.Msg, want, "body %q", body)
	}
	_, err = DecodeAddObject(strings.NewReader(`{"object":"`+strings.Repeat("a", 2000)+`"}`), 1024)
	var ae *Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusRequestEntityTooLarge, ae.Status)
	// A MaxBytesReader in front says the same.
	rec := httptest.NewRecorder()
	_, err = DecodeAddObject(http.MaxBytesReader(rec, ioNopCloser{strings.NewReader(strings.Repeat(" ", 100))}, 10), 1024)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusRequestEntityTooLarge, ae.Status)
}

type ioNopCloser struct{ *strings.Reader }

func (ioNopCloser) Close() error { return nil }

func TestDecodeTriggerAndInterval(t *testing.T) {
	reason, err := DecodeTrigger(strings.NewReader(""), 100)
	require.NoError(t, err)
	assert.Empty(t, reason)
	reason, err = DecodeTrigger(strings.NewReader(`{"reason":"fixed"}`), 100)
	require.NoError(t, err)
	assert.Equal(t, "fixed", reason)
	_, err = DecodeTrigger(strings.NewReader(`{"reason":"`+strings.Repeat("é", 501)+`"}`), 4096)
	assert.Error(t, err)

	d, err := DecodeInterval(strings.NewReader(`{"interval":"30m"}`), 100)
	require.NoError(t, err)
	assert.Equal(t, 30*time.Minute, d)
	for _, body := range []string{`{"interval":""}`, `{"interval":"0"}`, `{"interval":"8d"}`, `{"interval":30}`, `{}`, `{"interval":"30m","x":1}`} {
		_, err := DecodeInterval(strings.NewReader(body), 100)
		assert.Error(t, err, body)
	}
}

func TestParseQuery(t *testing.T) {
	for s, want := range map[string]bool{"": false, "false": false, "0": false, "true": true, "1": true} {
		got, err := ParseForce(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	for _, s := range []string{"maybe", "TRUE ", "yes", "2"} {
		_, err := ParseForce(s)
		assert.Error(t, err, s)
	}
	n, err := ParseLimit("limit", "", 50, 1, 1000)
	require.NoError(t, err)
	assert.Equal(t, 50, n)
	n, err = ParseLimit("limit", "1000", 50, 1, 1000)
	require.NoError(t, err)
	assert.Equal(t, 1000, n)
	for _, s := range []string{"abc", "0", "1001", "-1", "1.5", "99999999999999999999"} {
		_, err := ParseLimit("limit", s, 50, 1, 1000)
		assert.Error(t, err, s)
	}
	assert.NoError(t, CheckQuery(url.Values{"force": {"true"}}, []string{"force"}))
	assert.Error(t, CheckQuery(url.Values{"forse": {"true"}}, []string{"force"}))
	assert.Error(t, CheckQuery(url.Values{"force": {"true", "false"}}, []string{"force"}))
	assert.Error(t, CheckQuery(url.Values{"x": {""}}, nil))
}

func TestCheckContentType(t *testing.T) {
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"} {
		assert.NoError(t, CheckContentType(ct), ct)
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json", ";;"} {
		err := CheckContentType(ct)
		var ae *Error
		require.ErrorAs(t, err, &ae, ct)
		assert.Equal(t, http.StatusUnsupportedMediaType, ae.Status)
	}
}

// Fuzz targets over the request decoding. Each must never panic, and
// every error must be a 400 or 413 *Error.

func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if ae.Status != http.StatusBadRequest && ae.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d for a decoding error", ae.Status)
	}
	if ae.Msg == "" || ae.Code == "" {
		t.Fatalf("error without message or code: %+v", ae)
	}
	if len(ae.Msg) > 1200 {
		t.Fatalf("message of %d bytes echoes too much input", len(ae.Msg))
	}
}

func FuzzDecodeAddObject(f *testing.F) {
	for _, s := range []string{
		`{"object":"acme/demo/accounts","interval":"30m"}`, `{"object":"a/b/c","connection":"x"}`, ``, `{`, `[]`, `null`,
		`{"object":"A/b/c"}`, `{"object":"a/b/c","interval":"10y"}`, `{"object":"a/b/c"} {}`, `{"x":1}`, `{"object":"a/b/c","interval":"1d-1h"}`,
		`{"object":"a/b/c","interval":"9223372036854775807d"}`, "{\"object\":\"a/b/c\",\"connection\":\"\\u0000\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeAddObject(bytes.NewReader(data), 512)
		checkDecodeErr(t, err)
		if err != nil {
			return
		}
		if verr := req.Key.Validate(); verr != nil {
			t.Fatalf("accepted invalid key %+v: %v", req.Key, verr)
		}
		if req.Interval != 0 && model.ValidateInterval(req.Interval) != nil {
			t.Fatalf("accepted interval %v out of range", req.Interval)
		}
		if len(data) > 512 {
			t.Fatalf("accepted %d bytes over the limit", len(data))
		}
	})
}

func FuzzDecodeInterval(f *testing.F) {
	for _, s := range []string{`{"interval":"30m"}`, `{"interval":"1d12h"}`, `{"interval":"7d"}`, `{"interval":"7d1ns"}`,
		`{"interval":"-1d"}`, `{"interval":"d"}`, `{"interval":"365d-8759h"}`, `{"interval":" 5m "}`, `{"interval":30}`, `{}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodeInterval(bytes.NewReader(data), 256)
		checkDecodeErr(t, err)
		if err == nil && (d < model.MinInterval || d > model.MaxInterval) {
			t.Fatalf("accepted interval %v from %q", d, data)
		}
	})
}

func FuzzDecodeTrigger(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"reason":"x"}`, `{"reason":null}`, `{"reason":1}`, ` `, `{"reason":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reason, err := DecodeTrigger(bytes.NewReader(data), 2048)
		checkDecodeErr(t, err)
		if err == nil && len([]rune(reason)) > maxReasonLen {
			t.Fatalf("accepted a reason of %d characters", len([]rune(reason)))
		}
	})
}

func FuzzParseObjectPath(f *testing.F) {
	f.Add("acme", "demo", "accounts")
	f.Add("ACME", "x", "y")
	f.Add("a/b", "c", "d")
	f.Add("", "b", "c")
	f.Add(strings.Repeat("a", 65), "b", "c")
	f.Add("a", "b", "c\x00")
	f.Fuzz(func(t *testing.T, tenant, provider, object string) {
		k, err := ParseObjectPath(tenant, provider, object)
		checkDecodeErr(t, err)
		if err != nil {
			return
		}
		back, perr := model.ParseObjectKey(k.String())
		if perr != nil || back != k {
			t.Fatalf("accepted %+v, which does not round-trip: %+v %v", k, back, perr)
		}
		if !strings.HasPrefix(k.WorkflowID(), "sync/") || strings.Count(k.String(), "/") != 2 {
			t.Fatalf("bad key %q", k)
		}
	})
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "force=true", "force=maybe", "limit=50", "limit=abc", "limit=1&limit=2", "forse=1", "%zz", "limit=-0", "limit=+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if err := CheckQuery(q, []string{"force", "limit"}); err != nil {
			checkDecodeErr(t, err)
			return
		}
		_, err = ParseForce(q.Get("force"))
		checkDecodeErr(t, err)
		n, err := ParseLimit("limit", q.Get("limit"), DefaultLimit, 1, MaxLimit)
		checkDecodeErr(t, err)
		if err == nil && (n < 1 || n > MaxLimit) {
			t.Fatalf("limit %d out of range from %q", n, raw)
		}
	})
}
