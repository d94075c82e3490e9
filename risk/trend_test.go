package risk_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/risk"
)

var t0 = time.Date(2025, 2, 2, 0, 0, 0, 0, time.UTC)

// candle is a closed 1m candle of X opening i minutes after t0.
func candle(i int, close string) risk.Observation {
	open := t0.Add(time.Duration(i) * time.Minute)
	c := decimal.RequireFromString(close)
	return risk.Observation{Time: open.Add(time.Minute), Kind: risk.KindKline, Symbol: "X", Kline: exchange.Kline{
		Symbol: "X", Interval: "1m", OpenTime: open, CloseTime: open.Add(time.Minute - time.Millisecond),
		Open: c, High: c, Low: c, Close: c, Closed: true}}
}

func smallTrend(t *testing.T) *risk.TrendFilter {
	t.Helper()
	cfg := risk.DefaultTrendConfig("X")
	cfg.Fast, cfg.Slow = 1, 3 // smoothing 1 and 1/2
	cfg.Enter, cfg.Exit = decimal.RequireFromString("0.1"), decimal.RequireFromString("0.04")
	f, err := risk.NewTrendFilter(cfg)
	require.NoError(t, err)
	return f
}

// TestTrendFilterHandComputed: with Fast 1 (the close itself) and Slow 3
// (smoothing 2/4 = 1/2) every gap is computed by hand.
func TestTrendFilterHandComputed(t *testing.T) {
	f := smallTrend(t)
	steps := []struct {
		close string
		gap   string // (fast − slow) / slow
		trend risk.Trend
	}{
		{"100", "0.0000", risk.TrendNone}, // slow 100; warming up
		{"100", "0.0000", risk.TrendNone}, // slow 100; warming up
		{"80", "-0.1111", risk.TrendDown}, // slow 90: 80/90 − 1
		{"84", "-0.0345", risk.TrendNone}, // slow 87: −3/87 within Exit 4 %: faded
		{"78", "-0.0545", risk.TrendNone}, // slow 82.5: beyond Exit, short of Enter: no trend (hysteresis)
		{"60", "-0.1579", risk.TrendDown}, // slow 71.25
		{"70", "-0.0088", risk.TrendNone}, // slow 70.625
		{"90", "0.1206", risk.TrendUp},    // slow 80.3125
		{"84", "0.0224", risk.TrendNone},  // slow 82.15625: within Exit
	}
	for i, s := range steps {
		st := f.Observe(candle(i, s.close))
		assert.Equal(t, s.gap, f.Gap().StringFixed(4), "candle %d", i)
		assert.Equal(t, s.trend, f.Trend(), "candle %d", i)
		assert.Equal(t, s.trend != risk.TrendNone, st.Triggered, "candle %d", i)
	}
	assert.Contains(t, f.Observe(candle(20, "84")).Reason, "trend faded")
}

// TestTrendFilterHysteresis: a gap moving between Exit and Enter keeps the
// state it had, whichever it was, so the filter does not flap.
func TestTrendFilterHysteresis(t *testing.T) {
	f := smallTrend(t)
	for i, c := range []string{"100", "100", "80"} {
		f.Observe(candle(i, c))
	}
	require.Equal(t, risk.TrendDown, f.Trend())
	// slow 90 → 85 → …: closes 10 % below the slow average (gaps of −5.3 %) keep the down-trend.
	slow := decimal.NewFromInt(90)
	for i := 3; i < 20; i++ {
		c := slow.Mul(decimal.RequireFromString("0.9")).Round(6)
		st := f.Observe(candle(i, c.String()))
		slow = slow.Add(c).Div(decimal.NewFromInt(2))
		require.True(t, st.Triggered, "candle %d gap %s", i, f.Gap())
		require.Equal(t, risk.TrendDown, f.Trend())
	}
}

func TestTrendFilterIgnores(t *testing.T) {
	f := smallTrend(t)
	for i, c := range []string{"100", "100"} {
		f.Observe(candle(i, c))
	}
	other := candle(2, "50")
	other.Symbol, other.Kline.Symbol = "Y", "Y"
	open := candle(2, "50")
	open.Kline.Closed = false
	wrongIv := candle(2, "50")
	wrongIv.Kline.Interval = "5m"
	old := candle(1, "50")
	price := risk.Observation{Time: t0, Kind: risk.KindPrice, Symbol: "X", Price: decimal.NewFromInt(50)}
	for _, o := range []risk.Observation{other, open, wrongIv, old, price} {
		assert.False(t, f.Observe(o).Triggered)
	}
	// None of them counted: the third candle still completes the warm-up
	// against the two closes of 100.
	f.Observe(candle(2, "80"))
	assert.Equal(t, "-0.1111", f.Gap().StringFixed(4))
	var zero risk.TrendFilter
	assert.False(t, zero.Observe(candle(0, "1")).Triggered)
}

func TestTrendConfigValidate(t *testing.T) {
	cfg := risk.TrendConfig{Fast: 0, Slow: 0, Enter: decimal.RequireFromString("1.5"), Exit: decimal.RequireFromString("2")}
	_, err := risk.NewTrendFilter(cfg)
	require.Error(t, err)
	for _, want := range []string{"TrendConfig.Name", "TrendConfig.Symbol", "TrendConfig.Fast = 0", "TrendConfig.Slow = 0",
		"TrendConfig.Enter = 1.5", "TrendConfig.Exit = 2"} {
		assert.Contains(t, err.Error(), want)
	}
	require.NoError(t, risk.DefaultTrendConfig("X").Validate())
}

func replayTrend(t *testing.T, symbol, file string) (*risk.TrendFilter, func(func(k exchange.Kline))) {
	t.Helper()
	f, err := risk.NewTrendFilter(risk.DefaultTrendConfig(symbol))
	require.NoError(t, err)
	ks := loadKlines(t, symbol, file)
	return f, func(each func(k exchange.Kline)) {
		for _, k := range ks {
			f.Observe(risk.Observation{Time: k.CloseTime, Kind: risk.KindKline, Symbol: symbol, Kline: k})
			each(k)
		}
	}
}

// TestTrendFilterNEARCrash: on the 2025-02-03 flush of NEAR (3.74 at
// midnight, 2.705 at 02:08) the default filter judges a down-trend from
// 00:37 at 3.563 — before the worst of it — and holds it through the low.
func TestTrendFilterNEARCrash(t *testing.T) {
	f, run := replayTrend(t, "NEARUSDT", "NEARUSDT-1m-2025-02-02_03.csv.gz")
	low := time.Date(2025, 2, 3, 2, 8, 0, 0, time.UTC)
	var downSince time.Time
	var downAt decimal.Decimal
	run(func(k exchange.Kline) {
		if k.OpenTime.Before(time.Date(2025, 2, 3, 0, 0, 0, 0, time.UTC)) || k.OpenTime.After(low) {
			return
		}
		switch {
		case f.Trend() == risk.TrendDown && downSince.IsZero():
			downSince, downAt = k.OpenTime, k.Close
		case f.Trend() != risk.TrendDown:
			downSince = time.Time{}
		}
		if k.OpenTime.Equal(low) {
			assert.Equal(t, "2.705", k.Low.String())
		}
	})
	assert.Equal(t, time.Date(2025, 2, 3, 0, 37, 0, 0, time.UTC), downSince, "down-trend held from then to the low")
	assert.Equal(t, "3.563", downAt.String())
}

// TestTrendFilterQuietOnCalmData: over three calm days of NEAR and AVAX
// (largest 15-minute move 1.4 %) the default filter never judges a trend.
func TestTrendFilterQuietOnCalmData(t *testing.T) {
	for _, c := range []struct{ symbol, file string }{
		{"NEARUSDT", "NEARUSDT-1m-2023-09-14_16.csv.gz"},
		{"AVAXUSDT", "AVAXUSDT-1m-2023-09-14_16.csv.gz"},
	} {
		f, run := replayTrend(t, c.symbol, c.file)
		n := 0
		run(func(exchange.Kline) {
			if f.Trend() != risk.TrendNone {
				n++
			}
		})
		assert.Zero(t, n, c.symbol)
		assert.NotZero(t, f.Gap().Sign(), "the filter was warm")
	}
}

// TestTrendFilterProperties: on random walks, after every candle the
// judgement agrees with the gap and the thresholds — a gap at or beyond
// ±Enter is that trend, a trend holds only while the gap is beyond ±Exit
// on its side, and between Exit and Enter the state is the previous one —
// and Triggered is "a trend is strong".
func TestTrendFilterProperties(t *testing.T) {
	cfg := risk.DefaultTrendConfig("X")
	cfg.Fast, cfg.Slow = 3, 8
	cfg.Enter, cfg.Exit = decimal.RequireFromString("0.02"), decimal.RequireFromString("0.008")
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 18))
		f, err := risk.NewTrendFilter(cfg)
		require.NoError(t, err)
		price := decimal.NewFromInt(100)
		prev := risk.TrendNone
		for i := 0; i < 400; i++ {
			step := decimal.NewFromInt(int64(rng.IntN(41) - 20)).Shift(-1) // ±2.0
			price = decimal.Max(price.Add(step), decimal.NewFromInt(1))
			st := f.Observe(candle(i, price.String()))
			g, tr := f.Gap(), f.Trend()
			require.Equal(t, tr != risk.TrendNone, st.Triggered, "seed %d candle %d", seed, i)
			switch {
			case i+1 < cfg.Slow:
				require.Equal(t, risk.TrendNone, tr)
			case g.GreaterThanOrEqual(cfg.Enter):
				require.Equal(t, risk.TrendUp, tr, "seed %d candle %d gap %s", seed, i, g)
			case g.LessThanOrEqual(cfg.Enter.Neg()):
				require.Equal(t, risk.TrendDown, tr, "seed %d candle %d gap %s", seed, i, g)
			case g.Abs().LessThan(cfg.Exit):
				require.Equal(t, risk.TrendNone, tr, "seed %d candle %d gap %s", seed, i, g)
			case g.IsPositive():
				require.Equal(t, prev == risk.TrendUp, tr == risk.TrendUp, "seed %d candle %d gap %s: hysteresis", seed, i, g)
				require.NotEqual(t, risk.TrendDown, tr)
			default:
				require.Equal(t, prev == risk.TrendDown, tr == risk.TrendDown, "seed %d candle %d gap %s: hysteresis", seed, i, g)
				require.NotEqual(t, risk.TrendUp, tr)
			}
			prev = tr
		}
	}
}
