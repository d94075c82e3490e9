package sim

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

func TestEventsDoubleBuffered(t *testing.T) {
	c := newTestCore(t, nil)
	place(t, c, buy(99000, 1))
	place(t, c, buy(98000, 1))
	c.Tick(at(1), 97000)
	evs := c.Events()
	require.Len(t, evs, 2)
	snapshot := append([]Event(nil), evs...)
	// react: place exits (one crosses and fills at once) and cancel one
	var reacted []uint64
	for _, e := range evs {
		reacted = append(reacted, place(t, c, sell(e.Price+1000, e.Qty)))
	}
	reacted = append(reacted, place(t, c, sell(96000, 1))) // crosses: a taker fill event now
	require.NoError(t, c.Cancel(at(2), reacted[0]))
	assert.Equal(t, snapshot, evs, "the drained slice must not change while reacting")
	assert.Equal(t, 2, cap(evs), "the drained slice is capped so appends cannot clobber")

	next := c.Events()
	require.Len(t, next, 2)
	assert.Equal(t, EventFill, next[0].Kind)
	assert.Equal(t, reacted[2], next[0].OrderID)
	assert.Equal(t, EventCanceled, next[1].Kind)
	assert.Equal(t, reacted[0], next[1].OrderID)
	assert.Empty(t, c.Events())
}

// randomRun drives a core with seeded random operations and calls check
// after each one. It returns the full event log.
func randomRun(t testing.TB, seed uint64, mutate func(*CoreConfig), steps int, check func(c *Core, step int, evs []Event)) []Event {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := newTestCore(t, func(cfg *CoreConfig) {
		cfg.InitialBalance = 50_000_000 // 5,000 USDT
		if mutate != nil {
			mutate(cfg)
		}
	})
	hedge := c.cfg.PositionMode == exchange.Hedge
	var log []Event
	price := c.Price()
	for step := 0; step < steps; step++ {
		now := at(step + 1)
		switch r := rng.IntN(100); {
		case r < 45:
			price += exchange.Ticks(rng.IntN(801) - 400)
			if price < 1000 {
				price = 1000
			}
			c.Tick(now, price)
		case r < 80:
			o := OrderSpec{Tag: uint64(step), Side: exchange.Side(1 + rng.IntN(2)), Qty: exchange.Steps(1 + rng.IntN(20))}
			if rng.IntN(5) == 0 {
				o.Market = true
			} else {
				o.Price = price + exchange.Ticks(rng.IntN(1601)-800)
				o.PostOnly = rng.IntN(4) == 0
			}
			if hedge {
				o.PositionSide = exchange.PositionSide(1 + rng.IntN(2))
			} else {
				o.ReduceOnly = rng.IntN(5) == 0
			}
			_, _ = c.Place(now, o) // rejections are part of the run
		case r < 92:
			if open := c.OpenOrders(); len(open) > 0 {
				require.NoError(t, c.Cancel(now, open[rng.IntN(len(open))].ID))
			}
		default:
			c.ApplyFunding(now, exchange.Rate(rng.IntN(20001)-10000), price+exchange.Ticks(rng.IntN(21)-10))
		}
		evs := c.Events()
		log = append(log, evs...)
		if check != nil {
			check(c, step, evs)
		}
	}
	return log
}

// TestPropertyAccounting checks, after every operation of seeded random
// runs: equity at any mark == initial − Σ signed fill notional − fees −
// funding + Σ qty × mark; each position == Σ signed fills; the realized PnL
// of the events sums to the core's; the book stays sorted and consistent.
func TestPropertyAccounting(t *testing.T) {
	configs := map[string]func(*CoreConfig){
		"one-way":             nil,
		"hedge":               func(c *CoreConfig) { c.PositionMode = exchange.Hedge },
		"trade-through":       func(c *CoreConfig) { c.TradeThrough = true },
		"partial":             func(c *CoreConfig) { c.PartialFill = 3 },
		"margin":              func(c *CoreConfig) { c.CheckMargin = true; c.Leverage = 5 },
		"rebate hedge":        func(c *CoreConfig) { c.PositionMode = exchange.Hedge; c.MakerFee = -5_000; c.PartialFill = 4 },
		"high maintenance tt": func(c *CoreConfig) { c.MaintenanceRate = 5_000_000; c.TradeThrough = true },
		"isolated hedge": func(c *CoreConfig) {
			c.MarginMode = exchange.Isolated
			c.PositionMode = exchange.Hedge
			c.Leverage = 20
		},
		"brackets slippage": func(c *CoreConfig) { c.Brackets = propBrackets; c.SlippageTicks, c.SlippageRate = 3, 20_000 },
		// small balances: liquidations happen
		"cross small": func(c *CoreConfig) { c.InitialBalance = 300_000; c.MaintenanceRate = 2_000_000 },
		"isolated small hedge": func(c *CoreConfig) {
			c.InitialBalance = 300_000
			c.MarginMode = exchange.Isolated
			c.PositionMode = exchange.Hedge
			c.Leverage = 50
		},
		"isolated brackets": func(c *CoreConfig) {
			c.InitialBalance = 300_000
			c.MarginMode = exchange.Isolated
			c.Brackets = propBrackets
			c.Leverage = 25
		},
		"cross brackets hedge": func(c *CoreConfig) {
			c.InitialBalance = 300_000
			c.PositionMode = exchange.Hedge
			c.Brackets = propBrackets
		},
	}
	for name, mutate := range configs {
		for seed := uint64(1); seed <= 5; seed++ {
			var (
				flows   exchange.Money // Σ −signed notional − fee − funding
				posSum  [3]exchange.Steps
				realSum exchange.Money
				fills   int64
				liqs    int64
			)
			var initial exchange.Money
			mark := exchange.Ticks(77777)
			randomRun(t, seed, mutate, 3000, func(c *Core, step int, evs []Event) {
				initial = c.cfg.InitialBalance
				for _, e := range evs {
					if bookFlows(e, &flows, &posSum) {
						realSum += e.RealizedPnL
						fills++
						if e.Kind == EventLiquidation {
							liqs++
						}
					}
				}
				var q exchange.Steps
				for ps := range 3 {
					pq, _ := c.Position(exchange.PositionSide(ps))
					require.Equal(t, posSum[ps], pq, "%s seed %d step %d: position %d", name, seed, step, ps)
					q += pq
				}
				for _, m := range []exchange.Ticks{c.Price(), mark} {
					want := initial + flows - c.Stats().Insurance + exchange.Notional(m, q)
					require.Equal(t, want, c.Equity(m), "%s seed %d step %d: equity at %d", name, seed, step, m)
				}
				require.Equal(t, realSum, c.Stats().RealizedPnL)
				if c.cfg.MarginMode == exchange.Cross && len(evs) > 0 && evs[len(evs)-1].Kind == EventLiquidation {
					require.Zero(t, c.Wallet(), "%s seed %d step %d: a cross liquidation leaves the wallet at 0", name, seed, step)
					require.True(t, c.ExactWallet().IsZero())
				}
				require.Equal(t, fills, c.Stats().Fills)
				checkBook(t, c)
				if c.cfg.PositionMode == exchange.Hedge {
					ql, _ := c.Position(exchange.PositionLong)
					qs, _ := c.Position(exchange.PositionShort)
					require.GreaterOrEqual(t, ql, exchange.Steps(0))
					require.LessOrEqual(t, qs, exchange.Steps(0))
				}
				if !c.hasPosition() {
					for ps := range 3 {
						_, cost := c.Position(exchange.PositionSide(ps))
						require.Zero(t, cost, "flat: cost basis must be empty")
					}
				}
			})
			if seed == 1 {
				t.Logf("%s seed %d: %d fills, %d liquidation closes", name, seed, fills, liqs)
			}
		}
	}
}

// bookFlows books a core event as the property tests count money: a fill
// (or liquidation fill) adds −signed notional − fee to flows and its signed
// quantity to pos at its position side, and reports true; a funding event
// adds −funding to flows. Any other event changes nothing.
func bookFlows(e Event, flows *exchange.Money, pos *[3]exchange.Steps) (fill bool) {
	switch e.Kind {
	case EventFill, EventLiquidation:
		d := e.Qty
		if e.Side == exchange.Sell {
			d = -d
		}
		*flows -= exchange.Notional(e.Price, d) + e.Fee
		pos[e.PositionSide] += d
		return true
	case EventFunding:
		*flows -= e.Funding
	}
	return false
}

func checkBook(t testing.TB, c *Core) {
	t.Helper()
	for i := 1; i < len(c.bids); i++ {
		a, b := c.bids[i-1], c.bids[i]
		require.True(t, a.price > b.price || (a.price == b.price && a.id < b.id), "bids out of order")
	}
	for i := 1; i < len(c.asks); i++ {
		a, b := c.asks[i-1], c.asks[i]
		require.True(t, a.price < b.price || (a.price == b.price && a.id < b.id), "asks out of order")
	}
	for _, b := range [2][]order{c.bids, c.asks} {
		for _, o := range b {
			require.Less(t, o.filled, o.qty)
			require.GreaterOrEqual(t, o.filled, exchange.Steps(0))
		}
	}
}

// TestQuietPathMatchesSlowPath runs the same random inputs through a core
// and through a twin whose quiet-tick shortcut is disabled after every
// operation: the event logs must be identical.
func TestQuietPathMatchesSlowPath(t *testing.T) {
	for _, mutate := range []func(*CoreConfig){
		nil,
		func(c *CoreConfig) { c.PartialFill = 2; c.TradeThrough = true },
		func(c *CoreConfig) { c.PositionMode = exchange.Hedge; c.MaintenanceRate = 3_000_000 },
		func(c *CoreConfig) {
			c.MarginMode = exchange.Isolated
			c.PositionMode = exchange.Hedge
			c.Leverage = 20
		},
		func(c *CoreConfig) { c.MarginMode = exchange.Isolated; c.Brackets = propBrackets; c.Leverage = 10 },
		func(c *CoreConfig) { c.PositionMode = exchange.Hedge; c.Brackets = propBrackets },
		func(c *CoreConfig) { c.InitialBalance = 300_000; c.MaintenanceRate = 2_000_000 },
		func(c *CoreConfig) {
			c.InitialBalance = 300_000
			c.MarginMode = exchange.Isolated
			c.PositionMode = exchange.Hedge
			c.Leverage = 50
		},
		func(c *CoreConfig) {
			c.InitialBalance = 300_000
			c.MarginMode = exchange.Isolated
			c.Brackets = propBrackets
			c.Leverage = 25
		},
		func(c *CoreConfig) {
			c.InitialBalance = 300_000
			c.PositionMode = exchange.Hedge
			c.Brackets = propBrackets
		},
	} {
		for seed := uint64(10); seed < 14; seed++ {
			fast := randomRun(t, seed, mutate, 2000, nil)
			slow := randomRun(t, seed, mutate, 2000, func(c *Core, _ int, _ []Event) {
				c.lowGuard, c.highGuard = 1<<62, -1<<62
			})
			require.Equal(t, slow, fast)
			require.NotEmpty(t, fast)
		}
	}
}

func TestDeterminism(t *testing.T) {
	a := randomRun(t, 42, func(c *CoreConfig) { c.PartialFill = 5 }, 3000, nil)
	b := randomRun(t, 42, func(c *CoreConfig) { c.PartialFill = 5 }, 3000, nil)
	require.Equal(t, a, b)
	kinds := map[EventKind]int{}
	for _, e := range a {
		kinds[e.Kind]++
	}
	for _, k := range []EventKind{EventFill, EventCanceled, EventExpired, EventFunding} {
		assert.Positive(t, kinds[k], "the run should exercise %s", k)
	}
	c := randomRun(t, 43, func(c *CoreConfig) { c.PartialFill = 5 }, 3000, nil)
	assert.NotEqual(t, a, c, "another seed gives another run")
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{
		0: "EventKind(0)", EventFill: "FILL", EventCanceled: "CANCELED", EventExpired: "EXPIRED",
		EventLiquidation: "LIQUIDATION", EventFunding: "FUNDING", 9: "EventKind(9)",
	} {
		assert.Equal(t, want, k.String())
	}
}

func TestCancel(t *testing.T) {
	c := newTestCore(t, nil)
	id := place(t, c, OrderSpec{Tag: 77, Side: exchange.Buy, Price: 99000, Qty: 3})
	require.NoError(t, c.Cancel(at(5), id))
	assert.Equal(t, []Event{{Kind: EventCanceled, Time: at(5), OrderID: id, Tag: 77, Side: exchange.Buy, Price: 99000, Qty: 3, OrderQty: 3}}, c.Events())
	err := c.Cancel(at(6), id)
	require.ErrorIs(t, err, exchange.ErrOrderNotFound)
	assert.Contains(t, err.Error(), "order 1")
	assert.Equal(t, at(5), c.Now())
	c.Tick(at(7), 90000)
	assert.Empty(t, c.Events(), "a canceled order does not fill")
	assert.Equal(t, int64(1), c.Stats().Canceled)
}

func TestOpenOrdersInIDOrder(t *testing.T) {
	c := newTestCore(t, nil)
	place(t, c, sell(101000, 1))
	place(t, c, buy(99000, 1))
	place(t, c, buy(99500, 1))
	place(t, c, sell(100500, 1))
	var ids []uint64
	for _, o := range c.OpenOrders() {
		ids = append(ids, o.ID)
	}
	assert.Equal(t, []uint64{1, 2, 3, 4}, ids)
}

// FuzzCore interprets the input as a sequence of operations and checks the
// accounting identity and the book after each; it must never panic.
func FuzzCore(f *testing.F) {
	f.Add([]byte{0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 200, 100, 50})
	f.Add([]byte{1, 1, 1, 1, 0, 0, 0, 255, 255, 255, 3, 3, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		cfg := DefaultCoreConfig(testRules())
		cfg.InitialBalance = 10_000_000
		cfg.PositionMode = exchange.PositionMode(in[0] & 1)
		cfg.TradeThrough = in[0]&2 != 0
		cfg.PartialFill = exchange.Steps(in[0] >> 5)
		cfg.CheckMargin = in[0]&4 != 0
		cfg.MakerFee = exchange.Rate(int64(in[1])*1000 - 50_000)
		c, err := NewCore(cfg)
		require.NoError(t, err)
		c.Tick(at(0), 100000)
		price := exchange.Ticks(100000)
		var flows exchange.Money
		var pos [3]exchange.Steps
		for i := 2; i+2 < len(in); i += 3 {
			op, a, b := in[i], in[i+1], in[i+2]
			now := at(i)
			switch op % 4 {
			case 0:
				price += exchange.Ticks(int(a)-128) * 50
				c.Tick(now, max(price, 1))
			case 1:
				o := OrderSpec{Side: exchange.Side(1 + b&1), Qty: exchange.Steps(1 + b>>3), Price: price + exchange.Ticks(int(a)-128)*20, Market: b&2 != 0, PostOnly: b&4 != 0}
				if cfg.PositionMode == exchange.Hedge {
					o.PositionSide = exchange.PositionSide(1 + (a & 1))
				} else {
					o.ReduceOnly = a&1 != 0
				}
				_, _ = c.Place(now, o)
			case 2:
				_ = c.Cancel(now, uint64(a%16))
			case 3:
				c.ApplyFunding(now, exchange.Rate(int(a)-128)*100, price)
			}
			for _, e := range c.Events() {
				bookFlows(e, &flows, &pos)
			}
			var q exchange.Steps
			for ps := range 3 {
				pq, _ := c.Position(exchange.PositionSide(ps))
				if pq != pos[ps] {
					t.Fatalf("position %d: %d, fills say %d", ps, pq, pos[ps])
				}
				q += pq
			}
			if got, want := c.Equity(90000), cfg.InitialBalance+flows+exchange.Notional(90000, q); got != want {
				t.Fatalf("equity %d, cash flows say %d", got, want)
			}
			checkBook(t, c)
		}
	})
}

// propBrackets are three continuous tiers: 0.4 % to 500 USDT of notional,
// 1 % to 5,000 (amount 500 USDT × 0.6 % = 30,000 Money), 5 % above
// (30,000 + 50,000,000 × 4 % = 2,030,000).
var propBrackets = []Bracket{
	{NotionalCap: 5_000_000, Rate: 400_000},
	{NotionalCap: 50_000_000, Rate: 1_000_000, Amount: 30_000},
	{Rate: 5_000_000, Amount: 2_030_000},
}
