package backtest

import (
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
)

// conv converts integer units to decimals: with one allocation when the
// unit is a small integer times a power of ten (every real tick and step
// size), else by multiplication.
type conv struct {
	mant int64
	exp  int32
	unit decimal.Decimal
	zero decimal.Decimal // shared: decimals are immutable
}

func newConv(unit decimal.Decimal) conv {
	zero := decimal.NewFromInt(0).Mul(unit)
	if c := unit.Coefficient(); c.IsInt64() && c.Int64() > 0 && c.Int64() <= 1<<20 {
		return conv{mant: c.Int64(), exp: unit.Exponent(), unit: unit, zero: zero}
	}
	return conv{unit: unit, zero: zero}
}

// of is v units as a decimal, equal to decimal.NewFromInt(v).Mul(unit).
func (c conv) of(v int64) decimal.Decimal {
	if v == 0 {
		return c.zero
	}
	if c.mant != 0 && v < 1<<40 && v > -1<<40 {
		return decimal.New(v*c.mant, c.exp)
	}
	return decimal.NewFromInt(v).Mul(c.unit)
}

// finish turns the recording into the Result's Trades and Series; eng
// gives the grid's levels. The decimals are made here, once per run.
func (rec *recorder) finish(eng *grid.Engine) ([]Trade, Series) {
	if rec == nil {
		return nil, Series{}
	}
	d := newDecimals(rec)
	s := Series{Symbol: rec.rules.Symbol, Buckets: make([]Bucket, len(rec.buckets)), Samples: make([]Sample, len(rec.samples)),
		InMarket: rec.inMarket, FilledOrders: rec.filled}
	if rec.hasDD {
		s.DrawdownPeak, s.DrawdownTrough = time.UnixMilli(rec.ddPeakAt), time.UnixMilli(rec.ddAt)
	}
	x, m := rec.money.ofExact, d.money
	for k := range rec.buckets {
		b := &rec.buckets[k]
		margin := max(b.margin, 0)
		s.Buckets[k] = Bucket{
			Start: time.UnixMilli(b.start), End: time.UnixMilli(b.end), Candles: b.candles,
			Open: d.price(b.open), High: d.price(b.high), Low: d.price(b.low), Close: d.price(b.close),
			EquityMin: x(b.eqMin), EquityMax: x(b.eqMax), Equity: x(b.eq), EquityMinFirst: b.minAt <= b.maxAt,
			Drawdown: x(b.dd), DrawdownPct: pctExact(b.dd, b.ddPeak),
			PositionMin: d.qty(b.posMin), PositionMax: d.qty(b.posMax), Position: d.qty(b.pos),
			Margin: m(margin), MarginPct: pctExact(exact{m: margin}, b.marginEq),
			Funding: x(b.funding), InMarket: b.inMarket,
		}
	}
	for k, v := range rec.samples {
		s.Samples[k] = Sample{Time: time.UnixMilli(v.ms), Position: d.qty(v.pos), Margin: m(v.margin), Funding: x(v.funding)}
	}
	var levels []exchange.Ticks
	eng.Slots(func(v grid.SlotView) {
		d.levels[v.Level] = v.Price
		levels = append(levels, v.Price, v.Exit)
	})
	slices.Sort(levels)
	levels = slices.Compact(levels)
	for _, p := range levels {
		if p > 0 {
			s.Levels = append(s.Levels, d.price(p))
		}
	}
	trades := make([]Trade, 0, rec.ntrades)
	for _, chunk := range rec.trades {
		for k := range chunk {
			trades = append(trades, d.trade(&chunk[k]))
		}
	}
	return trades, s
}

// decimals makes a run's decimals. A grid fills the same levels with the
// same sizes, so prices, quantities, fees and profits repeat: each is made
// once while it stays in its cache (decimals are immutable, so trades may
// share one).
type decimals struct {
	rec                            *recorder
	prices, qtys, moneys, fees, lv *decCache
	levels                         map[int64]exchange.Ticks // level index → price
}

func newDecimals(rec *recorder) *decimals {
	return &decimals{rec: rec, prices: new(decCache), qtys: new(decCache), moneys: new(decCache), fees: new(decCache), lv: new(decCache),
		levels: make(map[int64]exchange.Ticks, 64)}
}

func (d *decimals) price(t exchange.Ticks) decimal.Decimal { return d.prices.of(int64(t), d.rec.price) }
func (d *decimals) qty(q exchange.Steps) decimal.Decimal   { return d.qtys.of(int64(q), d.rec.qty) }
func (d *decimals) money(v exchange.Money) decimal.Decimal { return d.moneys.of(int64(v), d.rec.money) }

// fee is the exact fee of notional n at the maker or taker rate.
func (d *decimals) fee(n exchange.Money, maker bool) decimal.Decimal {
	rate := d.rec.taker
	if maker {
		rate = d.rec.maker
	}
	key := int64(n) << 1
	if maker {
		key |= 1
	}
	keyed := n >= 0 && n>>61 == 0 // every real notional
	if keyed {
		if v, ok := d.fees.lookup(key); ok {
			return v
		}
	}
	v := d.rec.money.ofExact(exactRate(n, rate))
	if keyed {
		d.fees.put(key, v)
	}
	return v
}

// levelPrice is the price of a grid level, zero for none.
func (d *decimals) levelPrice(level int64) decimal.Decimal {
	if v, ok := d.lv.lookup(level); ok {
		return v
	}
	var v decimal.Decimal
	if p, ok := d.levels[level]; ok {
		v = d.price(p)
	}
	d.lv.put(level, v)
	return v
}

// trade makes the Trade of a recorded fill.
func (d *decimals) trade(f *fillRec) Trade {
	t := Trade{
		Time: time.UnixMilli(f.ms), Level: f.level, Side: f.side, Role: f.role,
		Price: d.price(f.price), Qty: d.qty(f.qty), Fee: d.fee(exchange.Notional(f.price, f.qty), f.maker),
		Realized: d.money(f.realized), Maker: f.maker, RoundTrip: f.trip,
	}
	if f.trip {
		t.TripNet = d.money(f.tripNet)
	}
	if f.role != RoleLiquidation {
		t.LevelPrice = d.levelPrice(f.level)
	}
	return t
}

// decCache remembers the decimals made for recent integers, direct-mapped:
// a collision only makes a value again.
type decCache struct {
	keys [decCacheSize]int64
	vals [decCacheSize]decimal.Decimal
	set  [decCacheSize]bool
}

const decCacheSize = 512 // a power of two: see get

// slot is v's place in the cache.
func (c *decCache) slot(v int64) uint64 {
	return (uint64(v) * 0x9E3779B97F4A7C15) >> (64 - 9) // Fibonacci hashing onto 2⁹ slots
}

// lookup returns the decimal remembered for v, if it still is.
func (c *decCache) lookup(v int64) (decimal.Decimal, bool) {
	i := c.slot(v)
	if c.set[i] && c.keys[i] == v {
		return c.vals[i], true
	}
	return decimal.Decimal{}, false
}

// put remembers d for v.
func (c *decCache) put(v int64, d decimal.Decimal) {
	i := c.slot(v)
	c.keys[i], c.vals[i], c.set[i] = v, d, true
}

// of returns v units of cv, made once while v stays in the cache.
func (c *decCache) of(v int64, cv conv) decimal.Decimal {
	if d, ok := c.lookup(v); ok {
		return d
	}
	d := cv.of(v)
	c.put(v, d)
	return d
}
