package thriftfront

import (
	"context"
	"time"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// Observer is told of the frontend's connections, calls and failed logins, for metrics
// (package metrics implements it; the frontend links no metrics library). Its methods run
// on the connection's goroutine and must return quickly.
//
// protocol is "hs2_binary" or "hs2_http". A connection of the HTTP transport is counted by
// the http.Server that owns it, not here.
type Observer interface {
	// ConnOpened and ConnClosed bracket every binary connection accepted.
	ConnOpened(protocol string)
	ConnClosed(protocol string)
	// ConnFailed counts a connection refused ("limit": a connection cap; "denied": a deny
	// list) or ended before its first call ("handshake": no valid SASL or Thrift start;
	// "auth": credentials refused). On HTTP, "denied" counts a request refused with 403.
	ConnFailed(protocol, reason string)
	// RPC reports a TCLIService call: its method, its TStatusCode name (SUCCESS_STATUS,
	// ERROR_STATUS, INVALID_HANDLE_STATUS, ...; EXCEPTION for a call answered with a Thrift
	// exception) and how long it took.
	RPC(protocol, method, code string, d time.Duration)
	// AuthFailed counts refused credentials, by mechanism ("plain": SASL PLAIN; "basic":
	// HTTP Basic; "bearer": an HTTP bearer token).
	AuthFailed(protocol, mechanism string)
}

// Protocol labels the Observer gets.
const (
	protoBinary = "hs2_binary"
	protoHTTP   = "hs2_http"
)

type nopObserver struct{}

func (nopObserver) ConnOpened(string)                         {}
func (nopObserver) ConnClosed(string)                         {}
func (nopObserver) ConnFailed(string, string)                 {}
func (nopObserver) RPC(string, string, string, time.Duration) {}
func (nopObserver) AuthFailed(string, string)                 {}

// protocolOf is the Observer's protocol label of a call's connection.
func protocolOf(ctx context.Context) string {
	if ci := connInfoFrom(ctx); ci != nil && ci.http {
		return protoHTTP
	}
	return protoBinary
}

// statusName is the RPC label of a reply's status.
func statusName(st *hiveserver.TStatus, err error) string {
	switch {
	case err != nil:
		return "EXCEPTION"
	case st == nil:
		return "SUCCESS_STATUS"
	}
	return st.StatusCode.String()
}

// reported is a call's reply, whose status the observer hears.
type reported interface {
	comparable
	GetStatus() *hiveserver.TStatus
}

// observeCall serves one TCLIService call with fn and reports it.
func observeCall[Req any, Resp reported](h *Handler, ctx context.Context, method string, req Req, fn func(context.Context, Req) (Resp, error)) (Resp, error) {
	start := time.Now()
	resp, err := fn(ctx, req)
	var st *hiveserver.TStatus
	if var0 := *new(Resp); resp != var0 {
		st = resp.GetStatus()
	}
	h.cfg.Observer.RPC(protocolOf(ctx), method, statusName(st, err), time.Since(start))
	return resp, err
}

// observed is the TCLIService the generated processor calls: the Handler, each call
// reported to the observer. FetchResults, which has a processor of its own (fetchwire.go),
// reports itself.
type observed struct{ h *Handler }

var _ hiveserver.TCLIService = observed{}

func (o observed) OpenSession(ctx context.Context, r *hiveserver.TOpenSessionReq) (*hiveserver.TOpenSessionResp, error) {
	return observeCall(o.h, ctx, "OpenSession", r, o.h.OpenSession)
}
func (o observed) CloseSession(ctx context.Context, r *hiveserver.TCloseSessionReq) (*hiveserver.TCloseSessionResp, error) {
	return observeCall(o.h, ctx, "CloseSession", r, o.h.CloseSession)
}
func (o observed) GetInfo(ctx context.Context, r *hiveserver.TGetInfoReq) (*hiveserver.TGetInfoResp, error) {
	return observeCall(o.h, ctx, "GetInfo", r, o.h.GetInfo)
}
func (o observed) ExecuteStatement(ctx context.Context, r *hiveserver.TExecuteStatementReq) (*hiveserver.TExecuteStatementResp, error) {
	return observeCall(o.h, ctx, "ExecuteStatement", r, o.h.ExecuteStatement)
}
func (o observed) GetTypeInfo(ctx context.Context, r *hiveserver.TGetTypeInfoReq) (*hiveserver.TGetTypeInfoResp, error) {
	return observeCall(o.h, ctx, "GetTypeInfo", r, o.h.GetTypeInfo)
}
func (o observed) GetCatalogs(ctx context.Context, r *hiveserver.TGetCatalogsReq) (*hiveserver.TGetCatalogsResp, error) {
	return observeCall(o.h, ctx, "GetCatalogs", r, o.h.GetCatalogs)
}
func (o observed) GetSchemas(ctx context.Context, r *hiveserver.TGetSchemasReq) (*hiveserver.TGetSchemasResp, error) {
	return observeCall(o.h, ctx, "GetSchemas", r, o.h.GetSchemas)
}
func (o observed) GetTables(ctx context.Context, r *hiveserver.TGetTablesReq) (*hiveserver.TGetTablesResp, error) {
	return observeCall(o.h, ctx, "GetTables", r, o.h.GetTables)
}
func (o observed) GetTableTypes(ctx context.Context, r *hiveserver.TGetTableTypesReq) (*hiveserver.TGetTableTypesResp, error) {
	return observeCall(o.h, ctx, "GetTableTypes", r, o.h.GetTableTypes)
}
func (o observed) GetColumns(ctx context.Context, r *hiveserver.TGetColumnsReq) (*hiveserver.TGetColumnsResp, error) {
	return observeCall(o.h, ctx, "GetColumns", r, o.h.GetColumns)
}
func (o observed) GetFunctions(ctx context.Context, r *hiveserver.TGetFunctionsReq) (*hiveserver.TGetFunctionsResp, error) {
	return observeCall(o.h, ctx, "GetFunctions", r, o.h.GetFunctions)
}
func (o observed) GetPrimaryKeys(ctx context.Context, r *hiveserver.TGetPrimaryKeysReq) (*hiveserver.TGetPrimaryKeysResp, error) {
	return observeCall(o.h, ctx, "GetPrimaryKeys", r, o.h.GetPrimaryKeys)
}
func (o observed) GetCrossReference(ctx context.Context, r *hiveserver.TGetCrossReferenceReq) (*hiveserver.TGetCrossReferenceResp, error) {
	return observeCall(o.h, ctx, "GetCrossReference", r, o.h.GetCrossReference)
}
func (o observed) GetOperationStatus(ctx context.Context, r *hiveserver.TGetOperationStatusReq) (*hiveserver.TGetOperationStatusResp, error) {
	return observeCall(o.h, ctx, "GetOperationStatus", r, o.h.GetOperationStatus)
}
func (o observed) CancelOperation(ctx context.Context, r *hiveserver.TCancelOperationReq) (*hiveserver.TCancelOperationResp, error) {
	return observeCall(o.h, ctx, "CancelOperation", r, o.h.CancelOperation)
}
func (o observed) CloseOperation(ctx context.Context, r *hiveserver.TCloseOperationReq) (*hiveserver.TCloseOperationResp, error) {
	return observeCall(o.h, ctx, "CloseOperation", r, o.h.CloseOperation)
}
func (o observed) GetResultSetMetadata(ctx context.Context, r *hiveserver.TGetResultSetMetadataReq) (*hiveserver.TGetResultSetMetadataResp, error) {
	return observeCall(o.h, ctx, "GetResultSetMetadata", r, o.h.GetResultSetMetadata)
}
func (o observed) FetchResults(ctx context.Context, r *hiveserver.TFetchResultsReq) (*hiveserver.TFetchResultsResp, error) {
	return observeCall(o.h, ctx, "FetchResults", r, o.h.FetchResults)
}
func (o observed) GetDelegationToken(ctx context.Context, r *hiveserver.TGetDelegationTokenReq) (*hiveserver.TGetDelegationTokenResp, error) {
	return observeCall(o.h, ctx, "GetDelegationToken", r, o.h.GetDelegationToken)
}
func (o observed) CancelDelegationToken(ctx context.Context, r *hiveserver.TCancelDelegationTokenReq) (*hiveserver.TCancelDelegationTokenResp, error) {
	return observeCall(o.h, ctx, "CancelDelegationToken", r, o.h.CancelDelegationToken)
}
func (o observed) RenewDelegationToken(ctx context.Context, r *hiveserver.TRenewDelegationTokenReq) (*hiveserver.TRenewDelegationTokenResp, error) {
	return observeCall(o.h, ctx, "RenewDelegationToken", r, o.h.RenewDelegationToken)
}
func (o observed) SetClientInfo(ctx context.Context, r *hiveserver.TSetClientInfoReq) (*hiveserver.TSetClientInfoResp, error) {
	return observeCall(o.h, ctx, "SetClientInfo", r, o.h.SetClientInfo)
}

// GetQueryId's reply has no status: an error is its failure.
func (o observed) GetQueryId(ctx context.Context, r *hiveserver.TGetQueryIdReq) (*hiveserver.TGetQueryIdResp, error) {
	start := time.Now()
	resp, err := o.h.GetQueryId(ctx, r)
	o.h.cfg.Observer.RPC(protocolOf(ctx), "GetQueryId", statusName(nil, err), time.Since(start))
	return resp, err
}
