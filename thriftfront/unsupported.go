package thriftfront

import (
	"context"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// The calls below are answered with a clear "not supported" status until their issue lands:
// the metadata calls (GetCatalogs and the rest) and the delegation-token calls.

func (h *Handler) GetTypeInfo(ctx context.Context, req *hiveserver.TGetTypeInfoReq) (*hiveserver.TGetTypeInfoResp, error) {
	return &hiveserver.TGetTypeInfoResp{Status: errStatus(notSupported("GetTypeInfo"))}, nil
}

func (h *Handler) GetCatalogs(ctx context.Context, req *hiveserver.TGetCatalogsReq) (*hiveserver.TGetCatalogsResp, error) {
	return &hiveserver.TGetCatalogsResp{Status: errStatus(notSupported("GetCatalogs"))}, nil
}

func (h *Handler) GetSchemas(ctx context.Context, req *hiveserver.TGetSchemasReq) (*hiveserver.TGetSchemasResp, error) {
	return &hiveserver.TGetSchemasResp{Status: errStatus(notSupported("GetSchemas"))}, nil
}

func (h *Handler) GetTables(ctx context.Context, req *hiveserver.TGetTablesReq) (*hiveserver.TGetTablesResp, error) {
	return &hiveserver.TGetTablesResp{Status: errStatus(notSupported("GetTables"))}, nil
}

func (h *Handler) GetTableTypes(ctx context.Context, req *hiveserver.TGetTableTypesReq) (*hiveserver.TGetTableTypesResp, error) {
	return &hiveserver.TGetTableTypesResp{Status: errStatus(notSupported("GetTableTypes"))}, nil
}

func (h *Handler) GetColumns(ctx context.Context, req *hiveserver.TGetColumnsReq) (*hiveserver.TGetColumnsResp, error) {
	return &hiveserver.TGetColumnsResp{Status: errStatus(notSupported("GetColumns"))}, nil
}

func (h *Handler) GetFunctions(ctx context.Context, req *hiveserver.TGetFunctionsReq) (*hiveserver.TGetFunctionsResp, error) {
	return &hiveserver.TGetFunctionsResp{Status: errStatus(notSupported("GetFunctions"))}, nil
}

func (h *Handler) GetPrimaryKeys(ctx context.Context, req *hiveserver.TGetPrimaryKeysReq) (*hiveserver.TGetPrimaryKeysResp, error) {
	return &hiveserver.TGetPrimaryKeysResp{Status: errStatus(notSupported("GetPrimaryKeys"))}, nil
}

func (h *Handler) GetCrossReference(ctx context.Context, req *hiveserver.TGetCrossReferenceReq) (*hiveserver.TGetCrossReferenceResp, error) {
	return &hiveserver.TGetCrossReferenceResp{Status: errStatus(notSupported("GetCrossReference"))}, nil
}

func (h *Handler) GetDelegationToken(ctx context.Context, req *hiveserver.TGetDelegationTokenReq) (*hiveserver.TGetDelegationTokenResp, error) {
	return &hiveserver.TGetDelegationTokenResp{Status: errStatus(notSupported("delegation tokens"))}, nil
}

func (h *Handler) CancelDelegationToken(ctx context.Context, req *hiveserver.TCancelDelegationTokenReq) (*hiveserver.TCancelDelegationTokenResp, error) {
	return &hiveserver.TCancelDelegationTokenResp{Status: errStatus(notSupported("delegation tokens"))}, nil
}

func (h *Handler) RenewDelegationToken(ctx context.Context, req *hiveserver.TRenewDelegationTokenReq) (*hiveserver.TRenewDelegationTokenResp, error) {
	return &hiveserver.TRenewDelegationTokenResp{Status: errStatus(notSupported("delegation tokens"))}, nil
}
