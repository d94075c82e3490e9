package grid

import (
	"context"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// FundingHistory is an optional capability of a venue: its settled
// fundings of a symbol at or after since, oldest first (Binance:
// GET /fapi/v1/fundingRate). A [Runner] whose venue has it books the
// grid's own funding in the engine's books ([Engine.BookFunding]): at each
// settlement, the position the grid held then × the settlement's mark
// price × its rate (positive paid: longs pay a positive rate). Without it
// the runner books no funding: the grid's PnL ([Stats].PnL, take-profit
// and stop-loss by PnL, the grid drawdown) is then gross of funding, and a
// host that knows the funding books it itself with [Engine.BookFunding]
// (and turns the runner's off with [WithFundingBooking] if the venue has
// the capability).
//
// The runner keeps the grid's position over time (each change stamped on
// its clock as it applies it), reads the history every 5 minutes and a
// minute past every whole hour (and at once after a restart that restored
// a funding mark), and books each settlement once, in time
// order, with the position the grid held at the settlement's time — not at
// the read. With a [Store] it also books the settlements that fell while
// no runner ran (a crash, a restart across a funding time): each save
// carries a funding mark (StoredState.FundingMark: the latest settlement
// booked, the booked total's remainder below the Money unit, and the
// grid's position since that settlement), and a restart rebuilds the
// position while it was down from the stored position and the venue's
// fills after the save, at their times (a fill at or before a
// settlement's time counts). Each settlement is booked exactly once
// across any sequence of crashes and restarts, a crash between booking
// and saving included: what was booked is saved with the settlement it
// reached, atomically, and a restart books only later ones. When the
// position at a settlement's time cannot be known — a state without a
// funding mark (an older version's store, a runner that did not book
// funding), a start from the venue alone, the venue's fills after the save
// incomplete (older than the 24 hours a restart reads, a trade without a
// time, trades lagging an order) — the settlement is not booked and the
// runner warns: it never guesses. The booked total is kept with the books
// ([Books].Funding, in the [Store]). Amounts are exact and the running
// total is rounded half up to the Money unit, as exchange/sim books it.
type FundingHistory interface {
	FundingHistory(ctx context.Context, symbol string, since time.Time) ([]exchange.FundingSettlement, error)
}

// When the runner reads the venue's funding history: every fundingPoll,
// and fundingAfter past every whole hour (the settlement times of the
// venues we know — Binance's 1, 4 and 8 hour intervals among them — fall
// on whole hours), so a settlement is booked about a minute after it.
const (
	fundingPoll  = 5 * time.Minute
	fundingAfter = time.Minute
)

// WithFundingBooking says whether the runner books the grid's funding from
// the venue's funding history when the venue has one ([FundingHistory]);
// default true. Turn it off when the host books funding itself.
func WithFundingBooking(on bool) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.noFunding = !on })
}

// posSample is the grid's signed position from time t on (the runner's
// clock, or the venue's for a fill a restart learned of); unknown says the
// position from t on is not known.
type posSample struct {
	t       time.Time
	pos     exchange.Steps
	unknown bool
}

// fundingBook is the runner's funding state, owned by the loop goroutine
// (see [FundingHistory] for what it books).
type fundingBook struct {
	src     FundingHistory // nil: not booked
	init    bool
	samples []posSample     // the grid's position over time, oldest first
	last    time.Time       // the latest settlement booked or passed over
	exact   decimal.Decimal // the restored remainder plus this run's funding, exact, in Money units
	booked  exchange.Money  // … rounded half up, booked so far by this run
	reading bool            // a read waiting or running
	next    time.Time       // when the next read is due
}

// fundingSample records the grid's position when it changed (called on
// the loop goroutine whenever it is about to wait, so every change is
// stamped right after it was applied).
func (r *Runner) fundingSample() {
	b := &r.fund
	if !b.init {
		r.startFunding(r.cfg.now(), nil, Snapshot{}, time.Time{})
		return
	}
	if b.src == nil {
		return
	}
	b.sample(r.cfg.now(), r.eng.books.Position, false)
}

// sample records that the position is pos from now on (or unknown): a
// time before the latest sample's is taken as the latest's, so that the
// history stays in order whatever the clocks do.
func (b *fundingBook) sample(now time.Time, pos exchange.Steps, unknown bool) {
	if n := len(b.samples); n > 0 {
		last := &b.samples[n-1]
		if last.pos == pos && last.unknown == unknown {
			return
		}
		if now.Before(last.t) {
			now = last.t // the clock stepped back: keep the history in order
		}
		if now.Equal(last.t) {
			last.pos, last.unknown = pos, unknown
			return
		}
	}
	b.samples = append(b.samples, posSample{t: now, pos: pos, unknown: unknown})
}

// startFunding starts the funding book when the run starts (on the loop
// goroutine, after the grid was rebuilt from st — nil without a stored
// state — and snap, whose fills the venue gave from fillsFrom on).
func (r *Runner) startFunding(now time.Time, st *StoredState, snap Snapshot, fillsFrom time.Time) {
	b := &r.fund
	b.init = true
	fh, ok := r.ex.(FundingHistory)
	if !ok || r.cfg.noFunding {
		return
	}
	b.src, b.last, b.next = fh, now, nextFundingRead(now)
	switch {
	case st != nil && st.FundingMark != nil:
		r.restoreFunding(*st, snap, fillsFrom)
		b.next = now // settlements may have fallen while no runner ran: read at once
	case st != nil:
		r.log.Warn("grid: the stored state has no funding mark (saved by an older version, or without funding booking): funding settled before this start is not booked",
			"grid", r.gridID, "start", now)
	case r.eng.recovered:
		r.log.Warn("grid: started from the venue alone: funding settled before this start is not booked (the grid's position then is unknown)",
			"grid", r.gridID, "start", now)
	}
	b.sample(now, r.eng.books.Position, false)
}

// storedState is the engine's state with the runner's funding mark, as
// the runner saves it.
func (r *Runner) storedState() StoredState {
	st := r.eng.State()
	st.FundingMark = r.fundingMark()
	return st
}

// fundingMark is the funding book as a [Store] keeps it, ending with the
// position of the state being saved; nil when the runner books no funding.
func (r *Runner) fundingMark() *StoredFundingMark {
	b := &r.fund
	if !b.init || b.src == nil {
		return nil
	}
	now, pos := r.cfg.now(), r.eng.books.Position
	b.sample(now, pos, false)
	ps := b.samples[b.inForce(b.last):]
	m := &StoredFundingMark{Through: b.last.UnixNano(), Remainder: b.exact.Sub(decimal.NewFromInt(int64(b.booked))),
		Positions: make([]StoredPosition, 0, min(len(ps)+1, storedFundingPositions))}
	// The latest positions, and the save itself last: the position was
	// known until then.
	last := ps[len(ps)-1]
	save := StoredPosition{At: max(now.UnixNano(), last.t.UnixNano()), Position: pos}
	keep := storedFundingPositions
	if save.At != last.t.UnixNano() {
		keep--
	}
	for _, p := range ps[max(len(ps)-keep, 0):] {
		m.Positions = append(m.Positions, StoredPosition{At: p.t.UnixNano(), Position: p.pos, Unknown: p.unknown})
	}
	if keep < storedFundingPositions {
		m.Positions = append(m.Positions, save)
	}
	return m
}

// storedFundingPositions bounds the positions a funding mark keeps: the
// latest changes before a save, far more than the few minutes between a
// settlement and the read that books it see.
const storedFundingPositions = 256

// nextFundingRead is the first read time after now: fundingAfter past the
// next whole hour, or fundingPoll from now, whichever comes first.
func nextFundingRead(now time.Time) time.Time {
	hour := now.Truncate(time.Hour).Add(fundingAfter)
	if !hour.After(now) {
		hour = hour.Add(time.Hour)
	}
	if p := now.Add(fundingPoll); p.Before(hour) {
		return p
	}
	return hour
}

// fundingTimer queues a read of the venue's funding history when one is due.
func (l *loop) fundingTimer(now time.Time) {
	b := &l.r.fund
	if b.src == nil || b.reading || now.Before(b.next) || l.stopping.Load() {
		return
	}
	b.reading, b.next = true, nextFundingRead(now)
	l.urgent = append(l.urgent, job{funding: true, since: b.last.Add(time.Millisecond)})
}

// readFunding reads the venue's settlements since since, on a worker.
func (r *Runner) readFunding(ctx context.Context, since time.Time) answer {
	var got []exchange.FundingSettlement
	// Adapters declare the read's cost under exchange.OpFundingRate
	// (Binance: a window of its own, 500 per 5 minutes).
	err := r.x.Do(ctx, exchange.OpFundingRate, func(ctx context.Context) error {
		var err error
		got, err = r.fund.src.FundingHistory(ctx, r.rules.Symbol, since)
		return err
	})
	if err != nil {
		r.log.Warn("grid: reading the venue's funding history failed; will retry", "err", err)
		return answer{fundingRead: true}
	}
	return answer{fundingRead: true, settlements: got}
}

// bookSettlements books the grid's funding of each settlement it has not
// booked yet, in time order (on the loop goroutine).
func (l *loop) bookSettlements(ss []exchange.FundingSettlement) {
	r, b := l.r, &l.r.fund
	b.reading = false
	sort.SliceStable(ss, func(i, j int) bool { return ss[i].Time.Before(ss[j].Time) })
	for _, s := range ss {
		if (s.Symbol != "" && s.Symbol != r.rules.Symbol) || !s.Time.After(b.last) {
			continue // another symbol's, or booked already
		}
		b.last = s.Time
		pos, ok := b.positionAt(s.Time)
		if !ok {
			r.log.Warn("grid: funding settlement not booked: the grid's position at its time is unknown (no runner ran then, and no stored state or venue fills say it)",
				"grid", r.gridID, "time", s.Time, "rate", s.Rate.String())
			continue
		}
		if pos == 0 {
			continue
		}
		mark := s.MarkPrice
		if !mark.IsPositive() {
			mark = r.rules.TicksToPrice(r.eng.Price())
			r.log.Warn("grid: funding settlement without a mark price: charged at the grid's last price", "time", s.Time, "price", mark.String())
		}
		qty := r.rules.StepsToQty(pos)
		pay := exchange.FundingSettlement{Rate: s.Rate, MarkPrice: mark}.Payment(qty)
		units := fineUnits(pay.DivRound(r.rules.MoneyUnit(), 24))
		b.exact = b.exact.Add(units)
		total := exchange.Money(b.exact.Add(decimal.New(5, -1)).Floor().IntPart()) // half up, as exchange/sim
		d := total - b.booked
		b.booked = total
		if d != 0 {
			r.eng.BookFunding(d)
		}
		r.log.Info("grid: funding booked", "grid", r.gridID, "time", s.Time, "rate", s.Rate.String(), "mark", mark.String(),
			"position", qty.String(), "paid", pay.String())
	}
	b.prune()
}

// fineUnits rounds an amount in Money units to 1e-8 of a unit as
// exchange/sim books a payment at a mark finer than the tick (the fraction
// half up), so that booked funding equals the simulator's to the unit.
func fineUnits(v decimal.Decimal) decimal.Decimal {
	f := v.Floor()
	return f.Add(v.Sub(f).Round(8))
}

// positionAt is the grid's position at t: that of the last sample at or
// before t; ok is false before the first sample and while unknown.
func (b *fundingBook) positionAt(t time.Time) (exchange.Steps, bool) {
	i := b.firstAfter(t)
	if i == 0 || b.samples[i-1].unknown {
		return 0, false
	}
	return b.samples[i-1].pos, true
}

// inForce is the index of the sample in force at t (0 when none is).
func (b *fundingBook) inForce(t time.Time) int { return max(b.firstAfter(t)-1, 0) }

// firstAfter is the index of the first sample later than t (len(samples)
// when none is).
func (b *fundingBook) firstAfter(t time.Time) int {
	return sort.Search(len(b.samples), func(i int) bool { return b.samples[i].t.After(t) })
}

// prune drops the samples no later settlement needs: those before the
// last one at or before the latest settlement booked.
func (b *fundingBook) prune() {
	if i := b.inForce(b.last); i > 0 {
		b.samples = append(b.samples[:0], b.samples[i:]...)
	}
}
