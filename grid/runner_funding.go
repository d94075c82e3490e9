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
// minute past every whole hour, and books each settlement once, in time
// order, with the position the grid held at the settlement's time — not at
// the read. It books only settlements after its own start: the position
// while no runner ran is unknown, so a settlement that fell then is not
// booked, and a restart never books one twice. The booked total is kept
// with the books ([Books].Funding, in the [Store]); the stored state has
// no field for the last settlement booked (StoredState version 2), which
// the rule above makes unnecessary. Amounts are exact and the running
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

// posSample is the grid's signed position from time t on (runner's clock).
type posSample struct {
	t   time.Time
	pos exchange.Steps
}

// fundingBook is the runner's funding state, owned by the loop goroutine
// (see [FundingHistory] for what it books).
type fundingBook struct {
	src     FundingHistory // nil: not booked
	init    bool
	samples []posSample     // the grid's position over time, oldest first
	from    time.Time       // the first sample: the run's start
	last    time.Time       // the latest settlement booked or passed over
	exact   decimal.Decimal // this run's funding, exact, in Money units
	booked  exchange.Money  // … rounded half up, booked so far
	reading bool            // a read waiting or running
	next    time.Time       // when the next read is due
}

// fundingSample records the grid's position when it changed (called on
// the loop goroutine whenever it is about to wait, so every change is
// stamped right after it was applied).
func (r *Runner) fundingSample() {
	b := &r.fund
	if !b.init {
		b.init = true
		fh, ok := r.ex.(FundingHistory)
		if !ok || r.cfg.noFunding {
			return
		}
		now := r.cfg.now()
		b.src, b.from, b.last, b.next = fh, now, now, nextFundingRead(now)
		b.samples = append(b.samples, posSample{t: now, pos: r.eng.books.Position})
		return
	}
	if b.src == nil {
		return
	}
	pos := r.eng.books.Position
	n := len(b.samples)
	if n > 0 && b.samples[n-1].pos == pos {
		return
	}
	now := r.cfg.now()
	if n > 0 && now.Before(b.samples[n-1].t) {
		now = b.samples[n-1].t // the clock stepped back: keep the history in order
	}
	if n > 0 && now.Equal(b.samples[n-1].t) {
		b.samples[n-1].pos = pos
		return
	}
	b.samples = append(b.samples, posSample{t: now, pos: pos})
}

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
			r.log.Warn("grid: funding settled before the runner started is not booked (the grid's position then is unknown)",
				"time", s.Time, "rate", s.Rate.String(), "started", b.from)
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
// before t; ok is false before the first sample.
func (b *fundingBook) positionAt(t time.Time) (exchange.Steps, bool) {
	if t.Before(b.from) {
		return 0, false
	}
	i := sort.Search(len(b.samples), func(i int) bool { return b.samples[i].t.After(t) })
	if i == 0 {
		return 0, false
	}
	return b.samples[i-1].pos, true
}

// prune drops the samples no later settlement needs: those before the
// last one at or before the latest settlement booked.
func (b *fundingBook) prune() {
	i := sort.Search(len(b.samples), func(i int) bool { return b.samples[i].t.After(b.last) })
	if i > 1 {
		b.samples = append(b.samples[:0], b.samples[i-1:]...)
	}
}
