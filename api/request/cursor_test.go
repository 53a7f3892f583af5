package request

import (
	"strings"
	"testing"

	"github.com/syncloop/syncloop/model"
)

func TestParseCursor(t *testing.T) {
	c, err := ParseCursor("after", "")
	if c != nil || err != nil {
		t.Fatalf(`ParseCursor("") = %v, %v; want the beginning (nil)`, c, err)
	}
	want := model.FeedCursor{ObjectID: 3, FeedPosition: model.FeedPosition{XID: 1234, ExternalID: "acc_1"}}
	c, err = ParseCursor("after", want.Encode())
	if err != nil || c == nil || *c != want {
		t.Fatalf("ParseCursor(%q) = %v, %v; want %+v", want.Encode(), c, err, want)
	}
	for _, bad := range []string{"nonsense", "AQ", want.Encode() + "A", strings.Repeat("é", 100)} {
		_, err := ParseCursor("after", bad)
		checkDecodeErr(t, err)
		if err == nil || !strings.Contains(err.Error(), "next_cursor of an earlier answer") {
			t.Errorf("ParseCursor(%q) err = %v; want a 400 naming the fix", bad, err)
		}
	}
}

// FuzzParseCursor: any text either fails as a 400 *Error, or is a cursor
// that encodes back to exactly the same text, with an external id that a
// records row can hold.
func FuzzParseCursor(f *testing.F) {
	f.Add("")
	f.Add(model.FeedCursor{ObjectID: 1}.Encode())
	f.Add(model.FeedCursor{ObjectID: 9, FeedPosition: model.FeedPosition{XID: 77, ExternalID: "acc_000001"}}.Encode())
	f.Add("AQAAAAAAAAAB")
	f.Add("AQAAAAAAAAABAAAAAAAAAE0A_w")
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor("after", s)
		checkDecodeErr(t, err)
		if err != nil || c == nil {
			if s != "" && c != nil {
				t.Fatalf("error with a cursor: %+v", c)
			}
			return
		}
		if got := c.Encode(); got != s {
			t.Fatalf("ParseCursor(%q) = %+v, which encodes to %q", s, c, got)
		}
		if c.ObjectID <= 0 || strings.ContainsRune(c.ExternalID, 0) || !validUTF8(c.ExternalID) {
			t.Fatalf("accepted cursor %+v", c)
		}
	})
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }
