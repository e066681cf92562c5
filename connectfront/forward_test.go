package connectfront

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
)

// drain runs a statement and returns every response of its result stream.
func drain(t testing.TB, c connectgrpc.SparkConnectServiceClient, sid, q string) []*connect.ExecutePlanResponse {
	t.Helper()
	stream, err := c.ExecutePlan(context.Background(), &connect.ExecutePlanRequest{
		SessionId: sid, UserContext: &connect.UserContext{UserId: "alice"}, Plan: sqlPlan(q)})
	if err != nil {
		t.Fatal(err)
	}
	var out []*connect.ExecutePlanResponse
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp)
	}
}

// Result frames are forwarded undecoded: what the client reads through the bridge is what
// the engine sent, message for message.
func TestResultFramesForwardedUnchanged(t *testing.T) {
	b := startBridge(t)
	conn, err := grpc.NewClient(b.spark.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	direct := connectgrpc.NewSparkConnectServiceClient(conn)
	for _, q := range []string{"rows 4321", "bytes 3 2000000", "ddl"} {
		want := drain(t, direct, uuid.NewString(), q)
		got := drain(t, b.client, uuid.NewString(), q)
		if len(got) != len(want) {
			t.Fatalf("%s: %d responses through the bridge, %d direct", q, len(got), len(want))
		}
		for i := range want {
			want[i].SessionId, got[i].SessionId = "", ""     // each side used its own session
			want[i].OperationId, got[i].OperationId = "", "" // and its own operation id
			if !proto.Equal(got[i], want[i]) {
				t.Fatalf("%s: response %d differs", q, i)
			}
		}
	}
}

// BenchmarkExecutePlanForward streams 32 × 1 MiB result frames from the fake engine,
// directly and through the bridge; the difference is the bridge's forwarding cost.
func BenchmarkExecutePlanForward(b *testing.B) {
	const frames, size = 32, 1 << 20
	br := startBridge(b)
	conn, err := grpc.NewClient(br.spark.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	bconn, err := grpc.NewClient(br.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		b.Fatal(err)
	}
	defer bconn.Close()
	for _, tc := range []struct {
		name string
		c    connectgrpc.SparkConnectServiceClient
	}{{"direct", connectgrpc.NewSparkConnectServiceClient(conn)}, {"bridge", connectgrpc.NewSparkConnectServiceClient(bconn)}} {
		b.Run(tc.name, func(b *testing.B) {
			sid := uuid.NewString()
			b.SetBytes(frames * size)
			b.ReportAllocs()
			for b.Loop() {
				if got := drain(b, tc.c, sid, "bytes 32 1048576"); len(got) != frames+1 {
					b.Fatalf("%d responses", len(got))
				}
			}
		})
	}
}
