package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sparkbridge/sparkbridge/proto/spark/connect"
	"github.com/sparkbridge/sparkbridge/proto/spark/connect/connectgrpc"
)

// connectClient is a minimal Go Spark Connect client: one session, SQL executed as a plan,
// Arrow batches collected (decoded and released, not turned into rows).
type connectClient struct {
	conn    *grpc.ClientConn
	svc     connectgrpc.SparkConnectServiceClient
	session string
	user    string
	// maxBatch is the largest Arrow batch seen, in bytes.
	maxBatch int
}

// token sends a bearer token over plaintext loopback, as the bridge itself does to its engines.
type token string

func (t token) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}
func (token) RequireTransportSecurity() bool { return false }

func dialConnect(addr, tok, user string) (*connectClient, error) {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256 << 20)),
		grpc.WithInitialWindowSize(8 << 20), grpc.WithInitialConnWindowSize(16 << 20),
	}
	if tok != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(token(tok)))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, err
	}
	return &connectClient{conn: conn, svc: connectgrpc.NewSparkConnectServiceClient(conn), session: uuid.NewString(), user: user}, nil
}

func (c *connectClient) Close() error {
	ctx := context.Background()
	_, _ = c.svc.ReleaseSession(ctx, &connect.ReleaseSessionRequest{SessionId: c.session, UserContext: &connect.UserContext{UserId: c.user}})
	return c.conn.Close()
}

// collect is what one collected query gave.
type collected struct {
	Rows, Bytes, FirstSum int64
}

// sql executes query and collects its Arrow result. With decode, every batch is read with
// arrow-go's IPC reader and the first BIGINT column summed; without, batches are counted.
func (c *connectClient) sql(ctx context.Context, query string, decode bool) (collected, error) {
	req := &connect.ExecutePlanRequest{
		SessionId:   c.session,
		UserContext: &connect.UserContext{UserId: c.user},
		Plan:        &connect.Plan{OpType: &connect.Plan_Root{Root: &connect.Relation{RelType: &connect.Relation_Sql{Sql: &connect.SQL{Query: query}}}}},
	}
	stream, err := c.svc.ExecutePlan(ctx, req)
	if err != nil {
		return collected{}, err
	}
	var out collected
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b := resp.GetArrowBatch()
		if b == nil {
			continue
		}
		out.Bytes += int64(len(b.GetData()))
		c.maxBatch = max(c.maxBatch, len(b.GetData()))
		if !decode {
			out.Rows += b.GetRowCount()
			continue
		}
		n, sum, err := decodeBatch(b.GetData())
		if err != nil {
			return out, err
		}
		if n != b.GetRowCount() {
			return out, fmt.Errorf("batch says %d rows, holds %d", b.GetRowCount(), n)
		}
		out.Rows += n
		out.FirstSum += sum
	}
}

func decodeBatch(data []byte) (rows, sum int64, err error) {
	r, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return 0, 0, err
	}
	defer r.Release()
	for r.Next() {
		rec := r.RecordBatch()
		rows += rec.NumRows()
		if col, ok := rec.Column(0).(*array.Int64); ok {
			for _, v := range col.Int64Values() {
				sum += v
			}
		}
	}
	return rows, sum, r.Err()
}
