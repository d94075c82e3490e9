package backtest

import (
	"context"
	"math"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// crashStore is a store a test can crash: once frozen, saves report
// success but keep nothing (the writes a crashed process never made), so
// the stored state stays the last one saved before.
type crashStore struct {
	grid.Store
	frozen atomic.Bool
}

func (s *crashStore) Save(ctx context.Context, st grid.StoredState) error {
	if s.frozen.Load() {
		return nil
	}

	return s.Store.Save(ctx, st)
}

// halt stops the lockstep's runner and leaves the venue open (a stop or a
// crash of the grid's process, not of the venue).
func (s *lockstep) halt() {
	s.t.Helper()
	s.cancel()
	s.wg.Wait()
	require.NoError(s.t, s.runErr)
}

// venuePosition is the venue's signed position in the grid's symbol.
func venuePosition(t *testing.T, v *sim.Venue) decimal.Decimal {
	t.Helper()
	ps, err := v.Positions(context.Background(), btcRules.Symbol)
	require.NoError(t, err)
	sum := decimal.Zero
	for _, p := range ps {
		sum = sum.Add(p.Quantity)
	}
	return sum
}

// liveGrid is newLiveRun's grid again (the same ID, anchor and levels):
// the grid a restarted process builds.
func liveGrid(t *testing.T, first pricefeed.Candle) *grid.Engine {
	t.Helper()
	eng, err := grid.New(btcRules, grid.WithGridID("risk"), grid.WithStartPrice(btcRules.TicksToPrice(first.Open)),
		grid.WithMode(grid.Long), grid.WithTrailing(dec("0.005"), 30), grid.WithGeometric(), grid.WithAmount(dec("1000")), grid.WithWindows(10, 10, 2))
	require.NoError(t, err)
	return eng
}

// TestRunnerBooksTheFundingSettledWhileStopped replays a day of the
// shipped month (2025-05-12 12:00 on) against a venue that settles funding
// every hour (a millisecond before the hour, rates of both signs, every
// other mark finer than the tick), through three runs of the grid on one
// store: a planned stop from 17:20 to 19:40 (the venue settles at 18:00
// and 19:00 and fills the grid's resting orders meanwhile), then a crash
// at 01:50 whose store stopped saving at 01:00 — after the runner had read
// and booked the 01:00 settlement, so that booking is lost with the crash
// (the replay outruns the runner's timer, so the last save is through an
// earlier settlement still, with the positions since) — down until 04:40
// (02:00, 03:00 and 04:00 settle). The grid's funding
// equals the venue's to the Money unit: every settlement is booked once,
// with the position the grid held at its time (the grid is the account's
// only trader). Before the fix the settlements that fell while no runner
// ran were not booked (issue 12's funding finding).
func TestRunnerBooksTheFundingSettledWhileStopped(t *testing.T) {
	defer goleak.VerifyNone(t)
	btc := loadBTCMonth(t)
	from := (time.Date(2025, 5, 12, 12, 0, 0, 0, time.UTC).UnixMilli() - btc[0].OpenTime) / 60_000
	day := btc[from : from+1440]
	lr := newLiveRun(t, day[0], btcRules, "10000", "0.005", "1000")
	fv := &fundingVenue{Venue: lr.venue}
	fv.published.Store(math.MaxInt64)
	file, err := grid.NewJSONFileStore(filepath.Join(t.TempDir(), "grid.json"))
	require.NoError(t, err)
	store := &crashStore{Store: file}
	opts := []grid.RunnerOption{grid.WithTimerInterval(2 * time.Millisecond), grid.WithStore(store, 10*time.Minute)}
	ctx := context.Background()

	rates := []string{"0.00012345", "-0.00004321", "0.00030007", "0.00001", "-0.00000999"}
	settled, downSettled := 0, 0
	settle := func(i int) {
		lr.clock.Store(day[i].OpenTime - 1)
		mark := btcRules.TicksToPrice(day[i-1].Close)
		if settled%2 == 1 {
			mark = mark.Add(dec("0.01234567"))
		}
		require.NoError(t, lr.venue.ApplyFunding(ctx, dec(rates[settled%len(rates)]), mark))
		settled++
	}
	onHour := func(i int) bool { return i > 0 && time.UnixMilli(day[i].OpenTime).Minute() == 0 }
	// run replays candles [a, b) through a runner; down moves the venue
	// alone through them (no runner: the venue fills the resting orders).
	run := func(ls *lockstep, a, b int) {
		for i := a; i < b; i++ {
			if onHour(i) {
				settle(i)
			}
			ls.candle(day[i])
		}
	}
	down := func(a, b int) {
		for i := a; i < b; i++ {
			if onHour(i) {
				if venuePosition(t, lr.venue).IsZero() {
					t.Logf("flat at the settlement of %s", time.UnixMilli(day[i].OpenTime).UTC())
				} else {
					downSettled++
				}
				settle(i)
			}
			for j, p := range day[i].Path() {
				lr.clock.Store(day[i].OpenTime + tickOffsets[j])
				require.NoError(t, lr.venue.SetPriceTicks(ctx, p))
			}
		}
	}
	// waitRead waits until the runner has read the funding history after
	// the replay's clock moved to at (the runner reads a minute past the
	// hour and every 5 minutes).
	waitRead := func(at time.Time) {
		before := fv.reads.Load()
		lr.clock.Store(at.UnixMilli())
		require.Eventually(t, func() bool { return fv.reads.Load() > before }, 10*time.Second, time.Millisecond, "a read at %s", at.UTC())
	}
	const stop1, back1, freeze, crash, back2 = 320, 460, 780, 830, 1000

	// Run 1, to a planned stop at 17:20 (its last save is the stop's).
	ls := lr.start(fv, opts...)
	ls.begin(day[0])
	run(ls, 0, stop1)
	ls.halt()
	down(stop1, back1)

	// Run 2 from the store, from 19:40; at 01:00 the store stops saving.
	eng2 := liveGrid(t, day[0])
	ls = startLockstep(t, lr.venue, fv, eng2, &lr.clock, opts...)
	ls.begin(day[back1])
	run(ls, back1, freeze)
	settle(freeze)
	store.frozen.Store(true)
	// Two reads after the 01:00 settlement: the second starts only once
	// the first one's answer (with 01:00) is booked.
	hour := time.UnixMilli(day[freeze].OpenTime)
	waitRead(hour.Add(time.Minute))
	waitRead(hour.Add(6 * time.Minute))
	run(ls, freeze+10, crash) // from 01:10 on
	ls.halt()                 // the crash: its final save is lost too
	store.frozen.Store(false)
	// The crash lost a booking: run 2 had booked the 01:00 settlement,
	// the store is still through an earlier one.
	stored, err := file.Load(ctx)
	require.NoError(t, err)
	require.NotNil(t, stored.FundingMark)
	assert.Less(t, stored.FundingMark.Through, hour.Add(-time.Millisecond).UnixNano(), "the store does not have the 01:00 settlement")
	assert.NotEqual(t, btcRules.MoneyToDecimal(stored.Books.Funding).String(), eng2.Stats().Funding.String(), "run 2 booked it")
	down(crash, back2)

	// Run 3 from the store saved before 01:00, from 04:40 to the end.
	eng := liveGrid(t, day[0])
	ls = startLockstep(t, lr.venue, fv, eng, &lr.clock, opts...)
	ls.begin(day[back2])
	run(ls, back2, len(day))
	for k := range 2 { // two more reads at the end, as runFunding
		before := fv.reads.Load()
		lr.clock.Add(2 * time.Hour.Milliseconds())
		require.Eventually(t, func() bool { return fv.reads.Load() > before }, 10*time.Second, time.Millisecond, "read %d", k)
	}
	venuePos := venuePosition(t, lr.venue)
	ls.stop()

	require.Equal(t, 23, settled)
	require.Positive(t, downSettled, "the grid held a position at a settlement while no runner ran")
	st := eng.Stats()
	venueFunding := btcRules.MoneyToDecimal(lr.venue.Stats().Funding)
	require.False(t, venueFunding.IsZero())
	assert.Equal(t, venueFunding.String(), st.Funding.String(), "the grid's booked funding is the venue's, to the unit")
	assert.Equal(t, venuePos.String(), st.Position.String(), "the grid is the account's only trader")
}
