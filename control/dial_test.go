package control

import (
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/syncloop/syncloop/internal/config"
)

// The connection's compression for each SYNCLOOP_TEMPORAL_COMPRESSION
// setting: auto saves gzip's CPU on a loopback connection only.
func TestGrpcCompression(t *testing.T) {
	none, gzip := &client.GrpcCompressionNone{}, &client.GrpcCompressionGzip{}
	for _, tc := range []struct {
		mode, hostPort string
		want           client.GrpcCompression
	}{
		{"", "127.0.0.1:7233", none},
		{config.CompressionAuto, "localhost:7233", none},
		{config.CompressionAuto, "LOCALHOST:7233", none},
		{config.CompressionAuto, "[::1]:7233", none},
		{config.CompressionAuto, "127.0.0.2:7233", none},
		{config.CompressionAuto, "temporal.internal:7233", gzip},
		{config.CompressionAuto, "10.0.0.5:7233", gzip},
		{config.CompressionAuto, "ns.acct.tmprl.cloud:7233", gzip},
		{config.CompressionGzip, "127.0.0.1:7233", gzip},
		{config.CompressionNone, "ns.acct.tmprl.cloud:7233", none},
	} {
		got := grpcCompression(tc.mode, tc.hostPort)
		if _, isNone := got.(*client.GrpcCompressionNone); isNone != (tc.want == client.GrpcCompression(none)) {
			t.Errorf("%q for %s: got %T, want %T", tc.mode, tc.hostPort, got, tc.want)
		}
	}
}
