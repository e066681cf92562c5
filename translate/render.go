package translate

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// maxRenderedBytes bounds the text rendered for one column of one row set.
// Input size does not bound output size: an array of a billion nulls takes a
// few bytes in Arrow and gigabytes as text. It is a variable only so that
// tests can lower it.
var maxRenderedBytes = 1 << 30

// errRenderedTooLarge reports a row set whose text would pass
// maxRenderedBytes.
var errRenderedTooLarge = errors.New("translate: values too large to render as text")

// appender appends the text of element i of one array to dst, in the form
// Spark's HiveResult.toHiveString gives a value nested inside an array, map
// or struct: nulls read "null" and strings are wrapped in double quotes.
//
// Top-level values differ from nested ones only for nulls and strings, and
// those never reach an appender at the top level: nulls go to the null
// bitmap (or an unset value), strings are sent as they are.
type appender func(dst []byte, i int) []byte

// newAppender chooses the rendering for arr once, so the per-row work is a
// direct call on a typed array with no boxing.
func newAppender(arr arrow.Array) (appender, error) {
	if _, ok := arr.(*array.Null); ok {
		// A Null array has no validity bitmap, so IsNull would say false.
		return func(dst []byte, _ int) []byte { return append(dst, "null"...) }, nil
	}
	value, err := valueAppender(arr)
	if err != nil {
		return nil, err
	}
	if arr.NullN() == 0 {
		return value, nil
	}
	return func(dst []byte, i int) []byte {
		if arr.IsNull(i) {
			return append(dst, "null"...)
		}
		return value(dst, i)
	}, nil
}

// valueAppender renders the non-null elements of arr.
func valueAppender(arr arrow.Array) (appender, error) {
	switch a := arr.(type) {
	case *array.Boolean:
		return func(dst []byte, i int) []byte { return strconv.AppendBool(dst, a.Value(i)) }, nil
	case *array.Int8:
		return func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(a.Value(i)), 10) }, nil
	case *array.Int16:
		return func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(a.Value(i)), 10) }, nil
	case *array.Int32:
		return func(dst []byte, i int) []byte { return strconv.AppendInt(dst, int64(a.Value(i)), 10) }, nil
	case *array.Int64:
		return func(dst []byte, i int) []byte { return strconv.AppendInt(dst, a.Value(i), 10) }, nil
	case *array.Float32:
		return func(dst []byte, i int) []byte { return appendJavaFloat(dst, float64(a.Value(i)), 32) }, nil
	case *array.Float64:
		return func(dst []byte, i int) []byte { return appendJavaFloat(dst, a.Value(i), 64) }, nil
	case *array.String:
		return func(dst []byte, i int) []byte { return appendQuoted(dst, a.Value(i)) }, nil
	case *array.LargeString:
		return func(dst []byte, i int) []byte { return appendQuoted(dst, a.Value(i)) }, nil
	case *array.Binary:
		return func(dst []byte, i int) []byte { return appendUTF8(dst, a.Value(i)) }, nil
	case *array.LargeBinary:
		return func(dst []byte, i int) []byte { return appendUTF8(dst, a.Value(i)) }, nil
	case *array.Decimal128:
		dt := a.DataType().(*arrow.Decimal128Type)
		if err := checkDecimal(dt); err != nil {
			return nil, err
		}
		scale := dt.Scale
		return func(dst []byte, i int) []byte { return appendDecimal(dst, a.Value(i), scale) }, nil
	case *array.Date32:
		return func(dst []byte, i int) []byte { return appendDate(dst, a.Value(i)) }, nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return func(dst []byte, i int) []byte { return appendTimestamp(dst, a.Value(i).ToTime(unit)) }, nil
	case *array.Duration:
		unit := a.DataType().(*arrow.DurationType).Unit
		return func(dst []byte, i int) []byte { return appendDayTimeInterval(dst, int64(a.Value(i)), unit) }, nil
	case *array.MonthInterval:
		return func(dst []byte, i int) []byte { return appendYearMonthInterval(dst, int32(a.Value(i))) }, nil
	case *array.Map:
		// Map embeds List, so it must be matched before List.
		return mapAppender(a)
	case *array.List:
		return listAppender(a, a.ListValues())
	case *array.LargeList:
		return listAppender(a, a.ListValues())
	case *array.Struct:
		return structAppender(a)
	}
	return nil, &UnsupportedTypeError{Type: arr.DataType()}
}

func listAppender(a interface{ ValueOffsets(int) (int64, int64) }, values arrow.Array) (appender, error) {
	elem, err := newAppender(values)
	if err != nil {
		return nil, err
	}
	return func(dst []byte, i int) []byte {
		start, end := a.ValueOffsets(i)
		dst = append(dst, '[')
		for j := start; j < end && len(dst) <= maxRenderedBytes; j++ {
			if j > start {
				dst = append(dst, ',')
			}
			dst = elem(dst, int(j))
		}
		return append(dst, ']')
	}, nil
}

// mapAppender renders maps as Spark does: "key:value" entries sorted as
// strings, so that the output does not depend on the engine's hash order.
func mapAppender(a *array.Map) (appender, error) {
	key, err := newAppender(a.Keys())
	if err != nil {
		return nil, err
	}
	item, err := newAppender(a.Items())
	if err != nil {
		return nil, err
	}
	var entries []string
	return func(dst []byte, i int) []byte {
		start, end := a.ValueOffsets(i)
		entries = entries[:0]
		var buf []byte
		size := len(dst)
		for j := start; j < end && size <= maxRenderedBytes; j++ {
			buf = key(buf[:0], int(j))
			buf = append(buf, ':')
			buf = item(buf, int(j))
			entries = append(entries, string(buf))
			size += len(buf) + 1
		}
		slices.Sort(entries)
		dst = append(dst, '{')
		for k, e := range entries {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, e...)
		}
		return append(dst, '}')
	}, nil
}

func structAppender(a *array.Struct) (appender, error) {
	st := a.DataType().(*arrow.StructType)
	fields := make([]appender, a.NumField())
	for k := range fields {
		f, err := newAppender(a.Field(k))
		if err != nil {
			return nil, err
		}
		fields[k] = f
	}
	return func(dst []byte, i int) []byte {
		dst = append(dst, '{')
		for k, f := range fields {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendQuoted(dst, st.Field(k).Name)
			dst = append(dst, ':')
			dst = f(dst, i)
		}
		return append(dst, '}')
	}, nil
}

// appendQuoted wraps s in double quotes without escaping anything inside,
// exactly like toHiveString: a quote inside s is not escaped there either.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendUTF8 appends b decoded as UTF-8 the way Java's new String(b, UTF_8)
// does, replacing each byte that is not part of a valid sequence with U+FFFD.
func appendUTF8(dst []byte, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[:size]...)
		}
		b = b[size:]
	}
	return dst
}

// appendJavaFloat formats f as Java's Float.toString (bits 32) or
// Double.toString (bits 64) do since JDK 19: the shortest digits that read
// back as f (two when one would do, picking the closer pair), in plain
// notation with at least one fractional digit for magnitudes in [1e-3, 1e7)
// and as "d.dddE-n" otherwise.
func appendJavaFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	var buf [32]byte
	digits, exp := decimalDigits(buf[:0], f, -1, bits)
	if len(digits) == 1 {
		digits, exp = decimalDigits(buf[:0], f, 1, bits)
	}
	for len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	switch {
	case exp >= 0 && exp < 7:
		if len(digits) <= exp+1 {
			dst = append(dst, digits...)
			for range exp + 1 - len(digits) {
				dst = append(dst, '0')
			}
			return append(dst, ".0"...)
		}
		dst = append(dst, digits[:exp+1]...)
		dst = append(dst, '.')
		return append(dst, digits[exp+1:]...)
	case exp < 0 && exp >= -3:
		dst = append(dst, "0."...)
		for range -exp - 1 {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[0], '.')
	if len(digits) > 1 {
		dst = append(dst, digits[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}

// decimalDigits returns the significant digits of positive f, written by
// strconv with prec digits after the first, and the decimal exponent of
// the first digit.
func decimalDigits(buf []byte, f float64, prec, bits int) ([]byte, int) {
	s := strconv.AppendFloat(buf, f, 'e', prec, bits)
	e := slices.Index(s, 'e')
	exp, _ := strconv.Atoi(string(s[e+1:]))
	mant := s[:e]
	if len(mant) > 1 {
		// Drop the point: "1.234" becomes "1234".
		mant = append(mant[:1], mant[2:]...)
	}
	return mant, exp
}

// widenFloat32 turns a float into the double the Spark Thrift Server sends
// for it, Double.valueOf(Float.toString(f)): the double nearest to the
// float's shortest decimal form, so 0.1f arrives as 0.1 and not as
// 0.10000000149011612.
func widenFloat32(f float32) float64 {
	d := float64(f)
	if d == math.Trunc(d) && math.Abs(d) < 1<<24 {
		return d // small integers are exact either way
	}
	var buf [32]byte
	w, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], d, 'g', -1, 32)), 64)
	if err != nil {
		return d // NaN and infinities parse fine; this is unreachable
	}
	return w
}

// appendDecimal appends the unscaled value n with scale digits after the
// point, like BigDecimal.toPlainString: 150 with scale 2 is "1.50".
func appendDecimal(dst []byte, n decimal128.Num, scale int32) []byte {
	var digits []byte
	var buf [40]byte
	neg := n.Sign() < 0
	switch hi, lo := n.HighBits(), n.LowBits(); {
	case hi == 0 && lo < 1<<63, hi == -1 && lo >= 1<<63:
		v := int64(lo)
		u := uint64(v)
		if neg {
			u = -u
		}
		digits = strconv.AppendUint(buf[:0], u, 10)
	default:
		digits = n.Abs().BigInt().Append(buf[:0], 10)
	}
	if neg {
		dst = append(dst, '-')
	}
	if scale <= 0 {
		dst = append(dst, digits...)
		if len(digits) == 1 && digits[0] == '0' {
			return dst
		}
		for range -scale {
			dst = append(dst, '0')
		}
		return dst
	}
	s := int(scale)
	if len(digits) <= s {
		dst = append(dst, '0', '.')
		for range s - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	dst = append(dst, digits[:len(digits)-s]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-s:]...)
}

func appendDate(dst []byte, d arrow.Date32) []byte {
	return time.Unix(int64(d)*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
}

// appendTimestamp writes t as "2006-01-02 15:04:05" followed by the fraction
// of a second without trailing zeros, and no point at all when the fraction
// is zero, as Spark's fraction timestamp formatter does. t is in UTC: see the
// package documentation on time zones.
func appendTimestamp(dst []byte, t time.Time) []byte {
	dst = t.AppendFormat(dst, time.DateTime)
	ns := t.Nanosecond()
	if ns == 0 {
		return dst
	}
	var frac [9]byte
	for k := 8; k >= 0; k-- {
		frac[k] = byte('0' + ns%10)
		ns /= 10
	}
	n := 9
	for frac[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, frac[:n]...)
}

// appendDayTimeInterval renders a Spark day-time interval as
// IntervalUtils.toDayTimeIntervalString does in HIVE_STYLE, the style
// toHiveString uses: "[-]D HH:MM:SS.nnnnnnnnn" with all nine fractional
// digits, whatever fields the interval type was declared with.
func appendDayTimeInterval(dst []byte, v int64, unit arrow.TimeUnit) []byte {
	var perSecond uint64
	switch unit {
	case arrow.Second:
		perSecond = 1
	case arrow.Millisecond:
		perSecond = 1e3
	case arrow.Microsecond:
		perSecond = 1e6
	default:
		perSecond = 1e9
	}
	u := uint64(v)
	if v < 0 {
		dst = append(dst, '-')
		u = -u // also right for math.MinInt64, read as unsigned
	}
	secs := u / perSecond
	nanos := u % perSecond * (1e9 / perSecond)
	dst = strconv.AppendUint(dst, secs/86400, 10)
	dst = append(dst, ' ')
	dst = appendPadded(dst, secs/3600%24, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, secs/60%60, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, secs%60, 2)
	dst = append(dst, '.')
	return appendPadded(dst, nanos, 9)
}

// appendYearMonthInterval renders a Spark year-month interval in months as
// toYearMonthIntervalString does in HIVE_STYLE: "[-]Y-M".
func appendYearMonthInterval(dst []byte, months int32) []byte {
	m := int64(months)
	if m < 0 {
		dst = append(dst, '-')
		m = -m
	}
	dst = strconv.AppendInt(dst, m/12, 10)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, m%12, 10)
}

func appendPadded(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendUint(buf[:0], v, 10)
	for range width - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}
