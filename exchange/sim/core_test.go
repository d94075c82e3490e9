package sim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// testRules: BTCUSDT-like, price tick 0.1, quantity step 0.001, so one
// Money unit is 0.0001 USDT and 100000 ticks is 10000.0 USDT.
func testRules() exchange.Rules {
	return exchange.Rules{
		Symbol:      "BTCUSDT",
		TickSize:    decimal.RequireFromString("0.1"),
		StepSize:    decimal.RequireFromString("0.001"),
		MinQty:      decimal.RequireFromString("0.001"),
		MinNotional: decimal.Zero,
	}
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// newTestCore builds a core with 1,000,000,000 Money (100,000 USDT), the
// default fees (maker 0.02 %, taker 0.05 %), and a first tick at 100000.
func newTestCore(t testing.TB, mutate func(*CoreConfig)) *Core {
	t.Helper()
	cfg := DefaultCoreConfig(testRules())
	cfg.InitialBalance = 1_000_000_000
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := NewCore(cfg)
	require.NoError(t, err)
	c.Tick(at(0), 100000)
	require.Empty(t, c.Events())
	return c
}

func place(t testing.TB, c *Core, o OrderSpec) uint64 {
	t.Helper()
	id, err := c.Place(c.Now(), o)
	require.NoError(t, err)
	return id
}

func buy(price exchange.Ticks, qty exchange.Steps) OrderSpec {
	return OrderSpec{Side: exchange.Buy, Price: price, Qty: qty}
}

func sell(price exchange.Ticks, qty exchange.Steps) OrderSpec {
	return OrderSpec{Side: exchange.Sell, Price: price, Qty: qty}
}

func mkt(side exchange.Side, qty exchange.Steps) OrderSpec {
	return OrderSpec{Side: side, Market: true, Qty: qty}
}

// brief is the part of an event the tests compare.
type brief struct {
	Kind     EventKind
	ID       uint64
	Price    exchange.Ticks
	Qty      exchange.Steps
	Cum      exchange.Steps
	Fee      exchange.Money
	Maker    bool
	Realized exchange.Money
}

func briefs(evs []Event) []brief {
	out := make([]brief, 0, len(evs))
	for _, e := range evs {
		out = append(out, brief{e.Kind, e.OrderID, e.Price, e.Qty, e.CumQty, e.Fee, e.Maker, e.RealizedPnL})
	}
	return out
}

func TestNewCoreValidation(t *testing.T) {
	good := DefaultCoreConfig(testRules())
	_, err := NewCore(good)
	require.NoError(t, err)

	bad := good
	bad.Rules.TickSize = decimal.Zero
	bad.MakerFee = 200_000_000
	bad.TakerFee = -100_000_001
	bad.Leverage = 0
	bad.MaintenanceRate = -1
	bad.InitialBalance = -5
	bad.PositionMode = 7
	bad.PartialFill = -2
	_, err = NewCore(bad)
	require.ErrorIs(t, err, ErrInvalidConfig)
	msg := err.Error()
	for _, want := range []string{
		"TickSize", "MakerFee = 200000000", "TakerFee = -100000001", "Leverage = 0",
		"MaintenanceRate = -1", "InitialBalance = -5", "PositionMode = 7", "PartialFill = -2",
	} {
		assert.Contains(t, msg, want)
	}
	assert.Len(t, strings.Split(msg, "\n"), 8)
}

func TestDefaultCoreConfig(t *testing.T) {
	cfg := DefaultCoreConfig(testRules())
	assert.Equal(t, exchange.Rate(20_000), cfg.MakerFee)
	assert.Equal(t, exchange.Rate(50_000), cfg.TakerFee)
	assert.Equal(t, int64(1), cfg.Leverage)
	assert.Equal(t, exchange.Rate(400_000), cfg.MaintenanceRate)
	assert.Equal(t, exchange.OneWay, cfg.PositionMode)
	assert.False(t, cfg.CheckMargin)
	assert.Zero(t, cfg.InitialBalance)
}

func TestPlaceValidation(t *testing.T) {
	minRules := testRules()
	minRules.MinQty = decimal.RequireFromString("0.005")
	minRules.MinNotional = decimal.RequireFromString("100")
	tests := []struct {
		name   string
		hedge  bool
		rules  *exchange.Rules
		spec   OrderSpec
		is     error
		fields []string
	}{
		{"no side", false, nil, OrderSpec{Price: 1, Qty: 1}, exchange.ErrInvalidOrder, []string{"OrderSpec.Side Side(0)"}},
		{"zero qty", false, nil, buy(99000, 0), exchange.ErrInvalidOrder, []string{"OrderSpec.Qty 0"}},
		{"negative qty", false, nil, buy(99000, -3), exchange.ErrInvalidOrder, []string{"OrderSpec.Qty -3"}},
		{"zero price", false, nil, buy(0, 1), exchange.ErrInvalidOrder, []string{"OrderSpec.Price 0"}},
		{"post-only market", false, nil, OrderSpec{Side: exchange.Buy, Market: true, PostOnly: true, Qty: 1}, exchange.ErrInvalidOrder, []string{"OrderSpec.PostOnly true"}},
		{"long in one-way", false, nil, OrderSpec{Side: exchange.Buy, PositionSide: exchange.PositionLong, Price: 99000, Qty: 1}, exchange.ErrPositionMode, []string{"OrderSpec.PositionSide LONG"}},
		{"both in hedge", true, nil, buy(99000, 1), exchange.ErrPositionMode, []string{"OrderSpec.PositionSide BOTH"}},
		{"reduce-only in hedge", true, nil, OrderSpec{Side: exchange.Sell, PositionSide: exchange.PositionLong, Price: 101000, Qty: 1, ReduceOnly: true}, exchange.ErrPositionMode, []string{"OrderSpec.ReduceOnly true"}},
		{"several at once", false, nil, OrderSpec{Side: 9, Qty: -1, Price: -2}, exchange.ErrInvalidOrder, []string{"OrderSpec.Side Side(9)", "OrderSpec.Qty -1", "OrderSpec.Price -2"}},
		{"notional overflow", false, nil, buy(1<<40, 1<<30), exchange.ErrInvalidOrder, []string{"OrderSpec.Qty 1073741824 at price 1099511627776 ticks is a notional beyond"}},
		// a sell limited at 1 tick crosses and would fill at the price, 100000 ticks
		{"crossing sell notional overflow", false, nil, sell(1, 1<<50), exchange.ErrInvalidOrder, []string{"OrderSpec.Qty 1125899906842624 at price 100000 ticks is a notional beyond"}},
		{"below min qty", false, &minRules, buy(99000, 4), exchange.ErrInvalidOrder, []string{"quantity 0.004 is below MinQty 0.005"}},
		// 9000.0 × 0.010 = 90 < 100
		{"below min notional", false, &minRules, buy(90000, 10), exchange.ErrInvalidOrder, []string{"notional 90 is below MinNotional 100"}},
		// market at 10000.0 × 0.009 = 90 < 100
		{"market below min notional", false, &minRules, mkt(exchange.Buy, 9), exchange.ErrInvalidOrder, []string{"notional 90 is below MinNotional 100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCore(t, func(cfg *CoreConfig) {
				if tt.hedge {
					cfg.PositionMode = exchange.Hedge
				}
				if tt.rules != nil {
					cfg.Rules = *tt.rules
				}
			})
			id, err := c.Place(at(1), tt.spec)
			require.ErrorIs(t, err, tt.is)
			assert.Zero(t, id)
			for _, f := range tt.fields {
				assert.Contains(t, err.Error(), f)
			}
			assertNoTrace(t, c)
		})
	}
}

// assertNoTrace checks that a rejected order changed nothing.
func assertNoTrace(t *testing.T, c *Core) {
	t.Helper()
	assert.Empty(t, c.Events())
	assert.Empty(t, c.OpenOrders())
	assert.Equal(t, CoreStats{}, c.Stats())
	assert.Equal(t, at(0), c.Now())
	o := buy(90000, 20)
	if c.cfg.PositionMode == exchange.Hedge {
		o.PositionSide = exchange.PositionLong
	}
	id := place(t, c, o)
	assert.Equal(t, uint64(1), id, "a rejected order must not use an id")
}

func TestPlaceBeforeFirstTick(t *testing.T) {
	c, err := NewCore(DefaultCoreConfig(testRules()))
	require.NoError(t, err)
	_, err = c.Place(at(0), buy(100, 1))
	require.ErrorIs(t, err, ErrNoPrice)
	assert.False(t, c.HasPrice())
	c.Tick(at(1), 100)
	assert.True(t, c.HasPrice())
	assert.Equal(t, exchange.Ticks(100), c.Price())
	_, err = c.Place(at(2), buy(99, 1))
	require.NoError(t, err)
}

func TestMakerAndTakerFees(t *testing.T) {
	c := newTestCore(t, nil)
	id := place(t, c, buy(99000, 10))
	c.Tick(at(1), 98500)
	// maker: 99000 × 10 = 990000 Money (99 USDT); fee 0.02 % = 198
	assert.Equal(t, []brief{{EventFill, id, 99000, 10, 10, 198, true, 0}}, briefs(c.Events()))
	id2 := place(t, c, mkt(exchange.Sell, 10))
	// taker: 98500 × 10 = 985000; fee 0.05 % = 492.5, booked as the change of
	// the rounded exact total (198 + 492.5 = 690.5 → 691, halves up): 493;
	// realized 985000 − 990000 = −5000
	assert.Equal(t, []brief{{EventFill, id2, 98500, 10, 10, 493, false, -5000}}, briefs(c.Events()))
	assert.Equal(t, exchange.Money(1_000_000_000-198-493-5000), c.Wallet())
	st := c.Stats()
	assert.Equal(t, CoreStats{Orders: 2, Fills: 2, MakerFills: 1, TakerFills: 1, Volume: 1_975_000, TakerVolume: 985_000, FeesPaid: 691, RealizedPnL: -5000}, st)
	assert.Equal(t, "0.06905", c.ExactFees().String())
}

func TestMakerRebate(t *testing.T) {
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.MakerFee = -10_000 })
	place(t, c, sell(100100, 10))
	c.Tick(at(1), 100200)
	evs := c.Events()
	require.Len(t, evs, 1)
	// 100100 × 10 = 1001000; −0.01 % = −100.1 → −100
	assert.Equal(t, exchange.Money(-100), evs[0].Fee)
	assert.Equal(t, exchange.Money(1_000_000_100), c.Wallet())
}

func TestPostOnly(t *testing.T) {
	c := newTestCore(t, nil)
	for _, o := range []OrderSpec{
		{Side: exchange.Buy, Price: 100000, Qty: 1, PostOnly: true},  // at the price: crosses
		{Side: exchange.Buy, Price: 100500, Qty: 1, PostOnly: true},  // above
		{Side: exchange.Sell, Price: 100000, Qty: 1, PostOnly: true}, // at the price
		{Side: exchange.Sell, Price: 99000, Qty: 1, PostOnly: true},  // below
	} {
		_, err := c.Place(at(1), o)
		require.ErrorIs(t, err, exchange.ErrPostOnlyRejected)
	}
	assertNoTrace(t, c) // places id 1: a buy at 90000
	id := place(t, c, OrderSpec{Side: exchange.Buy, Price: 99999, Qty: 1, PostOnly: true})
	v, ok := c.Order(id)
	require.True(t, ok)
	assert.Equal(t, OrderView{ID: 2, Side: exchange.Buy, Price: 99999, Qty: 1, Status: exchange.StatusNew, PostOnly: true}, v)
	c.Tick(at(2), 99999)
	// maker fill: 99999 × 1 × 0.02 % = 19.9998 → 20
	assert.Equal(t, []brief{{EventFill, 2, 99999, 1, 1, 20, true, 0}}, briefs(c.Events()))
}

func TestCrossAtPlacement(t *testing.T) {
	c := newTestCore(t, nil)
	b := place(t, c, buy(100500, 10))  // above the price: fills at 100000
	s := place(t, c, sell(100000, 10)) // at the price: fills at 100000
	// each 1,000,000 notional, taker 0.05 % = 500; the sell closes flat at the same price
	assert.Equal(t, []brief{
		{EventFill, b, 100000, 10, 10, 500, false, 0},
		{EventFill, s, 100000, 10, 10, 500, false, 0},
	}, briefs(c.Events()))
	assert.Empty(t, c.OpenOrders())
}

func TestPathOrderWithinTick(t *testing.T) {
	c := newTestCore(t, nil)
	b1 := place(t, c, buy(99000, 1))
	b2 := place(t, c, buy(99500, 1))
	b3 := place(t, c, buy(99500, 2))
	b4 := place(t, c, buy(98000, 1))
	s1 := place(t, c, sell(101000, 1))
	s2 := place(t, c, sell(100500, 1))
	c.Tick(at(1), 98500)
	ids := func(evs []Event) (out []uint64) {
		for _, e := range evs {
			out = append(out, e.OrderID)
		}
		return out
	}
	assert.Equal(t, []uint64{b2, b3, b1}, ids(c.Events()), "fall: highest buy first, ties by placement")
	c.Tick(at(2), 101500)
	assert.Equal(t, []uint64{s2, s1}, ids(c.Events()), "rise: lowest sell first")
	c.Tick(at(3), 97000)
	assert.Equal(t, []uint64{b4}, ids(c.Events()))
	assert.Empty(t, c.OpenOrders())
}

func TestTradeThrough(t *testing.T) {
	tests := []struct {
		tradeThrough bool
		ticks        []exchange.Ticks
		fillAt       int // index of the tick that fills, −1 none
	}{
		{false, []exchange.Ticks{99001, 99000}, 1},
		{true, []exchange.Ticks{99001, 99000, 99000, 98999}, 3},
		{true, []exchange.Ticks{99000, 100000, 99000}, -1},
	}
	for _, tt := range tests {
		c := newTestCore(t, func(cfg *CoreConfig) { cfg.TradeThrough = tt.tradeThrough })
		place(t, c, buy(99000, 5))
		place(t, c, sell(101000, 5))
		for i, p := range tt.ticks {
			c.Tick(at(i+1), p)
			evs := c.Events()
			if i == tt.fillAt {
				assert.Equal(t, []brief{{EventFill, 1, 99000, 5, 5, 99, true, 0}}, briefs(evs)) // 495000 × 0.02 % = 99
			} else {
				assert.Empty(t, evs, "tick %d to %d", i, p)
			}
		}
	}
	// sells mirror: with TradeThrough a sell at 101000 needs 101001
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.TradeThrough = true })
	place(t, c, sell(101000, 5))
	c.Tick(at(1), 101000)
	assert.Empty(t, c.Events())
	c.Tick(at(2), 101001)
	assert.Len(t, c.Events(), 1)
}

func TestPartialFills(t *testing.T) {
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.PartialFill = 3 })
	id := place(t, c, buy(99000, 10))
	steps := []struct {
		price exchange.Ticks
		fill  exchange.Steps
		cum   exchange.Steps
	}{
		{98900, 3, 3},  // touches: 3 of 10
		{99500, 3, 6},  // the path starts at 98900, below the order: touches again
		{100000, 0, 6}, // from 99500 up: not touched
		{99000, 3, 9},  // touches at its price
		{98000, 1, 10}, // the last step
		{97000, 0, 10},
	}
	for i, s := range steps {
		c.Tick(at(i+1), s.price)
		evs := c.Events()
		if s.fill == 0 {
			assert.Empty(t, evs, "step %d", i)
			continue
		}
		require.Len(t, evs, 1, "step %d", i)
		assert.Equal(t, s.fill, evs[0].Qty)
		assert.Equal(t, s.cum, evs[0].CumQty)
		assert.Equal(t, exchange.Steps(10), evs[0].OrderQty)
		if s.cum < 10 {
			v, ok := c.Order(id)
			require.True(t, ok)
			assert.Equal(t, exchange.StatusPartiallyFilled, v.Status)
			assert.Equal(t, s.cum, v.Filled)
		}
	}
	_, ok := c.Order(id)
	assert.False(t, ok)
	q, cost := c.Position(exchange.PositionBoth)
	assert.Equal(t, exchange.Steps(10), q)
	assert.Equal(t, exchange.Money(990000), cost)
}

func TestPartialFillsPathOrder(t *testing.T) {
	// With partial fills, every touched order gets its share in path order.
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.PartialFill = 2 })
	a := place(t, c, buy(99500, 5))
	b := place(t, c, buy(99000, 1))
	c.Tick(at(1), 98000)
	assert.Equal(t, []brief{
		{EventFill, a, 99500, 2, 2, 40, true, 0}, // 199000 × 0.02 % = 39.8 → 40
		{EventFill, b, 99000, 1, 1, 20, true, 0}, // 99000 × 0.02 % = 19.8 → 20
	}, briefs(c.Events()))
}

func TestReduceOnly(t *testing.T) {
	c := newTestCore(t, nil)
	_, err := c.Place(at(1), OrderSpec{Side: exchange.Sell, Price: 101000, Qty: 1, ReduceOnly: true})
	require.ErrorIs(t, err, exchange.ErrReduceOnlyRejected, "nothing to reduce")
	place(t, c, mkt(exchange.Buy, 5)) // long 5 at 100000, cost 500000, fee 250
	c.Events()
	_, err = c.Place(at(1), OrderSpec{Side: exchange.Buy, Price: 99000, Qty: 1, ReduceOnly: true})
	require.ErrorIs(t, err, exchange.ErrReduceOnlyRejected, "a buy cannot reduce a long")

	id := place(t, c, OrderSpec{Side: exchange.Sell, Price: 101000, Qty: 8, ReduceOnly: true})
	v, _ := c.Order(id)
	assert.True(t, v.ReduceOnly)
	c.Tick(at(2), 101500)
	// clipped to the position: 5 fill (505000 × 0.02 % = 101, realized 505000 − 500000), 3 expire
	assert.Equal(t, []brief{
		{EventFill, id, 101000, 5, 5, 101, true, 5000},
		{EventExpired, id, 101000, 3, 5, 0, false, 0},
	}, briefs(c.Events()))
	q, cost := c.Position(exchange.PositionBoth)
	assert.Zero(t, q)
	assert.Zero(t, cost)

	// a resting reduce-only order whose position is gone expires when touched
	place(t, c, mkt(exchange.Buy, 2))
	id = place(t, c, OrderSpec{Side: exchange.Sell, Price: 102000, Qty: 2, ReduceOnly: true})
	place(t, c, mkt(exchange.Sell, 2))
	c.Events()
	c.Tick(at(3), 102000)
	assert.Equal(t, []brief{{EventExpired, id, 102000, 2, 0, 0, false, 0}}, briefs(c.Events()))

	// a crossing reduce-only order fills up to the position, the rest expires
	place(t, c, mkt(exchange.Buy, 3))
	c.Events()
	id = place(t, c, OrderSpec{Side: exchange.Sell, Price: 101000, Qty: 4, ReduceOnly: true})
	evs := c.Events()
	require.Len(t, evs, 2)
	assert.Equal(t, EventFill, evs[0].Kind)
	assert.Equal(t, exchange.Steps(3), evs[0].Qty)
	assert.Equal(t, brief{EventExpired, id, 101000, 1, 3, 0, false, 0}, briefs(evs[1:])[0])
}

func TestOneWayFlip(t *testing.T) {
	c := newTestCore(t, nil)
	place(t, c, mkt(exchange.Buy, 10)) // long 10 at 100000: cost 1,000,000, fee 500
	c.Events()
	c.Tick(at(1), 101000)
	id := place(t, c, mkt(exchange.Sell, 25))
	// closes 10: realized 10 × 101000 − 1,000,000 = 10,000; opens short 15 at 101000.
	// fee: 25 × 101000 = 2,525,000 × 0.05 % = 1262.5 → 1263
	assert.Equal(t, []brief{{EventFill, id, 101000, 25, 25, 1263, false, 10000}}, briefs(c.Events()))
	q, cost := c.Position(exchange.PositionBoth)
	assert.Equal(t, exchange.Steps(-15), q)
	assert.Equal(t, exchange.Money(-1_515_000), cost)
	assert.Equal(t, exchange.Money(1_000_000_000-500-1263+10000), c.Wallet())
	// equity at 100000: wallet + (−15 × 100000 + 1,515,000) = wallet + 15,000
	assert.Equal(t, exchange.Money(1_000_000_000-500-1263+10000+15000), c.Equity(100000))
}

func TestHedgeMode(t *testing.T) {
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.PositionMode = exchange.Hedge })
	long := func(side exchange.Side, price exchange.Ticks, qty exchange.Steps) OrderSpec {
		return OrderSpec{Side: side, PositionSide: exchange.PositionLong, Price: price, Qty: qty}
	}
	short := func(side exchange.Side, price exchange.Ticks, qty exchange.Steps) OrderSpec {
		return OrderSpec{Side: side, PositionSide: exchange.PositionShort, Price: price, Qty: qty}
	}
	_, err := c.Place(at(1), long(exchange.Sell, 101000, 1))
	require.ErrorIs(t, err, exchange.ErrReduceOnlyRejected, "no long to close")
	_, err = c.Place(at(1), short(exchange.Buy, 99000, 1))
	require.ErrorIs(t, err, exchange.ErrReduceOnlyRejected, "no short to close")

	place(t, c, long(exchange.Buy, 100000, 10))  // crosses: long 10 at 100000
	place(t, c, short(exchange.Sell, 100000, 4)) // crosses: short 4 at 100000
	c.Events()
	ql, cl := c.Position(exchange.PositionLong)
	qs, cs := c.Position(exchange.PositionShort)
	assert.Equal(t, []int64{10, 1_000_000, -4, -400_000}, []int64{int64(ql), int64(cl), int64(qs), int64(cs)})
	qb, _ := c.Position(exchange.PositionBoth)
	assert.Zero(t, qb)

	sl := place(t, c, long(exchange.Sell, 102000, 6))
	bs := place(t, c, short(exchange.Buy, 99000, 9)) // more than the short: clipped to 4
	c.Tick(at(2), 102000)
	// long: removed 1,000,000 × 6 / 10 = 600,000; realized 612,000 − 600,000 = 12,000; fee 612000 × 0.02 % = 122.4 → 122
	assert.Equal(t, []brief{{EventFill, sl, 102000, 6, 6, 122, true, 12000}}, briefs(c.Events()))
	c.Tick(at(3), 98000)
	// short: removed −400,000; realized −(4 × 99000) + 400,000 = 4,000; fee 396000 × 0.02 % = 79.2,
	// booked as the change of the rounded exact total: 500 + 200 + 122.4 + 79.2 = 901.6 → 902, less 822 → 80
	assert.Equal(t, []brief{
		{EventFill, bs, 99000, 4, 4, 80, true, 4000},
		{EventExpired, bs, 99000, 5, 4, 0, false, 0},
	}, briefs(c.Events()))
	ql, cl = c.Position(exchange.PositionLong)
	qs, cs = c.Position(exchange.PositionShort)
	assert.Equal(t, []int64{4, 400_000, 0, 0}, []int64{int64(ql), int64(cl), int64(qs), int64(cs)})
	// a sell on LONG never opens a short: 4 fill, 2 expire
	id := place(t, c, OrderSpec{Side: exchange.Sell, PositionSide: exchange.PositionLong, Market: true, Qty: 6})
	evs := c.Events()
	require.Len(t, evs, 2)
	assert.Equal(t, brief{EventExpired, id, 98000, 2, 4, 0, false, 0}, briefs(evs)[1])
	assert.False(t, c.hasPosition())
}

func TestRealizedPnLExactWhenFlat(t *testing.T) {
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.MakerFee, cfg.TakerFee = 0, 0 })
	c.Tick(at(1), 100001)
	place(t, c, mkt(exchange.Buy, 2)) // 2 at 100001 = 200002
	c.Tick(at(2), 100000)
	place(t, c, mkt(exchange.Buy, 1)) // qty 3, cost 300002
	var realized []exchange.Money
	for i, p := range []exchange.Ticks{100010, 100020, 99990} {
		c.Tick(at(3+i), p)
		place(t, c, mkt(exchange.Sell, 1))
		for _, e := range c.Events() {
			if e.Side == exchange.Sell {
				realized = append(realized, e.RealizedPnL)
			}
		}
	}
	// removed 300002/3 = 100000 (truncated): +10; then 200002/2 = 100001: +19; then 100001: −11
	assert.Equal(t, []exchange.Money{10, 19, -11}, realized)
	// cash flows: −200002 − 100000 + 100010 + 100020 + 99990 = 18
	assert.Equal(t, exchange.Money(18), c.Stats().RealizedPnL)
	assert.Equal(t, exchange.Money(1_000_000_018), c.Wallet())
	q, cost := c.Position(exchange.PositionBoth)
	assert.Zero(t, q)
	assert.Zero(t, cost)
}

// liquidationCore opens a long (or short) of 100 steps at 100000 with a
// wallet of 1,000,000 Money (100 USDT): taker fee 10,000,000 × 0.05 % =
// 5,000 leaves 995,000.
func liquidationCore(t *testing.T, side exchange.Side) *Core {
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.InitialBalance = 1_000_000 })
	place(t, c, mkt(side, 100))
	place(t, c, buy(80000, 1))
	place(t, c, sell(120000, 1))
	c.Events()
	require.Equal(t, exchange.Money(995_000), c.Wallet())
	return c
}

func TestLiquidationLong(t *testing.T) {
	// Liquidated when 1e8 × (995,000 − 10,000,000 + 100p) < 400,000 × 100p,
	// i.e. p < 9.005e14 / 9.96e9 = 90411.65: at 90412 equity 36,200 ≥ MM
	// 36,164.8; at 90411 equity 36,100 < MM 36,164.4.
	c := liquidationCore(t, exchange.Buy)
	c.Tick(at(1), 90412)
	assert.Empty(t, c.Events())
	assert.Zero(t, c.Stats().Liquidations)
	c.Tick(at(2), 90411)
	evs := c.Events()
	// close 100 at 90411: notional 9,041,100, fee 4520.55 → 4521, realized −958,900
	assert.Equal(t, []brief{
		{EventCanceled, 2, 80000, 1, 0, 0, false, 0},
		{EventCanceled, 3, 120000, 1, 0, 0, false, 0},
		{EventLiquidation, 4, 90411, 100, 100, 4521, false, -958900},
	}, briefs(evs))
	assert.Equal(t, exchange.Sell, evs[2].Side)
	// cross margin: the close left 995,000 − 958,900 − 4,521 = 31,579 above
	// the bankruptcy price; the insurance fund keeps it and the wallet ends at 0
	assert.Equal(t, exchange.Money(0), c.Wallet())
	assert.Equal(t, exchange.Money(995_000-958_900-4521), c.Stats().Insurance)
	assert.True(t, c.ExactWallet().IsZero())
	assert.Equal(t, int64(1), c.Stats().Liquidations)
	assert.Empty(t, c.OpenOrders())
	assert.False(t, c.hasPosition())
	c.Tick(at(3), 50000)
	assert.Empty(t, c.Events())
}

func TestLiquidationShort(t *testing.T) {
	// Liquidated when 1e8 × (995,000 + 10,000,000 − 100p) < 400,000 × 100p,
	// i.e. p > 1.0995e15 / 1.004e10 = 109511.95: at 109511 equity 43,900 ≥
	// 43,804.4; at 109512 equity 43,800 < 43,804.8.
	c := liquidationCore(t, exchange.Sell)
	c.Tick(at(1), 109511)
	assert.Empty(t, c.Events())
	c.Tick(at(2), 109512)
	evs := c.Events()
	require.Len(t, evs, 3)
	// buy 100 at 109512: notional 10,951,200, fee 5475.6 → 5476, realized 10,000,000 − 10,951,200
	assert.Equal(t, brief{EventLiquidation, 4, 109512, 100, 100, 5476, false, -951200}, briefs(evs)[2])
	assert.Equal(t, exchange.Buy, evs[2].Side)
}

func TestLiquidationGapIsCoveredByTheInsuranceFund(t *testing.T) {
	c := liquidationCore(t, exchange.Buy)
	c.Tick(at(1), 81000) // one jump, above the resting buy at 80000
	evs := c.Events()
	require.Len(t, evs, 3)
	// realized 8,100,000 − 10,000,000; fee 8,100,000 × 0.05 % = 4,050: the
	// close leaves −909,050, which the insurance fund covers
	assert.Equal(t, exchange.Money(0), c.Wallet())
	assert.Equal(t, exchange.Money(0), c.Equity(60000), "no position: equity is the wallet")
	assert.Equal(t, exchange.Money(-909_050), c.Stats().Insurance)
}

func TestLiquidationAfterFillInSameTick(t *testing.T) {
	// A resting buy that fills on the way down is part of what gets liquidated.
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.InitialBalance = 1_000_000; cfg.MakerFee = 0 })
	place(t, c, buy(99000, 100)) // no position yet
	c.Tick(at(1), 50000)
	evs := c.Events()
	require.Len(t, evs, 2)
	assert.Equal(t, EventFill, evs[0].Kind)
	assert.Equal(t, EventLiquidation, evs[1].Kind)
	// realized 5,000,000 − 9,900,000; fee 2,500: the fund covers the deficit
	assert.Equal(t, exchange.Money(0), c.Wallet())
	assert.Equal(t, exchange.Money(1_000_000-4_900_000-2_500), c.Stats().Insurance)
}

func TestHedgeLiquidationClosesBothSides(t *testing.T) {
	// long 100 and short 60 at 100000 (taker 0.05 %: 5,000 + 3,000), wallet
	// 1,000,000 − 8,000 = 992,000. Net long 40: equity 992,000 + 40(p − 100000);
	// MM 0.4 % × 160p. Liquidated when 1e8(992,000 − 4,000,000 + 40p) < 4e5 × 160p
	// ⇔ p(4e9 − 6.4e7) < 3.008e14 ⇔ p < 76422.76: safe at 76423, not at 76422.
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.InitialBalance = 1_000_000; cfg.PositionMode = exchange.Hedge })
	place(t, c, OrderSpec{Side: exchange.Buy, PositionSide: exchange.PositionLong, Market: true, Qty: 100})
	place(t, c, OrderSpec{Side: exchange.Sell, PositionSide: exchange.PositionShort, Market: true, Qty: 60})
	c.Events()
	c.Tick(at(1), 76423)
	assert.Empty(t, c.Events())
	c.Tick(at(2), 76422)
	evs := c.Events()
	require.Len(t, evs, 2)
	assert.Equal(t, exchange.PositionLong, evs[0].PositionSide)
	assert.Equal(t, exchange.Sell, evs[0].Side)
	assert.Equal(t, exchange.PositionShort, evs[1].PositionSide)
	assert.Equal(t, exchange.Buy, evs[1].Side)
	assert.False(t, c.hasPosition())
}

func TestFunding(t *testing.T) {
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.TakerFee = 0 })
	c.ApplyFunding(at(1), 10_000, 100000)
	assert.Empty(t, c.Events(), "no position, no funding")
	place(t, c, mkt(exchange.Buy, 100))
	c.Events()
	c.ApplyFunding(at(2), 10_000, 100500)
	// long pays 0.01 % × 100 × 100500 = 1005
	assert.Equal(t, []Event{{Kind: EventFunding, Time: at(2), PositionSide: exchange.PositionBoth, Price: 100500, Qty: 100, Funding: 1005}}, c.Events())
	place(t, c, mkt(exchange.Sell, 200)) // now short 100
	c.Events()
	c.ApplyFunding(at(3), 10_000, 100500)
	evs := c.Events()
	require.Len(t, evs, 1)
	assert.Equal(t, exchange.Money(-1005), evs[0].Funding, "shorts receive a positive rate")
	c.ApplyFunding(at(4), -3, 100500) // 10,050,000 × 3e-8 = 0.3015 → 0
	assert.Equal(t, exchange.Money(0), c.Events()[0].Funding)
	assert.Equal(t, exchange.Money(1_000_000_000), c.Wallet())
	assert.Equal(t, exchange.Money(0), c.Stats().Funding)
}

func TestFundingHedge(t *testing.T) {
	c := newTestCore(t, func(cfg *CoreConfig) { cfg.PositionMode = exchange.Hedge; cfg.TakerFee = 0 })
	place(t, c, OrderSpec{Side: exchange.Buy, PositionSide: exchange.PositionLong, Market: true, Qty: 10})
	place(t, c, OrderSpec{Side: exchange.Sell, PositionSide: exchange.PositionShort, Market: true, Qty: 4})
	c.Events()
	c.ApplyFunding(at(1), 10_000, 100000)
	evs := c.Events()
	require.Len(t, evs, 2)
	// long 1,000,000 × 0.01 % = 100; short −400,000 × 0.01 % = −40
	assert.Equal(t, []exchange.Money{100, -40}, []exchange.Money{evs[0].Funding, evs[1].Funding})
	assert.Equal(t, exchange.Money(1_000_000_000-60), c.Wallet())
	assert.Equal(t, exchange.Money(60), c.Stats().Funding)
}

func TestMarginCheck(t *testing.T) {
	c := newTestCore(t, func(cfg *CoreConfig) {
		cfg.InitialBalance = 1_000_000
		cfg.Leverage = 2
		cfg.CheckMargin = true
		cfg.MakerFee, cfg.TakerFee = 0, 0
	})
	place(t, c, buy(99000, 20)) // 1,980,000 notional / 2 = 990,000 ≤ 1,000,000
	assert.Equal(t, exchange.Money(10_000), c.Available())
	_, err := c.Place(at(1), buy(99000, 1)) // needs 49,500
	require.ErrorIs(t, err, exchange.ErrInsufficientMargin)
	assert.Contains(t, err.Error(), "sim: BUY of 0.001 at 9900 needs initial margin 4.95, available 1: insufficient margin")
	_, err = c.Place(at(1), mkt(exchange.Sell, 1)) // needs 50,000 at 100000
	require.ErrorIs(t, err, exchange.ErrInsufficientMargin)
	c.Tick(at(2), 99000) // the buy fills: long 20 at 99000
	c.Events()
	// positions 20 × 99000 / 2 = 990,000, no orders: available 1,000,000 − 990,000 = 10,000
	assert.Equal(t, exchange.Money(10_000), c.Available())
	// reduce-only orders need no margin
	id := place(t, c, OrderSpec{Side: exchange.Sell, Price: 110000, Qty: 20, ReduceOnly: true})
	assert.Equal(t, exchange.Money(10_000), c.Available())
	require.NoError(t, c.Cancel(at(3), id))
	pim, oim := c.InitialMargin()
	assert.Equal(t, []exchange.Money{990_000, 0}, []exchange.Money{pim, oim})
}

// PostOnlyCancelLater: a crossing post-only limit is accepted and ended at
// once, unfilled, by an EventCanceled (Bitget) instead of refused.
func TestPostOnlyCancelLater(t *testing.T) {
	rules := exchange.Rules{Symbol: "X", TickSize: decimal.New(1, 0), StepSize: decimal.New(1, 0)}
	for _, later := range []bool{false, true} {
		cfg := DefaultCoreConfig(rules)
		cfg.PostOnlyCancelLater = later
		c, err := NewCore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(1000, 0)
		c.Tick(now, 100)
		id, err := c.Place(now, OrderSpec{Tag: 7, Side: exchange.Buy, PositionSide: exchange.PositionBoth, Price: 100, Qty: 3, PostOnly: true})
		if !later {
			if !errors.Is(err, exchange.ErrPostOnlyRejected) || id != 0 || len(c.Events()) != 0 {
				t.Fatalf("immediate: id %d err %v", id, err)
			}
			continue
		}
		if err != nil || id != 1 {
			t.Fatalf("later: id %d err %v", id, err)
		}
		evs := c.Events()
		want := Event{Kind: EventCanceled, Time: now, OrderID: 1, Tag: 7, Side: exchange.Buy, PositionSide: exchange.PositionBoth, Price: 100, Qty: 3, OrderQty: 3}
		if len(evs) != 1 || evs[0] != want {
			t.Fatalf("later: events %+v, want %+v", evs, want)
		}
		if st := c.Stats(); st.Orders != 1 || st.Canceled != 1 || st.Fills != 0 || len(c.OpenOrders()) != 0 {
			t.Fatalf("later: stats %+v, open %v", st, c.OpenOrders())
		}
		// A post-only limit that does not cross rests as before.
		if _, err := c.Place(now, OrderSpec{Side: exchange.Buy, PositionSide: exchange.PositionBoth, Price: 99, Qty: 1, PostOnly: true}); err != nil || len(c.OpenOrders()) != 1 {
			t.Fatalf("resting: err %v open %v", err, c.OpenOrders())
		}
	}
}

// A reduce-only order below the minimum notional (but not below the
// minimum quantity) is accepted, as on Binance, unless the venue applies
// the minimum to reduce-only orders too (ReduceOnlyMinNotional); an order
// that opens is refused either way, and so is one below the minimum
// quantity.
func TestReduceOnlyIsExemptFromMinNotional(t *testing.T) {
	rules := exchange.Rules{Symbol: "X", TickSize: decimal.New(1, 0), StepSize: decimal.New(1, 0),
		MinQty: decimal.New(2, 0), MinNotional: decimal.New(500, 0)}
	for _, strict := range []bool{false, true} {
		cfg := DefaultCoreConfig(rules)
		cfg.ReduceOnlyMinNotional = strict
		cfg.InitialBalance = 1_000_000 // no liquidation when the price halves
		c, err := NewCore(cfg)
		require.NoError(t, err)
		now := time.Unix(1000, 0)
		c.Tick(now, 100)
		_, err = c.Place(now, OrderSpec{Side: exchange.Buy, PositionSide: exchange.PositionBoth, Market: true, Qty: 6})
		require.NoError(t, err, "600 of notional opens")
		c.Tick(now, 50) // the position is now worth 300, under the minimum notional

		_, err = c.Place(now, OrderSpec{Side: exchange.Buy, PositionSide: exchange.PositionBoth, Price: 40, Qty: 3})
		require.ErrorIs(t, err, exchange.ErrInvalidOrder, "an opening order below the minimum notional")
		_, err = c.Place(now, OrderSpec{Side: exchange.Sell, PositionSide: exchange.PositionBoth, Market: true, Qty: 1, ReduceOnly: true})
		require.ErrorIs(t, err, exchange.ErrInvalidOrder, "below the minimum quantity")

		_, err = c.Place(now, OrderSpec{Side: exchange.Sell, PositionSide: exchange.PositionBoth, Market: true, Qty: 6, ReduceOnly: true})
		if strict {
			require.ErrorIs(t, err, exchange.ErrInvalidOrder, "strict venue")
			continue
		}
		require.NoError(t, err, "reduce-only closes what is worth less than the minimum")
		pos, _ := c.Position(exchange.PositionBoth)
		assert.Zero(t, pos, "closed")
	}
}
