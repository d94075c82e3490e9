package backtest

import (
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/slot"
)

// MaxBuckets is the most buckets a run's [Series] holds: a run of more
// candles than this is summarised in MaxBuckets buckets of consecutive
// candles (a whole number of candles each, as even as they divide), so a
// year of 1-minute candles costs the same memory as a month. It is two
// buckets per pixel column of the HTML report's charts.
const MaxBuckets = 2 * plotWidth

const plotWidth = 960

// Role says what a [Trade] did to the grid's position. The zero value is
// not a role a recorded trade has.
type Role uint8

const (
	// RoleEntry is a fill of an order that opens a slot's position, the
	// initial position's market order included.
	RoleEntry Role = iota + 1
	// RoleExit is a fill of an order that closes a slot's position, a hard
	// stop's closing orders included.
	RoleExit
	// RoleLiquidation is the venue's forced close of a position.
	RoleLiquidation
)

// String returns "entry", "exit" or "liquidation".
func (r Role) String() string {
	switch r {
	case RoleEntry:
		return "entry"
	case RoleExit:
		return "exit"
	case RoleLiquidation:
		return "liquidation"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// MarshalText encodes the role as its String.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText decodes "entry", "exit" or "liquidation".
func (r *Role) UnmarshalText(b []byte) error {
	for _, v := range []Role{RoleEntry, RoleExit, RoleLiquidation} {
		if v.String() == string(b) {
			*r = v
			return nil
		}
	}
	return fmt.Errorf("backtest: role %q: want entry, exit or liquidation", b)
}

// Trade is one fill of the run, as recorded in [Result.Trades]. It is a
// plain value.
type Trade struct {
	Time time.Time
	// Level is the grid level's index; grid.InitialLevel for the initial
	// position's market order, grid.CloseLevel for a hard stop's closing
	// orders, and 0 for a liquidation (Role tells them apart).
	Level int64
	// LevelPrice is the level's price (zero for the initial position, a
	// close or a liquidation, which belong to no level).
	LevelPrice decimal.Decimal
	Side       exchange.Side
	Role       Role
	Price      decimal.Decimal // the fill's price
	Qty        decimal.Decimal // the fill's quantity (base)
	// Fee is the fill's fee, exact: price × quantity × the maker or taker
	// rate, as the venue charges it (Binance books commission to 8
	// decimals; this is finer). Signed: positive paid, negative a rebate.
	// The fees of every trade sum to Result.Fees exactly.
	Fee decimal.Decimal
	// Realized is the gross profit this fill booked: the engine's, per
	// slot against the slot's own entry (it sums to Result.Realized); for a
	// liquidation the venue's average-entry PnL.
	Realized decimal.Decimal
	Maker    bool
	// RoundTrip marks the exit fill that completed a slot's round trip;
	// TripNet is then that trip's realized profit net of its fees: the
	// slot's entry and exit fills since its previous round trip, or its
	// share of the initial position's fee — the engine's own round trip
	// (grid.RoundTrip.Net), whose fees are those the venue booked to the
	// wallet in whole Money units (Rules.MoneyUnit; see sim.Event.Fee), so
	// it may differ from Realized − Σ Fee of its fills by less than a unit.
	RoundTrip bool
	TripNet   decimal.Decimal
}

// Bucket summarises consecutive candles of a run for charts. Prices are
// the candles'; the other series are sampled at each candle's close, except
// Drawdown, which counts the candle's worst price while a position is open
// (as Result.MaxDrawdown does). Equity, drawdown and funding are exact, as
// Result.FinalEquity and Result.Funding are: the last bucket's Equity is
// FinalEquity and its Funding is Result.Funding. It is a plain value.
type Bucket struct {
	Start   time.Time // the first candle's open time
	End     time.Time // the last candle's close time
	Candles int

	Open, High, Low, Close decimal.Decimal

	EquityMin, EquityMax, Equity decimal.Decimal // Equity: at the last close
	// EquityMinFirst reports whether EquityMin came before EquityMax, so a
	// chart can draw the two in the order they happened.
	EquityMinFirst bool
	// Drawdown is the largest fall of equity below its running peak in the
	// bucket (quote), DrawdownPct the same as a percentage of that peak.
	Drawdown, DrawdownPct decimal.Decimal

	PositionMin, PositionMax, Position decimal.Decimal // signed base quantity
	// Margin is the largest initial margin in use (positions and open
	// orders, as the venue reserves it), MarginPct the same as a
	// percentage of equity at that moment.
	Margin, MarginPct decimal.Decimal
	// Funding is the cumulative funding at the bucket's end (signed,
	// positive paid; exact), zero unless the run charges funding.
	Funding decimal.Decimal
	// InMarket counts the candles that closed with a position open (on
	// either side of a hedged account).
	InMarket int
}

// Sample is what the recorder adds to an equity sample ([Result.Equity])
// taken at the same Time.
type Sample struct {
	Time     time.Time
	Position decimal.Decimal // signed base quantity
	Margin   decimal.Decimal // initial margin in use (positions and open orders)
	Funding  decimal.Decimal // cumulative funding (signed, positive paid; exact, as Result.Funding)
}

// Series is a run's recorded course over time, for charts and exports. Its
// zero value means nothing was recorded (Config.NoRecord). It is a plain
// value.
type Series struct {
	// Symbol is the symbol of the run's rules.
	Symbol string
	// Buckets cover the replayed candles in order, at most MaxBuckets.
	Buckets []Bucket
	// Samples extend Result.Equity point by point.
	Samples []Sample
	// Levels are the prices of every level the grid made, ascending.
	Levels []decimal.Decimal
	// DrawdownPeak and DrawdownTrough are when Result.MaxDrawdown's peak
	// was set and when the fall from it was deepest (zero when there was
	// no drawdown).
	DrawdownPeak, DrawdownTrough time.Time
	// InMarket counts the candles that closed with a position open.
	InMarket int
	// FilledOrders counts the grid's orders that filled at least in part
	// (liquidations are the venue's, not counted).
	FilledOrders int
}

// bucket is a Bucket in integers, while recording.
type bucket struct {
	start, end             int64 // ms
	candles                int
	open, high, low, close exchange.Ticks
	eqMin, eqMax, eq       exact
	minAt, maxAt           int
	dd, ddPeak             exact
	posMin, posMax, pos    exchange.Steps
	margin                 exchange.Money
	marginEq               exact
	funding                exact
	inMarket               int
}

// sampleRec is a Sample in integers, while recording.
type sampleRec struct {
	ms      int64
	pos     exchange.Steps
	margin  exchange.Money
	funding exact
}

// fillRec is a Trade in integers, while recording: a run books thousands
// of fills, and decimals are made for them once, when the Result is built.
type fillRec struct {
	ms                int64
	level             int64
	price             exchange.Ticks
	qty               exchange.Steps
	realized, tripNet exchange.Money
	side              exchange.Side
	role              Role
	maker, trip       bool
}

// levelAcc is a level's booking since its last round trip.
type levelAcc struct{ realized, fees exchange.Money }

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

// recorder records a run's fills and course in integers; its methods are
// the hooks the run calls, and finish makes the decimals. A nil *recorder
// records nothing.
type recorder struct {
	rules   exchange.Rules
	price   conv // ticks
	qty     conv // steps
	money   conv // money units
	maker   exchange.Rate
	taker   exchange.Rate
	total   int // candles of the run
	nb      int // buckets
	n       int // candles seen
	nextB   int // the candle that opens the next bucket
	buckets []bucket
	samples []sampleRec
	roles   map[uint64]slot.Role // order tag → role, while the order lives
	acc     map[int64]levelAcc
	trades  []fillRec

	// orderMargin and held cache the open orders' initial margin and the
	// positions' Σ |quantity|, which only change when an order is placed,
	// fills or leaves the book (dirty).
	orderMargin exchange.Money
	held        exchange.Steps
	dirty       bool
	leverage    int64

	peak, maxDD            exact
	peakAt, ddPeakAt, ddAt int64
	inMarket, filled       int
}

// newRecorder records a run of candles on a venue configured by sc.
func newRecorder(rules exchange.Rules, candles int, sc sim.CoreConfig) *recorder {
	nb := min(candles, MaxBuckets)
	return &recorder{
		rules: rules, price: newConv(rules.TickSize), qty: newConv(rules.StepSize), money: newConv(rules.MoneyUnit()),
		maker: sc.MakerFee, taker: sc.TakerFee, total: candles, nb: nb, buckets: make([]bucket, 0, nb),
		roles: make(map[uint64]slot.Role, 64), acc: make(map[int64]levelAcc, 64), dirty: true,
		peak: exact{m: sc.InitialBalance}, leverage: max(sc.Leverage, 1),
	}
}

// placed notes the role of an order the venue accepted.
func (rec *recorder) placed(it grid.Intent) {
	if rec == nil {
		return
	}
	rec.roles[it.Ref.Tag()] = it.Role
	rec.dirty = true
}

// ended forgets an order that left the book.
func (rec *recorder) ended(tag uint64) {
	if rec == nil {
		return
	}
	delete(rec.roles, tag)
	rec.dirty = true
}

// fillSnap is the engine's state before a fill's event: its books, and
// for the initial order's fills the slots' held quantities.
type fillSnap struct {
	books grid.Books
	held  map[int64]int64
}

// beforeFill snapshots what fill compares with.
func (rec *recorder) beforeFill(eng *grid.Engine, ev *sim.Event) fillSnap {
	if rec == nil {
		return fillSnap{}
	}
	s := fillSnap{books: eng.Books()}
	if grid.RefFromTag(ev.Tag).Level == grid.InitialLevel {
		s.held = map[int64]int64{}
		eng.Slots(func(v grid.SlotView) { s.held[v.Level] = v.Slot.Held })
	}
	return s
}

// fill records a fill of one of the grid's orders, after the engine
// booked it; snap is its state before.
func (rec *recorder) fill(now time.Time, ev *sim.Event, snap fillSnap, eng *grid.Engine) {
	if rec == nil {
		return
	}
	before, after := snap.books, eng.Books()
	rec.dirty = true
	ref := grid.RefFromTag(ev.Tag)
	role := RoleEntry
	switch {
	case ref.Level == grid.CloseLevel:
		role = RoleExit
	case ref.Level == grid.InitialLevel:
	case rec.roles[ev.Tag] == slot.RoleExit:
		role = RoleExit
	}
	if ev.CumQty == ev.Qty {
		rec.filled++
	}
	if ev.CumQty == ev.OrderQty {
		delete(rec.roles, ev.Tag)
	}
	realized := after.Realized - before.Realized
	t := fillRec{
		ms: now.UnixMilli(), level: ref.Level, side: ev.Side, role: role,
		price: ev.Price, qty: ev.Qty, realized: realized, maker: ev.Maker,
	}
	if ref.Level == grid.InitialLevel {
		rec.shareInitialFee(ev, snap.held, eng)
	}
	if ref.Level != grid.InitialLevel && ref.Level != grid.CloseLevel {
		a := rec.acc[ref.Level]
		a.realized += realized
		a.fees += ev.Fee
		if after.RoundTrips > before.RoundTrips {
			t.trip, t.tripNet = true, a.realized-a.fees
			a = levelAcc{}
		}
		rec.acc[ref.Level] = a
	}
	rec.trades = append(rec.trades, t)
}

// shareInitialFee books a fill of the initial order's fee to the slots
// that received its quantity, as the engine does for its round trips:
// nearest the price first, in proportion to the quantity, the last slot
// served taking the remainder.
func (rec *recorder) shareInitialFee(ev *sim.Event, held map[int64]int64, eng *grid.Engine) {
	type got struct {
		level int64
		dist  exchange.Ticks
		q     int64
	}
	var gots []got
	eng.Slots(func(v grid.SlotView) {
		if q := v.Slot.Held - held[v.Level]; q > 0 {
			d := v.Price - ev.Price
			gots = append(gots, got{v.Level, max(d, -d), q})
		}
	})
	slices.SortFunc(gots, func(a, b got) int { return cmpInt(int64(a.dist), int64(b.dist)) })
	left, feeLeft := int64(ev.Qty), ev.Fee
	for _, g := range gots {
		fee := exchange.Money(int64(ev.Fee) * g.q / int64(ev.Qty))
		left -= g.q
		if left == 0 {
			fee = feeLeft
		}
		feeLeft -= fee
		a := rec.acc[g.level]
		a.fees += fee
		rec.acc[g.level] = a
	}
}

// liquidation records the venue's forced close.
func (rec *recorder) liquidation(now time.Time, ev *sim.Event) {
	if rec == nil {
		return
	}
	rec.dirty = true
	rec.trades = append(rec.trades, fillRec{
		ms: now.UnixMilli(), side: ev.Side, role: RoleLiquidation,
		price: ev.Price, qty: ev.Qty, realized: ev.RealizedPnL,
	})
}

// candle records a replayed candle: eq is the exact equity at its close,
// worst at its worst price (as the run's drawdown counts it), pos the
// grid's position, and sample whether the run took an equity sample.
func (rec *recorder) candle(c *pricefeed.Candle, core *sim.Core, eq, worst exact, pos exchange.Steps, sample bool) {
	if rec == nil {
		return
	}
	if rec.n == 0 {
		rec.peakAt = c.OpenTime
	}
	end := c.OpenTime + 60_000
	if rec.dirty {
		_, rec.orderMargin = core.InitialMargin()
		rec.held = heldQty(core)
		rec.dirty = false
	}
	open := rec.held != 0
	// The positions' part of the venue's initial margin, by its formula
	// ⌈Σ |notional at the current price| / Leverage⌉: with one price,
	// Σ |q × p| = p × Σ |q|.
	margin := rec.orderMargin
	if open {
		margin += exchange.Money((int64(exchange.Notional(core.Price(), rec.held)) + rec.leverage - 1) / rec.leverage)
	}
	if verifyMargin != nil {
		pim, oim := core.InitialMargin()
		verifyMargin(margin, pim+oim)
	}
	fm, ff := core.ExactFundingUnits()
	funding := exact{fm, ff}

	var dd exact
	if worst.less(rec.peak) {
		dd = rec.peak.sub(worst)
		if rec.maxDD.less(dd) {
			rec.maxDD, rec.ddPeakAt, rec.ddAt = dd, rec.peakAt, end
		}
	}
	ddPeak := rec.peak
	if rec.peak.less(eq) {
		rec.peak, rec.peakAt = eq, end
	}
	if open {
		rec.inMarket++
	}

	// Candle n goes to bucket ⌊n × nb / total⌋: the next bucket opens at
	// the first n where that grows, ⌈(i+1) × total / nb⌉ for bucket i.
	if rec.n == rec.nextB {
		i := int64(len(rec.buckets)) + 1
		rec.nextB = int((i*int64(rec.total) + int64(rec.nb) - 1) / int64(rec.nb))
		rec.buckets = append(rec.buckets, bucket{
			start: c.OpenTime, open: c.Open, high: c.High, low: c.Low,
			eqMin: eq, eqMax: eq, posMin: pos, posMax: pos, margin: -1,
		})
	}
	rec.n++
	b := &rec.buckets[len(rec.buckets)-1]
	b.end, b.close, b.eq, b.pos, b.funding = end, c.Close, eq, pos, funding
	b.high, b.low = max(b.high, c.High), min(b.low, c.Low)
	if eq.less(b.eqMin) {
		b.eqMin, b.minAt = eq, b.candles
	}
	if b.eqMax.less(eq) {
		b.eqMax, b.maxAt = eq, b.candles
	}
	b.posMin, b.posMax = min(b.posMin, pos), max(b.posMax, pos)
	if b.dd.less(dd) {
		b.dd, b.ddPeak = dd, ddPeak
	}
	if margin > b.margin {
		b.margin, b.marginEq = margin, eq
	}
	if open {
		b.inMarket++
	}
	b.candles++
	if sample {
		rec.samples = append(rec.samples, sampleRec{ms: end, pos: pos, margin: margin, funding: funding})
	}
}

// finish turns the recording into the Result's Trades and Series; eng
// gives the grid's levels.
func (rec *recorder) finish(eng *grid.Engine) ([]Trade, Series) {
	if rec == nil {
		return nil, Series{}
	}
	r := rec.rules
	m := func(v exchange.Money) decimal.Decimal { return rec.money.of(int64(v)) }
	x := rec.money.ofExact
	// Prices, quantities and realized profits repeat (a grid fills the
	// same levels with the same sizes): each value is made once.
	tp := memo(rec.price)
	q := memo(rec.qty)
	mm := memo(rec.money)
	s := Series{Symbol: r.Symbol, Buckets: make([]Bucket, len(rec.buckets)), Samples: make([]Sample, len(rec.samples)), InMarket: rec.inMarket, FilledOrders: rec.filled}
	if (exact{}).less(rec.maxDD) {
		s.DrawdownPeak, s.DrawdownTrough = time.UnixMilli(rec.ddPeakAt), time.UnixMilli(rec.ddAt)
	}
	for k := range rec.buckets {
		b := &rec.buckets[k]
		marginEq := b.marginEq
		s.Buckets[k] = Bucket{
			Start: time.UnixMilli(b.start), End: time.UnixMilli(b.end), Candles: b.candles,
			Open: tp(int64(b.open)), High: tp(int64(b.high)), Low: tp(int64(b.low)), Close: tp(int64(b.close)),
			EquityMin: x(b.eqMin), EquityMax: x(b.eqMax), Equity: x(b.eq), EquityMinFirst: b.minAt <= b.maxAt,
			Drawdown: x(b.dd), DrawdownPct: pctExact(b.dd, b.ddPeak),
			PositionMin: q(int64(b.posMin)), PositionMax: q(int64(b.posMax)), Position: q(int64(b.pos)),
			Margin: m(max(b.margin, 0)), MarginPct: pctExact(exact{m: max(b.margin, 0)}, marginEq),
			Funding: x(b.funding), InMarket: b.inMarket,
		}
	}
	for k, v := range rec.samples {
		s.Samples[k] = Sample{Time: time.UnixMilli(v.ms), Position: q(int64(v.pos)), Margin: m(v.margin), Funding: x(v.funding)}
	}
	prices := map[int64]exchange.Ticks{}
	var levels []exchange.Ticks
	eng.Slots(func(v grid.SlotView) {
		prices[v.Level] = v.Price
		levels = append(levels, v.Price, v.Exit)
	})
	slices.Sort(levels)
	levels = slices.Compact(levels)
	for _, p := range levels {
		if p > 0 {
			s.Levels = append(s.Levels, tp(int64(p)))
		}
	}
	trades := make([]Trade, len(rec.trades))
	for k := range rec.trades {
		f := &rec.trades[k]
		rate := rec.taker
		if f.maker {
			rate = rec.maker
		}
		t := Trade{
			Time: time.UnixMilli(f.ms), Level: f.level, Side: f.side, Role: f.role,
			Price: tp(int64(f.price)), Qty: q(int64(f.qty)),
			Fee:      x(exactRate(exchange.Notional(f.price, f.qty), rate)),
			Realized: mm(int64(f.realized)), Maker: f.maker, RoundTrip: f.trip,
		}
		if f.trip {
			t.TripNet = m(f.tripNet)
		}
		if p, ok := prices[f.level]; ok && f.role != RoleLiquidation {
			t.LevelPrice = tp(int64(p))
		}
		trades[k] = t
	}
	return trades, s
}

// memo returns c.of, remembering the decimals it made.
func memo(c conv) func(int64) decimal.Decimal {
	seen := make(map[int64]decimal.Decimal, 64)
	return func(v int64) decimal.Decimal {
		if d, ok := seen[v]; ok {
			return d
		}
		d := c.of(v)
		seen[v] = d
		return d
	}
}

// verifyMargin, set by a test, compares the recorder's margin with the
// venue's, walked in full, at every candle.
var verifyMargin func(recorded, venue exchange.Money)

// heldQty is Σ |quantity| over the venue's position sides (a hedged
// neutral grid can hold both with a net of zero).
func heldQty(core *sim.Core) exchange.Steps {
	var n exchange.Steps
	for _, ps := range [...]exchange.PositionSide{exchange.PositionBoth, exchange.PositionLong, exchange.PositionShort} {
		q, _ := core.Position(ps)
		n += max(q, -q)
	}
	return n
}
