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
	marginK                int64 // margin × Leverage, before rounding up (see candle)
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
	acc     map[int64]levelAcc
	trades  [][]fillRec // in chunks, so that growing never copies them
	ntrades int

	// orderMargin and held cache the open orders' initial margin and the
	// positions' Σ |quantity|, which only change when an order is placed,
	// fills or leaves the book (dirty).
	orderMargin exchange.Money
	held        exchange.Steps
	dirty       bool
	leverage    int64

	// peakAt is when the equity's running peak was set (the run tracks the
	// peak itself); ddPeakAt and ddAt date the largest drawdown, if hasDD.
	peakAt, ddPeakAt, ddAt int64
	hasDD                  bool
	inMarket, filled       int
}

// newRecorder records candles, the first opening at t0 (ms), on a venue
// configured by sc.
func newRecorder(rules exchange.Rules, candles int, t0 int64, sc sim.CoreConfig) *recorder {
	nb := min(candles, MaxBuckets)
	return &recorder{
		rules: rules, price: newConv(rules.TickSize), qty: newConv(rules.StepSize), money: newConv(rules.MoneyUnit()),
		maker: sc.MakerFee, taker: sc.TakerFee, total: candles, nb: nb, buckets: make([]bucket, 0, nb),
		acc: make(map[int64]levelAcc, 64), dirty: true,
		peakAt: t0, leverage: max(sc.Leverage, 1),
	}
}

// placed notes an order the venue accepted (the margin it reserves).
func (rec *recorder) placed() {
	if rec == nil {
		return
	}
	rec.dirty = true
}

// ended notes an order that left the book.
func (rec *recorder) ended() {
	if rec == nil {
		return
	}
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
	// An entry adds to its slot's held quantity, an exit takes from it
	// (the books hold Σ long and Σ short held, each ≥ 0).
	role := RoleEntry
	switch {
	case ref.Level == grid.CloseLevel:
		role = RoleExit
	case ref.Level == grid.InitialLevel:
	case after.LongHeld+after.ShortHeld < before.LongHeld+before.ShortHeld:
		role = RoleExit
	}
	if ev.CumQty == ev.Qty {
		rec.filled++
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
	rec.add(t)
}

// add appends a recorded fill.
func (rec *recorder) add(t fillRec) {
	n := len(rec.trades)
	if n == 0 || len(rec.trades[n-1]) == cap(rec.trades[n-1]) {
		size := 256
		if n > 0 {
			size = min(2*cap(rec.trades[n-1]), 8192)
		}
		rec.trades = append(rec.trades, make([]fillRec, 0, size))
		n++
	}
	rec.trades[n-1] = append(rec.trades[n-1], t)
	rec.ntrades++
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
	rec.add(fillRec{
		ms: now.UnixMilli(), side: ev.Side, role: RoleLiquidation,
		price: ev.Price, qty: ev.Qty, realized: ev.RealizedPnL,
	})
}

// candle records a replayed candle: eq is the exact equity at its close,
// d its drawdown (the run's), pos the grid's position, sample whether the
// run took an equity sample, and final whether the run ends with it.
func (rec *recorder) candle(c *pricefeed.Candle, core *sim.Core, eq exact, d *drawdown, pos exchange.Steps, sample, final bool) {
	if rec == nil {
		return
	}
	end := c.OpenTime + 60_000
	changed := rec.dirty // the position and the orders changed since the last candle
	if changed {
		_, rec.orderMargin = core.InitialMargin()
		rec.held = heldQty(core)
		rec.dirty = false
	}
	open := rec.held != 0
	// The venue's initial margin is the orders' part (whole Money) plus
	// the positions', by its formula ⌈Σ |notional at the current price| /
	// Leverage⌉: with one price, Σ |q × p| = p × Σ |q|. So margin =
	// ⌈k / Leverage⌉ with k below, and a larger margin has a larger k: the
	// division is made only when k is a bucket's largest yet.
	k := int64(rec.orderMargin) * rec.leverage
	if open {
		k += int64(exchange.Notional(core.Price(), rec.held))
		rec.inMarket++
	}
	if verifyMargin != nil {
		pim, oim := core.InitialMargin()
		verifyMargin(rec.margin(k), pim+oim)
	}
	if d.newMax {
		rec.hasDD, rec.ddPeakAt, rec.ddAt = true, rec.peakAt, end
	}
	if d.newPeak {
		rec.peakAt = end
	}

	// Candle n goes to bucket ⌊n × nb / total⌋: the next bucket opens at
	// the first n where that grows, ⌈(i+1) × total / nb⌉ for bucket i.
	if rec.n == rec.nextB {
		i := int64(len(rec.buckets)) + 1
		rec.nextB = int((i*int64(rec.total) + int64(rec.nb) - 1) / int64(rec.nb))
		rec.buckets = append(rec.buckets, bucket{
			start: c.OpenTime, open: c.Open, high: c.High, low: c.Low,
			eqMin: eq, eqMax: eq, posMin: pos, posMax: pos, margin: -1, marginK: -1,
		})
	}
	rec.n++
	b := &rec.buckets[len(rec.buckets)-1]
	b.high, b.low = max(b.high, c.High), min(b.low, c.Low)
	if eq.less(b.eqMin) {
		b.eqMin, b.minAt = eq, b.candles
	}
	if b.eqMax.less(eq) {
		b.eqMax, b.maxAt = eq, b.candles
	}
	if changed { // the position moves only with fills
		b.posMin, b.posMax = min(b.posMin, pos), max(b.posMax, pos)
	}
	if b.dd.less(d.dd) {
		b.dd, b.ddPeak = d.dd, d.peak
	}
	if k > b.marginK {
		b.marginK = k
		if m := rec.margin(k); m > b.margin {
			b.margin, b.marginEq = m, eq
		}
	}
	if open {
		b.inMarket++
	}
	b.candles++
	if rec.n == rec.nextB || final || sample {
		fm, ff := core.ExactFundingUnits()
		funding := exact{fm, ff}
		if rec.n == rec.nextB || final { // the bucket's last candle
			b.end, b.close, b.eq, b.pos, b.funding = end, c.Close, eq, pos, funding
		}
		if sample {
			rec.samples = append(rec.samples, sampleRec{ms: end, pos: pos, margin: rec.margin(k), funding: funding})
		}
	}
}

// margin is ⌈k / Leverage⌉ for k ≥ 0.
func (rec *recorder) margin(k int64) exchange.Money {
	return exchange.Money((k + rec.leverage - 1) / rec.leverage)
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
