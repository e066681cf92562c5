package main

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// interleaveLatency takes n/10 warm-ups and then n samples per target, in blocks that
// alternate between the targets, each round starting one further along.
func TestInterleaveLatency(t *testing.T) {
	var order []string
	rec := func(name string) func() error {
		return func() error { order = append(order, name); return nil }
	}
	a, b := &Latency{Name: "a"}, &Latency{Name: "b"}
	if err := interleaveLatency(25, 10, sampled{a, rec("a")}, sampled{b, rec("b")}); err != nil {
		t.Fatal(err)
	}
	if len(a.Samples) != 25 || len(b.Samples) != 25 || a.Block != 10 || b.Block != 10 {
		t.Fatalf("samples %d and %d, blocks %d and %d", len(a.Samples), len(b.Samples), a.Block, b.Block)
	}
	// Warm-ups: one block of 2 each. Then blocks of 10, 10 and 5, each round starting one
	// further along: a b, b a, a b. Runs of the same target merge: a10 b10 b10 a10 a5 b5.
	var runs []string
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && order[j] == order[i] {
			j++
		}
		runs = append(runs, fmt.Sprintf("%s%d", order[i], j-i))
		i = j
	}
	if want := []string{"a2", "b2", "a10", "b20", "a15", "b5"}; fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Fatalf("blocks %v, want %v", runs, want)
	}
}

// pairedCI brackets 1 for two series of the same thing, and keeps drift that both sides
// share out of the interval.
func TestPairedCI(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const rounds, block = 40, 50
	var with, without, drifting []float64
	for r := range rounds {
		drift := 1 + 0.5*float64(r%7)/7 // a round-to-round drift of up to 50%, both sides alike
		for range block {
			with = append(with, drift*(15+rng.ExpFloat64()*3))
			without = append(without, drift*(15+rng.ExpFloat64()*3))
			drifting = append(drifting, 15+rng.ExpFloat64()*3)
		}
	}
	p50 := func(v []float64) float64 { return percentile(v, 0.5) }
	lo, hi := pairedCI(with, without, block, p50)
	if lo >= 1 || hi <= 1 || hi-lo > 0.05 {
		t.Fatalf("same thing, shared drift: interval %.4f–%.4f, want around 1 and narrower than 0.05", lo, hi)
	}
	if lo2, hi2 := pairedCI(with, drifting, block, p50); hi2-lo2 <= hi-lo {
		t.Fatalf("drift on one side only: interval %.4f–%.4f, not wider than %.4f–%.4f", lo2, hi2, lo, hi)
	}
	if lo, hi := pairedCI([]float64{1}, []float64{1}, 1, median); lo != 0 || hi != 0 {
		t.Fatalf("one round: %v–%v, want no interval", lo, hi)
	}
}

// finish turns G9's measurements into three ratios, each with its interval.
func TestFinishOverhead(t *testing.T) {
	r := &Report{Config: RunConfig{Rows: 1_000_000, BigRows: 10_000_000, JDBCRows: 100_000, FetchSize: 10_000},
		Series: map[string]*Series{}, Latency: map[string]*Latency{}, Memory: map[string]float64{}}
	rng := rand.New(rand.NewPCG(2, 2))
	sample := func(n int, scale float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = scale * (15 + rng.ExpFloat64()*3)
		}
		return v
	}
	for _, proto := range []string{"thrift", "connect"} {
		r.Latency["bridge.observed."+proto+".select1"] = &Latency{Samples: sample(2000, 1.01), Block: 50}
		r.Latency["bridge.bare."+proto+".select1"] = &Latency{Samples: sample(2000, 1), Block: 50}
	}
	r.Series["bridge.observed.thrift.go.1000k.fs10000"] = &Series{Runs: sample(60, 0.066)}
	r.Series["bridge.bare.thrift.go.1000k.fs10000"] = &Series{Runs: sample(60, 0.066)}
	r.finish()
	var g9 []Ratio
	for _, x := range r.Ratios {
		if x.ID == "G9" {
			g9 = append(g9, x)
		}
	}
	if len(g9) != 3 {
		t.Fatalf("G9 rows: %+v", g9)
	}
	for _, x := range g9 {
		if !(x.CILow < x.Value && x.Value < x.CIHigh) || x.Target != "≤ 1.02×" || x.Met != (x.Value <= 1.02) {
			t.Errorf("%s: %.3f (%.3f–%.3f) target %s met %v", x.What, x.Value, x.CILow, x.CIHigh, x.Target, x.Met)
		}
	}
}
