package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gridmesh/gridmesh/examples/internal/cli"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// FuzzFlags feeds arbitrary lists to the sweep's flag parsing: it never
// panics, and it either builds a sweep with at least one combination or
// returns a usage error.
func FuzzFlags(f *testing.F) {
	f.Add("long,short", "90000-115000,95000-110000", "20,40", "", "40", "200", "5,10", "5", "false,true", "0.7")
	f.Add("neutral", "", "", "0.002", "10", "1e3", "1", "125", "true", "2025-05-20")
	f.Add("", "-", "-1", "0", "0", "-0", "x", "999", "maybe", "2025-05-20T10:00:00Z")
	candles := []pricefeed.Candle{{OpenTime: 1_746_000_000_000}, {OpenTime: 1_746_000_060_000}, {OpenTime: 1_746_000_120_000}}
	f.Fuzz(func(t *testing.T, modes, bounds, levels, trailing, layers, amounts, windows, leverages, geometric, split string) {
		fl, err := parseFlags([]string{"-modes", modes, "-bounds", bounds, "-intervals", levels, "-trailing", trailing, "-layers", layers,
			"-amounts", amounts, "-windows", windows, "-leverages", leverages, "-geometric", geometric, "-split", split}, &bytes.Buffer{})
		if err != nil {
			if !cli.IsUsage(err) {
				t.Fatalf("parse: %v is not a usage error", err)
			}
			return
		}
		cfg, err := fl.config()
		if err != nil {
			if !cli.IsUsage(err) || strings.TrimSpace(err.Error()) == "" {
				t.Fatalf("config: %v is not a usage error with a message", err)
			}
		} else if combos, err := cfg.Space.Combinations(); err != nil || len(combos) == 0 {
			t.Fatalf("a valid config has no combinations: %v", err)
		}
		if _, err := fl.splitAt(candles); err != nil && !cli.IsUsage(err) {
			t.Fatalf("split: %v is not a usage error", err)
		}
	})
}
