package thriftfront

import (
	"context"

	"github.com/sparkbridge/sparkbridge/idl/hiveserver"
)

// The delegation-token calls are answered with a clear "not supported" status: the bridge
// does not issue Hadoop delegation tokens.

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
