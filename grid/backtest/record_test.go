package backtest

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// handRun is TestHandComputedLongGrid's run (see its comment for the
// numbers worked out by hand), with its configuration: no slippage, so the
// initial position's market buy fills at the open, 102, as the hand
// computation has it (the default 1 bp would make it 102.02).
func handRun(t *testing.T, opts ...grid.Option) Result {
	t.Helper()
	sc := sim.DefaultCoreConfig(handRules)
	var err error
	sc.InitialBalance, err = handRules.DecimalToMoney(dec("1000"))
	require.NoError(t, err)
	candles := []pricefeed.Candle{
		candle(t, 0, "102", "103", "99", "101"),
		candle(t, 1, "101", "106", "100.5", "106"),
		candle(t, 2, "106", "111", "94", "96"),
		candle(t, 3, "96", "101", "96", "101"),
	}
	res, err := Run(candles, Config{Rules: handRules, Sim: sc, EquityEvery: 1, Slippage: &Slippage{}, Grid: append([]grid.Option{
		grid.WithBounds(dec("90"), dec("110"), 4),
		grid.WithQuantity(dec("1")),
	}, opts...)})
	require.NoError(t, err)
	return res
}

// TestTradesRecordEveryFillByHand checks the recorded fills of the
// hand-computed grid one by one: role, side, level, price, fee, realized
// and the round trips' net profit.
func TestTradesRecordEveryFillByHand(t *testing.T) {
	res := handRun(t)
	type want struct {
		role                        Role
		side                        exchange.Side
		level, price, fee, realized string
		trip                        bool
		net                         string
	}
	wants := []want{
		{RoleEntry, exchange.Buy, "", "102", "0.051", "0", false, ""},        // initial position for the 105 slot
		{RoleEntry, exchange.Buy, "100", "100", "0.02", "0", false, ""},      // c1
		{RoleExit, exchange.Sell, "100", "105", "0.021", "5", true, "4.959"}, // c2: 5 − 0.020 − 0.021
		{RoleExit, exchange.Sell, "105", "110", "0.022", "8", true, "7.927"}, // c3: 8 − 0.051 (its initial position's) − 0.022
		{RoleEntry, exchange.Buy, "105", "105", "0.021", "0", false, ""},
		{RoleEntry, exchange.Buy, "100", "100", "0.02", "0", false, ""},
		{RoleEntry, exchange.Buy, "95", "95", "0.019", "0", false, ""},
		{RoleExit, exchange.Sell, "95", "100", "0.02", "5", true, "4.961"}, // c4: 5 − 0.019 − 0.020
	}
	require.Len(t, res.Trades, len(wants))
	realized, fees := decimal.Zero, decimal.Zero
	for i, w := range wants {
		tr := res.Trades[i]
		assert.Equal(t, w.role, tr.Role, "trade %d", i)
		assert.Equal(t, w.side, tr.Side, "trade %d", i)
		if w.level == "" {
			assert.Equal(t, grid.InitialLevel, tr.Level, "trade %d", i)
			assert.True(t, tr.LevelPrice.IsZero(), "trade %d", i)
		} else {
			assert.Equal(t, w.level, tr.LevelPrice.String(), "trade %d", i)
		}
		assert.Equal(t, w.price, tr.Price.String(), "trade %d", i)
		assert.Equal(t, "1", tr.Qty.String(), "trade %d", i)
		assert.Equal(t, w.fee, tr.Fee.String(), "trade %d", i)
		assert.Equal(t, w.realized, tr.Realized.String(), "trade %d", i)
		assert.Equal(t, w.trip, tr.RoundTrip, "trade %d", i)
		if w.trip {
			assert.Equal(t, w.net, tr.TripNet.String(), "trade %d", i)
		}
		realized, fees = realized.Add(tr.Realized), fees.Add(tr.Fee)
	}
	assert.True(t, realized.Equal(res.Realized), "trades' realized %s sum to Result.Realized %s", realized, res.Realized)
	assert.True(t, fees.Equal(res.Fees), "trades' fees %s sum to Result.Fees %s", fees, res.Fees)

	m := res.Metrics()
	assert.Equal(t, 3, m.Wins)
	assert.InDelta(t, 100, m.WinRatePct, 1e-9)
	assert.Equal(t, "5.949", m.AvgTripNet.String(), "(4.959+7.927+4.961)/3")
	assert.Equal(t, "1.4806", m.ReturnPct.String(), "14.806 on 1000")
	assert.Equal(t, 8, res.Series.FilledOrders)
	// Placed: the initial order, entries at 100, 95, 90 and the exit at 110;
	// then exit 105 (c1), entry 100 (c2), entry 105 and exits 110, 105, 100
	// (c3), entry 95 (c4): 12, of which the 8 above filled.
	assert.Equal(t, 12, res.Orders)
	assert.InDelta(t, 800.0/12, m.FillRatePct, 1e-9)
	assert.Equal(t, 4, res.Series.InMarket, "a position is open at every close")
	assert.InDelta(t, 100, m.TimeInMarketPct, 1e-9)
}

// TestSeriesBucketsByHand checks the per-candle buckets of the hand grid:
// prices, equity, position and drawdown.
func TestSeriesBucketsByHand(t *testing.T) {
	res := handRun(t)
	bs := res.Series.Buckets
	require.Len(t, bs, 4, "four candles, one bucket each")
	assert.Equal(t, []string{"102", "103", "99", "101"}, []string{bs[0].Open.String(), bs[0].High.String(), bs[0].Low.String(), bs[0].Close.String()})
	// Equity at each close, from the hand computation's cash flows.
	// c1: bought 1@102 (fee .051), 1@100 (.020); at 101: 1000 −.071 −1 +1 = 999.929
	assert.Equal(t, "999.929", bs[0].Equity.String())
	assert.Equal(t, "2", bs[0].Position.String())
	// c4's close is the final equity.
	assert.True(t, bs[3].Equity.Equal(res.FinalEquity))
	assert.True(t, bs[3].Position.Equal(res.Position))
	maxDD := decimal.Zero
	for _, b := range bs {
		maxDD = decimal.Max(maxDD, b.Drawdown)
		assert.Equal(t, 1, b.Candles)
		assert.Equal(t, b.Start.Add(60e9), b.End)
	}
	assert.True(t, maxDD.Equal(res.MaxDrawdown), "buckets' drawdown %s, Result %s", maxDD, res.MaxDrawdown)
	assert.False(t, res.Series.DrawdownPeak.IsZero())
	assert.True(t, res.Series.DrawdownTrough.After(res.Series.DrawdownPeak))
	assert.Equal(t, []string{"90", "95", "100", "105", "110"}, decStrings(res.Series.Levels))
	// After c1: 2 held at 101 (202) and entries resting at 95 and 90
	// (185); the exits are reduce-only and reserve nothing. Leverage 1.
	assert.Equal(t, "387", res.Series.Samples[0].Margin.String())
	assert.Equal(t, "387", bs[0].Margin.String())
	assert.Equal(t, "38.7", bs[0].MarginPct.String(), "387 of 999.929")
	require.Len(t, res.Series.Samples, 4)
	assert.Equal(t, res.Equity[3].Time, res.Series.Samples[3].Time)
}

func decStrings(ds []decimal.Decimal) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// TestNoRecordLeavesResultUnchanged checks that recording changes nothing
// else in the Result, and that NoRecord records nothing.
func TestNoRecordLeavesResultUnchanged(t *testing.T) {
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	candles = candles[:8000]
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	cfg := Config{Rules: btcRules, Sim: sc, Grid: []grid.Option{grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("200"))}}
	a, err := Run(candles, cfg)
	require.NoError(t, err)
	cfg.NoRecord = true
	b, err := Run(candles, cfg)
	require.NoError(t, err)
	assert.Empty(t, b.Trades)
	assert.Empty(t, b.Series.Buckets)
	assert.Len(t, a.Trades, int(a.Fills))
	a.Trades, a.Series = nil, Series{}
	assert.Equal(t, a, b)
}

// TestBucketsCoverEveryCandleOfALongRun checks a run longer than
// MaxBuckets: buckets are capped, contiguous, and their candles sum up.
func TestBucketsCoverEveryCandleOfALongRun(t *testing.T) {
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	calls := 0
	res, err := Run(candles, Config{Rules: btcRules, Sim: sc, Progress: func(done, total int) {
		calls++
		assert.Equal(t, len(candles), total)
	}, Grid: []grid.Option{grid.WithBounds(dec("90000"), dec("115000"), 50), grid.WithAmount(dec("200"))}})
	require.NoError(t, err)
	assert.Equal(t, len(candles)/ProgressEvery+1, calls)
	bs := res.Series.Buckets
	require.Len(t, bs, MaxBuckets)
	n, high, want := 0, decimal.Zero, exchange.Ticks(0)
	for _, c := range candles {
		want = max(want, c.High)
	}
	for i, b := range bs {
		n += b.Candles
		if i > 0 {
			assert.Equal(t, bs[i-1].End, b.Start, "bucket %d", i)
		}
		assert.True(t, b.Low.LessThanOrEqual(b.High))
		assert.True(t, b.EquityMin.LessThanOrEqual(b.Equity) && b.Equity.LessThanOrEqual(b.EquityMax))
		high = decimal.Max(high, b.High)
	}
	assert.Equal(t, res.Candles, n)
	assert.True(t, bs[len(bs)-1].Equity.Equal(res.FinalEquity))
	assert.True(t, bs[len(bs)-1].Close.Equal(res.ClosePrice))
	assert.Equal(t, btcRules.TicksToPrice(want).String(), high.String(), "the month's high")
}

// TestRecordedMarginIsTheVenues checks the recorder's cached margin
// against the venue's full walk at every candle of busy runs.
func TestRecordedMarginIsTheVenues(t *testing.T) {
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	candles = candles[:10_000]
	n := 0
	verifyMargin = func(recorded, venue exchange.Money) {
		n++
		if recorded != venue {
			t.Fatalf("candle %d: recorded margin %d, venue %d", n, recorded, venue)
		}
	}
	defer func() { verifyMargin = nil }()
	for _, opts := range [][]grid.Option{
		{grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))},
		{grid.WithMode(grid.Neutral), grid.WithPositionMode(exchange.Hedge), grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))},
		{grid.WithTrailing(dec("0.002"), 30), grid.WithGeometric(), grid.WithAmount(dec("400"))},
	} {
		sc := sim.DefaultCoreConfig(btcRules)
		sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("100000"))
		sc.Leverage = 3
		if len(opts) == 4 {
			sc.PositionMode = exchange.Hedge
		}
		_, err := Run(candles, Config{Rules: btcRules, Sim: sc, Grid: opts})
		require.NoError(t, err)
	}
	assert.Equal(t, 30_000, n)
}

// TestWorstEquityIsTheVenuesWalk checks the run's worst equity of each
// candle (from the net position's sign, for the drawdown) against the
// venue's equity at the candle's low, high and close, on long, short,
// hedged neutral and partially filled runs and on a liquidated one.
func TestWorstEquityIsTheVenuesWalk(t *testing.T) {
	n := 0
	verifyWorst = func(fast, walked exchange.Money) {
		n++
		if fast != walked {
			t.Fatalf("candle %d: worst equity %d, the venue's walk %d", n, fast, walked)
		}
	}
	defer func() { verifyWorst = nil }()
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	candles = candles[:10_000]
	for _, tc := range []struct {
		sim  func(*sim.CoreConfig)
		grid []grid.Option
	}{
		{func(*sim.CoreConfig) {}, []grid.Option{grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))}},
		{func(c *sim.CoreConfig) { c.PartialFill = 1 }, []grid.Option{grid.WithMode(grid.Short), grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))}},
		{func(c *sim.CoreConfig) { c.PositionMode = exchange.Hedge }, []grid.Option{grid.WithMode(grid.Neutral),
			grid.WithPositionMode(exchange.Hedge), grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))}},
	} {
		sc := sim.DefaultCoreConfig(btcRules)
		sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("100000"))
		sc.Leverage = 3
		tc.sim(&sc)
		_, err := Run(candles, Config{Rules: btcRules, Sim: sc, Grid: tc.grid})
		require.NoError(t, err)
	}
	assert.Equal(t, 30_000, n)
	near, err := pricefeed.ReadCandlesFile("../../risk/testdata/NEARUSDT-1m-2025-02-02_03.csv.gz", nearRules)
	require.NoError(t, err)
	sc := sim.DefaultCoreConfig(nearRules)
	sc.InitialBalance, _ = nearRules.DecimalToMoney(dec("1000"))
	sc.Leverage = 10
	res, err := Run(near, Config{Rules: nearRules, Sim: sc, Grid: []grid.Option{grid.WithMode(grid.Long),
		grid.WithTrailing(dec("0.01"), 30), grid.WithGeometric(), grid.WithAmount(dec("150")), grid.WithWindows(10, 10, 2)}})
	require.NoError(t, err)
	require.Len(t, res.Liquidated, 1)
	assert.Equal(t, 30_000+res.Candles, n)
}

// tripObserver collects the engine's round trips.
type tripObserver struct {
	grid.NopObserver
	trips []grid.RoundTrip
}

func (o *tripObserver) RoundTrip(r grid.RoundTrip) { o.trips = append(o.trips, r) }

// TestTripNetIsTheEnginesRoundTrip checks every recorded round trip's net
// profit against the engine's own (its observer), on the hand grid and on
// busy runs of the shipped month with an initial position shared by many
// slots, partial fills, a short grid and a hedged neutral one.
func TestTripNetIsTheEnginesRoundTrip(t *testing.T) {
	check := func(t *testing.T, res Result, obs *tripObserver) {
		t.Helper()
		var nets []string
		for _, tr := range res.Trades {
			if tr.RoundTrip {
				nets = append(nets, tr.TripNet.String())
			}
		}
		want := make([]string, len(obs.trips))
		for i, rt := range obs.trips {
			want[i] = handRules.MoneyToDecimal(rt.Net()).String()
		}
		require.NotEmpty(t, want)
		assert.Equal(t, want, nets)
	}
	obs := &tripObserver{}
	check(t, handRun(t, grid.WithObserver(obs)), obs)

	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	candles = candles[:15_000]
	for _, tc := range []struct {
		name string
		sim  func(*sim.CoreConfig)
		grid []grid.Option
	}{
		{"long, initial position", func(*sim.CoreConfig) {}, []grid.Option{grid.WithBounds(dec("90000"), dec("110000"), 60), grid.WithAmount(dec("300"))}},
		{"partial fills", func(c *sim.CoreConfig) { c.PartialFill = 1 }, []grid.Option{grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))}},
		{"short", func(*sim.CoreConfig) {}, []grid.Option{grid.WithMode(grid.Short), grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))}},
		{"neutral hedge", func(c *sim.CoreConfig) { c.PositionMode = exchange.Hedge }, []grid.Option{grid.WithMode(grid.Neutral),
			grid.WithPositionMode(exchange.Hedge), grid.WithBounds(dec("92000"), dec("100000"), 40), grid.WithAmount(dec("400"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := sim.DefaultCoreConfig(btcRules)
			sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("100000"))
			sc.Leverage = 3
			tc.sim(&sc)
			obs := &tripObserver{}
			res, err := Run(candles, Config{Rules: btcRules, Sim: sc, Grid: append(tc.grid, grid.WithObserver(obs))})
			require.NoError(t, err)
			check(t, res, obs)
		})
	}
}

// TestPathOfIsCandlePath checks the replay loop's path against
// pricefeed's definition on every candle of the shipped month.
func TestPathOfIsCandlePath(t *testing.T) {
	candles, err := pricefeed.ReadCandlesFile(shippedMonth, btcRules)
	require.NoError(t, err)
	for i := range candles {
		require.Equal(t, candles[i].Path(), pathOf(&candles[i]), "candle %d", i)
	}
	flat := pricefeed.Candle{Open: 5, High: 7, Low: 3, Close: 5}
	assert.Equal(t, flat.Path(), pathOf(&flat))
}
