package translate

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The arrow-go IPC reader trusts the lengths inside message metadata: a
// vector length of a few billion in a schema makes it allocate that many
// fields, which kills the process with an out-of-memory error that no
// recover can catch. checkStreamMetadata walks the stream's framing the way
// the reader does and checks every metadata flatbuffer first: each vector the
// reader sizes an allocation by must fit inside its buffer, nesting is
// shallow, and no more tables are visited than the buffer could hold.
//
// Only what protects the process is checked. Anything else the reader gets
// wrong on malformed input ends in a panic it recovers itself.

// maxFieldDepth bounds Field nesting; Spark never nests anywhere near it.
const maxFieldDepth = 64

// Positions of the fields used below in the tables of Arrow's Message.fbs and
// Schema.fbs (field n sits at vtable slot n).
const (
	messageHeaderType     = 1
	messageHeader         = 2
	messageBodyLength     = 3
	messageCustomMetadata = 4

	headerSchema          = 1
	headerDictionaryBatch = 2
	headerRecordBatch     = 3

	schemaFields         = 1
	schemaCustomMetadata = 2
	schemaFeatures       = 3

	fieldName           = 0
	fieldTypeType       = 2
	fieldType           = 3
	fieldDictionary     = 4
	fieldChildren       = 5
	fieldCustomMetadata = 6

	keyValueKey   = 0
	keyValueValue = 1

	dictionaryEncodingIndexType = 1
	dictionaryBatchData         = 1

	recordBatchNodes                = 1
	recordBatchBuffers              = 2
	recordBatchCompression          = 3
	recordBatchVariadicBufferCounts = 4

	typeTimestamp   = 10
	timestampZone   = 1
	typeUnion       = 14
	unionTypeIDs    = 1
	fieldNodeSize   = 16
	bufferSpecSize  = 16
	ipcContinuation = 0xFFFFFFFF
)

var errBadMetadata = errors.New("translate: malformed arrow message metadata")

// checkStreamMetadata checks the metadata of every complete message in an
// Arrow IPC stream. A stream that ends early is left for the reader to
// report.
func checkStreamMetadata(data []byte) error {
	for pos := 0; len(data)-pos >= 4; {
		n := binary.LittleEndian.Uint32(data[pos:])
		pos += 4
		if n == ipcContinuation {
			if len(data)-pos < 4 {
				return nil
			}
			n = binary.LittleEndian.Uint32(data[pos:])
			pos += 4
		}
		metaLen := int64(int32(n))
		if metaLen == 0 {
			return nil // end-of-stream marker
		}
		if metaLen < 4 || metaLen > int64(len(data)-pos) {
			return nil
		}
		meta := data[pos : pos+int(metaLen)]
		pos += int(metaLen)
		bodyLen, err := checkMessage(meta)
		if err != nil {
			return err
		}
		if bodyLen < 0 || bodyLen > int64(len(data)-pos) {
			return nil
		}
		pos += int(bodyLen)
	}
	return nil
}

// checkMessage checks one Message flatbuffer and returns its body length.
func checkMessage(meta []byte) (int64, error) {
	fb := &flatBuffer{b: meta, budget: len(meta)/4 + 1}
	root, err := fb.u32(0)
	if err != nil {
		return 0, err
	}
	msg, err := fb.table(int64(root))
	if err != nil {
		return 0, err
	}
	if err := fb.tables(msg, messageCustomMetadata, fb.keyValue); err != nil {
		return 0, err
	}
	var bodyLen int64
	if p := msg.field(messageBodyLength); p != 0 {
		v, err := fb.u64(p)
		if err != nil {
			return 0, err
		}
		bodyLen = int64(v)
	}
	kind, err := msg.u8(messageHeaderType)
	if err != nil {
		return 0, err
	}
	switch kind {
	case headerSchema:
		return bodyLen, fb.subtable(msg, messageHeader, fb.schema)
	case headerDictionaryBatch:
		return bodyLen, fb.subtable(msg, messageHeader, func(t fbTable) error {
			return fb.subtable(t, dictionaryBatchData, fb.recordBatch)
		})
	case headerRecordBatch:
		return bodyLen, fb.subtable(msg, messageHeader, fb.recordBatch)
	}
	return 0, fmt.Errorf("%w: message header type %d is not a schema or a batch", errBadMetadata, kind)
}

// flatBuffer reads a flatbuffer with every offset checked. budget is the
// number of tables still allowed: a real table takes at least four bytes,
// so a buffer that seems to hold more shares tables to multiply the work.
type flatBuffer struct {
	b      []byte
	budget int
}

// fbTable is a table inside a flatBuffer: its position, vtable and size.
type fbTable struct {
	fb       *flatBuffer
	pos, vt  int64
	vtLen    int64
	objectSz int64
}

func (fb *flatBuffer) fits(pos, size int64) error {
	if pos < 0 || size < 0 || pos > int64(len(fb.b)) || size > int64(len(fb.b))-pos {
		return fmt.Errorf("%w: %d bytes at %d outside %d", errBadMetadata, size, pos, len(fb.b))
	}
	return nil
}

func (fb *flatBuffer) u16(pos int64) (uint16, error) {
	if err := fb.fits(pos, 2); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(fb.b[pos:]), nil
}

func (fb *flatBuffer) u32(pos int64) (uint32, error) {
	if err := fb.fits(pos, 4); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(fb.b[pos:]), nil
}

func (fb *flatBuffer) u64(pos int64) (uint64, error) {
	if err := fb.fits(pos, 8); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(fb.b[pos:]), nil
}

func (fb *flatBuffer) table(pos int64) (fbTable, error) {
	if fb.budget--; fb.budget < 0 {
		return fbTable{}, fmt.Errorf("%w: too many tables", errBadMetadata)
	}
	soff, err := fb.u32(pos)
	if err != nil {
		return fbTable{}, err
	}
	t := fbTable{fb: fb, pos: pos, vt: pos - int64(int32(soff))}
	vtLen, err := fb.u16(t.vt)
	if err != nil {
		return fbTable{}, err
	}
	size, err := fb.u16(t.vt + 2)
	if err != nil {
		return fbTable{}, err
	}
	t.vtLen, t.objectSz = int64(vtLen), int64(size)
	if t.vtLen < 4 || fb.fits(t.vt, t.vtLen) != nil || fb.fits(pos, t.objectSz) != nil {
		return fbTable{}, fmt.Errorf("%w: bad table at %d", errBadMetadata, pos)
	}
	return t, nil
}

// field returns the position of field n of t, or 0 when it is absent or
// its vtable slot runs off the buffer. Like the flatbuffers runtime, a slot
// counts as present when it starts inside the vtable, even if an odd vtable
// length cuts it in half.
func (t fbTable) field(n int) int64 {
	slot := int64(4 + 2*n)
	if slot >= t.vtLen {
		return 0
	}
	off, err := t.fb.u16(t.vt + slot)
	if err != nil || off == 0 {
		return 0
	}
	return t.pos + int64(off)
}

func (t fbTable) u8(n int) (byte, error) {
	p := t.field(n)
	if p == 0 {
		return 0, nil
	}
	if err := t.fb.fits(p, 1); err != nil {
		return 0, err
	}
	return t.fb.b[p], nil
}

// deref follows the offset stored at p.
func (fb *flatBuffer) deref(p int64) (int64, error) {
	off, err := fb.u32(p)
	if err != nil {
		return 0, err
	}
	return p + int64(off), nil
}

// vector checks that the vector in field n of t holds elements of elemSize
// bytes inside the buffer, and returns where they start and how many there
// are (0, 0 when the field is absent).
func (fb *flatBuffer) vector(t fbTable, n int, elemSize int64) (start, count int64, err error) {
	p := t.field(n)
	if p == 0 {
		return 0, 0, nil
	}
	v, err := fb.deref(p)
	if err != nil {
		return 0, 0, err
	}
	c, err := fb.u32(v)
	if err != nil {
		return 0, 0, err
	}
	if err := fb.fits(v+4, int64(c)*elemSize); err != nil {
		return 0, 0, err
	}
	return v + 4, int64(c), nil
}

// str checks the string in field n of t.
func (fb *flatBuffer) str(t fbTable, n int) error {
	_, _, err := fb.vector(t, n, 1)
	return err
}

// subtable checks the table in field n of t with check, if it is present.
func (fb *flatBuffer) subtable(t fbTable, n int, check func(fbTable) error) error {
	p := t.field(n)
	if p == 0 {
		return nil
	}
	pos, err := fb.deref(p)
	if err != nil {
		return err
	}
	sub, err := fb.table(pos)
	if err != nil {
		return err
	}
	return check(sub)
}

// tables checks every table of the vector in field n of t with check.
func (fb *flatBuffer) tables(t fbTable, n int, check func(fbTable) error) error {
	start, count, err := fb.vector(t, n, 4)
	if err != nil {
		return err
	}
	for k := range count {
		pos, err := fb.deref(start + 4*k)
		if err != nil {
			return err
		}
		sub, err := fb.table(pos)
		if err != nil {
			return err
		}
		if err := check(sub); err != nil {
			return err
		}
	}
	return nil
}

func (fb *flatBuffer) keyValue(t fbTable) error {
	if err := fb.str(t, keyValueKey); err != nil {
		return err
	}
	return fb.str(t, keyValueValue)
}

func (fb *flatBuffer) schema(t fbTable) error {
	if err := fb.tables(t, schemaFields, func(f fbTable) error { return fb.arrowField(f, 1) }); err != nil {
		return err
	}
	if err := fb.tables(t, schemaCustomMetadata, fb.keyValue); err != nil {
		return err
	}
	_, _, err := fb.vector(t, schemaFeatures, 8)
	return err
}

func (fb *flatBuffer) arrowField(t fbTable, depth int) error {
	if depth > maxFieldDepth {
		return fmt.Errorf("%w: fields nested deeper than %d", errBadMetadata, maxFieldDepth)
	}
	if err := fb.str(t, fieldName); err != nil {
		return err
	}
	typ, err := t.u8(fieldTypeType)
	if err != nil {
		return err
	}
	err = fb.subtable(t, fieldType, func(tt fbTable) error {
		switch typ {
		case typeTimestamp:
			return fb.str(tt, timestampZone)
		case typeUnion:
			_, _, err := fb.vector(tt, unionTypeIDs, 4)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = fb.subtable(t, fieldDictionary, func(d fbTable) error {
		return fb.subtable(d, dictionaryEncodingIndexType, func(fbTable) error { return nil })
	})
	if err != nil {
		return err
	}
	if err := fb.tables(t, fieldChildren, func(c fbTable) error { return fb.arrowField(c, depth+1) }); err != nil {
		return err
	}
	return fb.tables(t, fieldCustomMetadata, fb.keyValue)
}

func (fb *flatBuffer) recordBatch(t fbTable) error {
	if _, _, err := fb.vector(t, recordBatchNodes, fieldNodeSize); err != nil {
		return err
	}
	if _, _, err := fb.vector(t, recordBatchBuffers, bufferSpecSize); err != nil {
		return err
	}
	if err := fb.subtable(t, recordBatchCompression, func(fbTable) error { return nil }); err != nil {
		return err
	}
	_, _, err := fb.vector(t, recordBatchVariadicBufferCounts, 8)
	return err
}
