package backtest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
)

// fundingVenue is a sim.Venue that counts the reads of its funding
// history and publishes a settlement only once the test says so (as a
// venue's history may lag): the runner must book it with the position the
// grid held at the settlement, not at the read.
type fundingVenue struct {
	*sim.Venue
	reads     atomic.Int64
	published atomic.Int64 // settlements up to this time (Unix ms) are served
}

func (v *fundingVenue) FundingHistory(ctx context.Context, symbol string, since time.Time) ([]exchange.FundingSettlement, error) {
	defer v.reads.Add(1)
	all, err := v.Venue.FundingHistory(ctx, symbol, since)
	var out []exchange.FundingSettlement
	for _, s := range all {
		if s.Time.UnixMilli() <= v.published.Load() {
			out = append(out, s)
		}
	}
	return out, err
}

// noFundingVenue is a venue without the funding-history capability: only
// IExchange's methods.
type noFundingVenue struct{ exchange.IExchange }

// runFunding replays a day of the shipped month (2025-05-12 12:00 on)
// through the runner against a venue that settles funding every hour (a
// ms before the hour, as on Binance's 1-hour symbols, at rates of both
// signs with 8 decimals and at the last close, every other one at a mark
// finer than the tick), then lets the runner read the venue's funding
// history. A fundingVenue publishes the first half of the settlements at
// once and the rest only at the end; its reads are awaited unless opts
// are given (they turn the booking off). It returns the engine's stats,
// the venue's funding in quote currency and the number of settlements.
func runFunding(t *testing.T, wrap func(*sim.Venue) exchange.IExchange, opts ...grid.RunnerOption) (grid.Stats, decimal.Decimal, int) {
	t.Helper()
	btc := loadBTCMonth(t)
	from := (time.Date(2025, 5, 12, 12, 0, 0, 0, time.UTC).UnixMilli() - btc[0].OpenTime) / 60_000
	day := btc[from : from+1440]
	lr := newLiveRun(t, day[0], btcRules, "10000", "0.005", "1000")
	ex := wrap(lr.venue)
	fv, _ := ex.(*fundingVenue)
	// The timer runs (in real time, at the replay's time) so that the
	// runner reads the funding history as it would live.
	ls := lr.start(ex, append([]grid.RunnerOption{grid.WithTimerInterval(2 * time.Millisecond)}, opts...)...)
	ls.begin(day[0])
	rates := []string{"0.00012345", "-0.00004321", "0.00030007", "0.00001", "-0.00000999"}
	settled := 0
	for i, c := range day {
		if i > 0 && time.UnixMilli(c.OpenTime).Minute() == 0 {
			lr.clock.Store(c.OpenTime - 1)
			mark := btcRules.TicksToPrice(day[i-1].Close)
			if settled%2 == 1 {
				mark = mark.Add(dec("0.01234567")) // a mark price finer than the tick, as Binance's
			}
			require.NoError(t, lr.venue.ApplyFunding(context.Background(), dec(rates[settled%len(rates)]), mark))
			settled++
			if fv != nil && settled <= 12 {
				fv.published.Store(c.OpenTime - 1)
			}
		}
		ls.candle(c)
	}
	if fv != nil {
		fv.published.Store(lr.clock.Load())
	}
	// Two more hours of replay time, twice: the runner reads the history
	// (the second read starts only once the first one's answer is booked).
	if fv != nil && len(opts) == 0 {
		for k := range 2 {
			before := fv.reads.Load()
			lr.clock.Add(2 * time.Hour.Milliseconds())
			require.Eventually(t, func() bool { return fv.reads.Load() > before }, 10*time.Second, time.Millisecond, "read %d", k)
		}
	} else {
		lr.clock.Add(4 * time.Hour.Milliseconds())
		time.Sleep(50 * time.Millisecond) // timer ticks: a runner with the capability would have read by now
	}
	ls.stop()
	return lr.eng.Stats(), btcRules.MoneyToDecimal(lr.venue.Stats().Funding), settled
}

// TestRunnerBooksTheVenuesFunding: a runner whose venue has a funding
// history books, once per settlement, the grid's position at the
// settlement × mark × rate in the engine's books — the simulated venue's
// funding for that position to the Money unit (the grid is the account's
// only trader) — so live PnL and the grid drawdown are net of funding.
func TestRunnerBooksTheVenuesFunding(t *testing.T) {
	defer goleak.VerifyNone(t)
	var fv *fundingVenue
	st, venueFunding, settled := runFunding(t, func(v *sim.Venue) exchange.IExchange { fv = &fundingVenue{Venue: v}; return fv })
	require.Equal(t, 23, settled)
	require.False(t, venueFunding.IsZero(), "the grid held a position at some settlement")
	assert.Equal(t, venueFunding.String(), st.Funding.String(), "the grid's booked funding is the venue's")
	assert.Equal(t, st.NetRealized.Sub(st.Funding).Add(st.Unrealized).String(), st.PnL.String(), "PnL is net of funding")
	assert.GreaterOrEqual(t, fv.reads.Load(), int64(2), "read at the end at least")
}

// TestRunnerWithoutFundingHistoryBooksNone: a venue without the capability
// (or a runner told not to book) books nothing: the grid's books stay
// gross of funding, as documented on grid.FundingHistory.
func TestRunnerWithoutFundingHistoryBooksNone(t *testing.T) {
	defer goleak.VerifyNone(t)
	st, venueFunding, _ := runFunding(t, func(v *sim.Venue) exchange.IExchange { return noFundingVenue{v} })
	require.False(t, venueFunding.IsZero())
	assert.True(t, st.Funding.IsZero(), "booked %s without a funding history", st.Funding)

	var fv *fundingVenue
	st, venueFunding, _ = runFunding(t, func(v *sim.Venue) exchange.IExchange { fv = &fundingVenue{Venue: v}; return fv }, grid.WithFundingBooking(false))
	require.False(t, venueFunding.IsZero())
	assert.True(t, st.Funding.IsZero(), "booked %s with WithFundingBooking(false)", st.Funding)
	assert.Zero(t, fv.reads.Load(), "never read")
}

// The simulated venue has the funding-history capability the runner looks for.
var _ grid.FundingHistory = (*sim.Venue)(nil)
