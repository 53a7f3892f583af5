package model

import (
	"strings"
	"testing"
)

func TestFeedCursorRoundTrip(t *testing.T) {
	for _, c := range []FeedCursor{
		{ObjectID: 1},
		{ObjectID: 42, FeedPosition: FeedPosition{XID: 1 << 40, ExternalID: "acc_000001"}},
		{ObjectID: 1<<62 + 3, FeedPosition: FeedPosition{XID: ^uint64(0), ExternalID: "é/ü 日本 \u2028"}},
	} {
		s := c.Encode()
		if strings.ContainsAny(s, "+/=") {
			t.Errorf("cursor %q is not URL-safe without padding", s)
		}
		got, err := DecodeFeedCursor(s)
		if err != nil || got != c {
			t.Errorf("DecodeFeedCursor(%q) = %+v, %v; want %+v", s, got, err, c)
		}
	}
	good := FeedCursor{ObjectID: 7, FeedPosition: FeedPosition{XID: 9, ExternalID: "x"}}.Encode()
	for _, bad := range []string{
		"", "x", good + "=", good[:len(good)-1] + "*", strings.ToUpper(good),
		cursorEncoding.EncodeToString([]byte{2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9}), // unknown version
		cursorEncoding.EncodeToString([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}), // object 0
		cursorEncoding.EncodeToString([]byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0}),                // short
		cursorEncoding.EncodeToString(append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9}, 0xff)),
		cursorEncoding.EncodeToString(append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9}, 'a', 0)),
		strings.Repeat("A", MaxFeedCursorLen+1),
	} {
		if c, err := DecodeFeedCursor(bad); err == nil {
			t.Errorf("DecodeFeedCursor(%q) = %+v; want an error", bad, c)
		}
	}
}
