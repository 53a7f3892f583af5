package control

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateConnectionRequiresHTTPSOffLoopback(t *testing.T) {
	ok := func(provider, base string, insecure bool) NewConnection {
		return NewConnection{Name: "c", Provider: provider, BaseURL: base, Token: "tok", InsecureHTTP: insecure}
	}
	for _, c := range []NewConnection{
		ok("salesforce", "https://acme.my.salesforce.com", false),
		ok("hubspot", "https://api.hubapi.com", false),
		ok("hubspot", "", false),
		ok("salesforce", "http://127.0.0.1:8081", false),
		ok("salesforce", "http://127.5.5.5:8081", false),
		ok("hubspot", "http://localhost:9000", false),
		ok("hubspot", "http://[::1]:9000", false),
		ok("salesforce", "http://sf.internal:8080", true),
		ok("demo", "http://democrm:8090", false),
	} {
		if err := ValidateConnection(c); err != nil {
			t.Errorf("%s %q (insecure %v): %v", c.Provider, c.BaseURL, c.InsecureHTTP, err)
		}
	}
	for _, c := range []NewConnection{
		ok("salesforce", "http://acme.my.salesforce.com", false),
		ok("hubspot", "http://api.hubapi.com", false),
		ok("hubspot", "http://10.0.0.5:9000", false),
		ok("salesforce", "http://0.0.0.0:8081", false),
	} {
		err := ValidateConnection(c)
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("%s %q: %v, want an input error", c.Provider, c.BaseURL, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "cleartext") || !strings.Contains(msg, "https://") || !strings.Contains(msg, FlagInsecureHTTP) || strings.Contains(msg, "\n") {
			t.Errorf("error %q does not name the fix on one line", msg)
		}
	}
}
