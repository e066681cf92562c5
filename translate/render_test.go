package translate

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

func TestAppendJavaFloat(t *testing.T) {
	tests := []struct {
		f    float64
		bits int
		want string
	}{
		{0, 64, "0.0"},
		{math.Copysign(0, -1), 64, "-0.0"},
		{1, 64, "1.0"},
		{-2.5, 64, "-2.5"},
		{0.001, 64, "0.001"},
		{0.0001, 64, "1.0E-4"},
		{9999999, 64, "9999999.0"},
		{1e7, 64, "1.0E7"},
		{1.2345e-7, 64, "1.2345E-7"},
		{math.MaxFloat64, 64, "1.7976931348623157E308"},
		{5e-324, 64, "4.9E-324"},
		{math.NaN(), 64, "NaN"},
		{math.Inf(1), 64, "Infinity"},
		{math.Inf(-1), 64, "-Infinity"},
		{1e23, 64, "1.0E23"},
		{100, 64, "100.0"},
		{123456.789, 64, "123456.789"},
		{0.00123, 64, "0.00123"},
		{float64(float32(0.1)), 32, "0.1"},
		{float64(float32(1.4e-45)), 32, "1.4E-45"},
		{float64(float32(16777216)), 32, "1.6777216E7"},
		{float64(float32(math.MaxFloat32)), 32, "3.4028235E38"},
	}
	for _, tt := range tests {
		if got := string(appendJavaFloat(nil, tt.f, tt.bits)); got != tt.want {
			t.Errorf("appendJavaFloat(%v, %d) = %q, want %q", tt.f, tt.bits, got, tt.want)
		}
	}
}

func TestWidenFloat32(t *testing.T) {
	tests := []struct {
		f    float32
		want float64
	}{
		{0.1, 0.1},
		{-0.3, -0.3},
		{1.5, 1.5},
		{16777217, 16777216},
		{3.4028235e38, 3.4028235e38},
		{1e-45, 1e-45},
	}
	for _, tt := range tests {
		if got := widenFloat32(tt.f); got != tt.want {
			t.Errorf("widenFloat32(%v) = %v, want %v", tt.f, got, tt.want)
		}
	}
	if got := widenFloat32(float32(math.NaN())); !math.IsNaN(got) {
		t.Errorf("widenFloat32(NaN) = %v", got)
	}
	if got := widenFloat32(float32(math.Inf(-1))); !math.IsInf(got, -1) {
		t.Errorf("widenFloat32(-Inf) = %v", got)
	}
}

func TestAppendDecimal(t *testing.T) {
	tests := []struct {
		n     decimal128.Num
		scale int32
		want  string
	}{
		{decimal128.FromI64(150), 2, "1.50"},
		{decimal128.FromI64(-5), 2, "-0.05"},
		{decimal128.FromI64(0), 3, "0.000"},
		{decimal128.FromI64(0), 0, "0"},
		{decimal128.FromI64(42), 0, "42"},
		{decimal128.FromI64(42), -2, "4200"},
		{decimal128.FromI64(math.MinInt64), 0, "-9223372036854775808"},
		{decimal128.FromI64(math.MaxInt64), 19, "0.9223372036854775807"},
		{decimal128.New(1, 0), 0, "18446744073709551616"},
		{decimal128.New(-1, 0), 1, "-1844674407370955161.6"},
		{decimal128.New(5421010862427522170, 687399551400673279), 38, "0.99999999999999999999999999999999999999"},
		{decimal128.New(5421010862427522170, 687399551400673279).Negate(), 2, "-999999999999999999999999999999999999.99"},
	}
	for _, tt := range tests {
		if got := string(appendDecimal(nil, tt.n, tt.scale)); got != tt.want {
			t.Errorf("appendDecimal(%v, %d) = %q, want %q", tt.n.BigInt(), tt.scale, got, tt.want)
		}
	}
}

func TestAppendTimestamp(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2024, 1, 31, 12, 34, 56, 0, time.UTC), "2024-01-31 12:34:56"},
		{time.Date(2024, 1, 31, 12, 34, 56, 120000000, time.UTC), "2024-01-31 12:34:56.12"},
		{time.Date(2024, 1, 31, 12, 34, 56, 123456000, time.UTC), "2024-01-31 12:34:56.123456"},
		{time.Date(2024, 1, 31, 12, 34, 56, 1, time.UTC), "2024-01-31 12:34:56.000000001"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01 00:00:00"},
	}
	for _, tt := range tests {
		if got := string(appendTimestamp(nil, tt.t)); got != tt.want {
			t.Errorf("appendTimestamp(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestAppendDayTimeIntervalUnits(t *testing.T) {
	tests := []struct {
		v    int64
		unit arrow.TimeUnit
		want string
	}{
		{93784, arrow.Second, "1 02:03:04.000000000"},
		{93784005, arrow.Millisecond, "1 02:03:04.005000000"},
		{-93784000001, arrow.Nanosecond, "-0 00:01:33.784000001"},
		{math.MinInt64, arrow.Microsecond, "-106751991 04:00:54.775808000"},
		{math.MaxInt64, arrow.Microsecond, "106751991 04:00:54.775807000"},
	}
	for _, tt := range tests {
		if got := string(appendDayTimeInterval(nil, tt.v, tt.unit)); got != tt.want {
			t.Errorf("appendDayTimeInterval(%d, %s) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func TestAppendUTF8(t *testing.T) {
	got := string(appendUTF8(nil, []byte("a\xffé\xc3")))
	if want := "a\uFFFDé\uFFFD"; got != want {
		t.Errorf("appendUTF8 = %q, want %q", got, want)
	}
}

func TestRenderedTooLarge(t *testing.T) {
	defer func(old int) { maxRenderedBytes = old }(maxRenderedBytes)
	maxRenderedBytes = 64

	mem := checkedAlloc(t)
	// One row holding a hundred nulls: a few bytes of Arrow, 500 of text.
	rec := oneColumn(fromJSON(t, mem, arrow.ListOf(arrow.Null), `[[`+strings.Repeat("null,", 99)+`null]]`))
	defer rec.Release()
	for _, columnar := range []bool{true, false} {
		if _, err := AppendRowSet(nil, Binary, columnar, 0, []Slice{{rec, 0, 1}}); !errors.Is(err, errRenderedTooLarge) {
			t.Errorf("AppendRowSet(columnar=%v) error = %v, want errRenderedTooLarge", columnar, err)
		}
	}
}

func TestInvalidDecimal(t *testing.T) {
	for _, dt := range []*arrow.Decimal128Type{
		{Precision: 10, Scale: math.MaxInt32},
		{Precision: 0, Scale: 0},
		{Precision: 39, Scale: 2},
		{Precision: 5, Scale: 6},
	} {
		if _, err := TableSchema(arrow.NewSchema([]arrow.Field{{Name: "d", Type: dt}}, nil)); err == nil {
			t.Errorf("TableSchema accepted %s", dt)
		}
		mem := checkedAlloc(t)
		arr := array.NewDecimal128Builder(mem, dt)
		arr.Append(decimal128.FromI64(1))
		rec := oneColumn(arr.NewArray())
		arr.Release()
		if _, err := AppendRowSet(nil, Binary, true, 0, []Slice{{rec, 0, 1}}); err == nil {
			t.Errorf("AppendRowSet rendered %s", dt)
		}
		rec.Release()
	}
}
