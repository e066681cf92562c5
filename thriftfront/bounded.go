package thriftfront

import (
	"context"
	"fmt"

	"github.com/apache/thrift/lib/go/thrift"
)

// maxContainerElems bounds the element count a client may declare for one map, list or set,
// whatever the transport. The generated readers allocate the declared size before reading
// an element (make(map, n)); a request of a few dozen bytes must not cost more than a few
// megabytes. No TCLIService request needs more: the largest are confOverlay and session
// configuration maps of a few hundred entries.
const maxContainerElems = 1 << 16

// boundedProtocol is the reading side of a connection's protocol. Every container size a
// client declares is checked before the generated code allocates for it: against the bytes
// left in the current frame or body (each element takes at least its minimal encoded size,
// so a count the remaining bytes cannot hold is a lie), and against maxContainerElems.
// Strings and binaries need no check here: the library reads them as their bytes arrive.
type boundedProtocol struct {
	thrift.TProtocol
	trans thrift.TTransport
}

func newBoundedProtocol(p thrift.TProtocol, trans thrift.TTransport) *boundedProtocol {
	return &boundedProtocol{TProtocol: p, trans: trans}
}

// minEncodedSize is the fewest bytes the binary protocol spends on one value of t.
func minEncodedSize(t thrift.TType) uint64 {
	switch t {
	case thrift.BOOL, thrift.BYTE:
		return 1
	case thrift.I16:
		return 2
	case thrift.I32:
		return 4
	case thrift.I64, thrift.DOUBLE:
		return 8
	case thrift.STRING:
		return 4 // the length
	case thrift.STRUCT:
		return 1 // the STOP field
	case thrift.MAP:
		return 6
	case thrift.LIST, thrift.SET:
		return 5
	}
	return 1
}

func (p *boundedProtocol) check(kind string, size int, elem uint64) error {
	if size < 0 {
		return thrift.NewTProtocolExceptionWithType(thrift.NEGATIVE_SIZE, fmt.Errorf("%s of negative size %d", kind, size))
	}
	if size > maxContainerElems {
		return thrift.NewTProtocolExceptionWithType(thrift.SIZE_LIMIT,
			fmt.Errorf("%s of %d elements exceeds the limit of %d", kind, size, maxContainerElems))
	}
	if left := p.trans.RemainingBytes(); uint64(size)*elem > left {
		return thrift.NewTProtocolExceptionWithType(thrift.SIZE_LIMIT,
			fmt.Errorf("%s declares %d elements, more than the %d bytes left in the message can hold", kind, size, left))
	}
	return nil
}

func (p *boundedProtocol) ReadMapBegin(ctx context.Context) (thrift.TType, thrift.TType, int, error) {
	k, v, size, err := p.TProtocol.ReadMapBegin(ctx)
	if err == nil {
		err = p.check("map", size, minEncodedSize(k)+minEncodedSize(v))
	}
	return k, v, size, err
}

func (p *boundedProtocol) ReadListBegin(ctx context.Context) (thrift.TType, int, error) {
	e, size, err := p.TProtocol.ReadListBegin(ctx)
	if err == nil {
		err = p.check("list", size, minEncodedSize(e))
	}
	return e, size, err
}

func (p *boundedProtocol) ReadSetBegin(ctx context.Context) (thrift.TType, int, error) {
	e, size, err := p.TProtocol.ReadSetBegin(ctx)
	if err == nil {
		err = p.check("set", size, minEncodedSize(e))
	}
	return e, size, err
}
