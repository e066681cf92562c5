package thriftfront

import (
	"context"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// The calls below are answered with a clear "not supported" status until their issue lands:
// the metadata calls (GetCatalogs and the rest) and the delegation-token calls.

func (h *Handler) GetTypeInfo(ctx context.Context, req *hiveserver.TGetTypeInfoReq) (*hiveserver.TGetTypeInfoResp, error) {
	if req == nil {
		return &hiveserver.TGetTypeInfoResp{Status: errStatus(missingRequest("GetTypeInfo"))}, nil
	}
	return &hiveserver.TGetTypeInfoResp{Status: errStatus(notSupported("GetTypeInfo"))}, nil
}

func (h *Handler) GetCatalogs(ctx context.Context, req *hiveserver.TGetCatalogsReq) (*hiveserver.TGetCatalogsResp, error) {
	if req == nil {
		return &hiveserver.TGetCatalogsResp{Status: errStatus(missingRequest("GetCatalogs"))}, nil
	}
	return &hiveserver.TGetCatalogsResp{Status: errStatus(notSupported("GetCatalogs"))}, nil
}

func (h *Handler) GetSchemas(ctx context.Context, req *hiveserver.TGetSchemasReq) (*hiveserver.TGetSchemasResp, error) {
	if req == nil {
		return &hiveserver.TGetSchemasResp{Status: errStatus(missingRequest("GetSchemas"))}, nil
	}
	return &hiveserver.TGetSchemasResp{Status: errStatus(notSupported("GetSchemas"))}, nil
}

func (h *Handler) GetTables(ctx context.Context, req *hiveserver.TGetTablesReq) (*hiveserver.TGetTablesResp, error) {
	if req == nil {
		return &hiveserver.TGetTablesResp{Status: errStatus(missingRequest("GetTables"))}, nil
	}
	return &hiveserver.TGetTablesResp{Status: errStatus(notSupported("GetTables"))}, nil
}

func (h *Handler) GetTableTypes(ctx context.Context, req *hiveserver.TGetTableTypesReq) (*hiveserver.TGetTableTypesResp, error) {
	if req == nil {
		return &hiveserver.TGetTableTypesResp{Status: errStatus(missingRequest("GetTableTypes"))}, nil
	}
	return &hiveserver.TGetTableTypesResp{Status: errStatus(notSupported("GetTableTypes"))}, nil
}

func (h *Handler) GetColumns(ctx context.Context, req *hiveserver.TGetColumnsReq) (*hiveserver.TGetColumnsResp, error) {
	if req == nil {
		return &hiveserver.TGetColumnsResp{Status: errStatus(missingRequest("GetColumns"))}, nil
	}
	return &hiveserver.TGetColumnsResp{Status: errStatus(notSupported("GetColumns"))}, nil
}

func (h *Handler) GetFunctions(ctx context.Context, req *hiveserver.TGetFunctionsReq) (*hiveserver.TGetFunctionsResp, error) {
	if req == nil {
		return &hiveserver.TGetFunctionsResp{Status: errStatus(missingRequest("GetFunctions"))}, nil
	}
	return &hiveserver.TGetFunctionsResp{Status: errStatus(notSupported("GetFunctions"))}, nil
}

func (h *Handler) GetPrimaryKeys(ctx context.Context, req *hiveserver.TGetPrimaryKeysReq) (*hiveserver.TGetPrimaryKeysResp, error) {
	if req == nil {
		return &hiveserver.TGetPrimaryKeysResp{Status: errStatus(missingRequest("GetPrimaryKeys"))}, nil
	}
	return &hiveserver.TGetPrimaryKeysResp{Status: errStatus(notSupported("GetPrimaryKeys"))}, nil
}

func (h *Handler) GetCrossReference(ctx context.Context, req *hiveserver.TGetCrossReferenceReq) (*hiveserver.TGetCrossReferenceResp, error) {
	if req == nil {
		return &hiveserver.TGetCrossReferenceResp{Status: errStatus(missingRequest("GetCrossReference"))}, nil
	}
	return &hiveserver.TGetCrossReferenceResp{Status: errStatus(notSupported("GetCrossReference"))}, nil
}

func (h *Handler) GetDelegationToken(ctx context.Context, req *hiveserver.TGetDelegationTokenReq) (*hiveserver.TGetDelegationTokenResp, error) {
	if req == nil {
		return &hiveserver.TGetDelegationTokenResp{Status: errStatus(missingRequest("GetDelegationToken"))}, nil
	}
	return &hiveserver.TGetDelegationTokenResp{Status: errStatus(notSupported("delegation tokens"))}, nil
}

func (h *Handler) CancelDelegationToken(ctx context.Context, req *hiveserver.TCancelDelegationTokenReq) (*hiveserver.TCancelDelegationTokenResp, error) {
	if req == nil {
		return &hiveserver.TCancelDelegationTokenResp{Status: errStatus(missingRequest("CancelDelegationToken"))}, nil
	}
	return &hiveserver.TCancelDelegationTokenResp{Status: errStatus(notSupported("delegation tokens"))}, nil
}

func (h *Handler) RenewDelegationToken(ctx context.Context, req *hiveserver.TRenewDelegationTokenReq) (*hiveserver.TRenewDelegationTokenResp, error) {
	if req == nil {
		return &hiveserver.TRenewDelegationTokenResp{Status: errStatus(missingRequest("RenewDelegationToken"))}, nil
	}
	return &hiveserver.TRenewDelegationTokenResp{Status: errStatus(notSupported("delegation tokens"))}, nil
}
