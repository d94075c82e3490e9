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

// fundingEvent is a step of a restart schedule, taken at a candle after
// the venue's settlement on the hour (if any) and before the candle.
type fundingEvent int

const (
	evStart  fundingEvent = iota // a runner starts (from the store after the first)
	evHalt                       // it stops: planned, or a crash if the store is frozen
	evFreeze                     // the store stops saving (what it saves after is lost)
	evRead                       // wait for two funding reads (at :01 and :06), then skip to :10
)

// TestRunnerBooksTheFundingSettledWhileStopped replays a day of the
// shipped month (2025-05-12 12:00 on) against a venue that settles funding
// every hour (a millisecond before the hour, rates of both signs, every
// other mark finer than the tick), through several runs of the grid on one
// store, stopped and crashed across settlements: while no runner runs, the
// venue settles and fills the grid's resting orders. A crash is a stop
// whose store stopped saving earlier (its saves since are lost, the stop's
// too). Whatever the schedule, the grid's funding equals the venue's to
// the Money unit: every settlement is booked once, with the position the
// grid held at its time (the grid is the account's only trader). Before
// the fix the settlements that fell while no runner ran were not booked
// (issue 12's funding finding).
func TestRunnerBooksTheFundingSettledWhileStopped(t *testing.T) {
	for _, tc := range []struct {
		name     string
		schedule map[int][]fundingEvent
		lost     bool // a crash loses a booking the store does not have
	}{
		// A planned stop from 17:20 to 19:40 (18:00 and 19:00 settle while
		// down), then a crash at 01:50 whose store stopped saving at 01:00,
		// after the runner had read and booked the 01:00 settlement (the
		// replay outruns the runner's timer: the last save is through an
		// earlier settlement still, with the positions since), down until
		// 04:40 (02:00, 03:00, 04:00 settle).
		{"planned stop, then a crash losing a booking", map[int][]fundingEvent{
			0: {evStart}, 320: {evHalt}, 460: {evStart}, 780: {evFreeze, evRead}, 830: {evHalt}, 1000: {evStart},
		}, true},
		// A crash right after the 18:00 settlement (before any read; the
		// store stopped saving 20 minutes before), back at 18:05; a stop
		// right before 20:00, back a minute after it.
		{"a restart right after a settlement", map[int][]fundingEvent{
			0: {evStart}, 340: {evFreeze}, 360: {evHalt}, 365: {evStart}, 479: {evHalt}, 481: {evStart},
		}, false},
		// A crash after 22:00 (down until 23:40), then a second crash whose
		// store saved nothing after the restart (not even the start's), at
		// 00:00 right after the settlement, back at 01:20 from the store
		// the first run saved before 21:50.
		{"two crashes in a row", map[int][]fundingEvent{
			0: {evStart}, 590: {evFreeze}, 610: {evHalt}, 700: {evFreeze, evStart}, 720: {evHalt}, 800: {evStart},
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			runFundingSchedule(t, tc.schedule, tc.lost)
		})
	}
}

func runFundingSchedule(t *testing.T, schedule map[int][]fundingEvent, wantLost bool) {
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
	settled, downSettled, lost := 0, 0, 0
	var ls *lockstep
	var eng *grid.Engine
	for i := 0; i < len(day); i++ {
		if i > 0 && time.UnixMilli(day[i].OpenTime).Minute() == 0 {
			if ls == nil && !venuePosition(t, lr.venue).IsZero() {
				downSettled++
			}
			lr.clock.Store(day[i].OpenTime - 1)
			mark := btcRules.TicksToPrice(day[i-1].Close)
			if settled%2 == 1 {
				mark = mark.Add(dec("0.01234567"))
			}
			require.NoError(t, lr.venue.ApplyFunding(ctx, dec(rates[settled%len(rates)]), mark))
			settled++
		}
		skip := false
		for _, ev := range schedule[i] {
			switch ev {
			case evStart:
				eng = liveGrid(t, day[0])
				ls = startLockstep(t, lr.venue, fv, eng, &lr.clock, opts...)
				ls.begin(day[i])
			case evHalt:
				ls.halt()
				ls = nil
				if store.frozen.Load() {
					// A crash: did it lose a booking the store does not have?
					stored, err := file.Load(ctx)
					require.NoError(t, err)
					if stored.Books.Funding != 0 && !btcRules.MoneyToDecimal(stored.Books.Funding).Equal(eng.Stats().Funding) {
						lost++
					}
				}
				store.frozen.Store(false)
			case evFreeze:
				store.frozen.Store(true)
			case evRead:
				// Two reads after the settlement: the second starts only
				// once the first one's answer is booked.
				hour := time.UnixMilli(day[i].OpenTime)
				for _, at := range []time.Time{hour.Add(time.Minute), hour.Add(6 * time.Minute)} {
					before := fv.reads.Load()
					lr.clock.Store(at.UnixMilli())
					require.Eventually(t, func() bool { return fv.reads.Load() > before }, 10*time.Second, time.Millisecond, "a read at %s", at.UTC())
				}
				skip = true
			}
		}
		switch {
		case skip:
			i += 9 // on at :10
		case ls != nil:
			ls.candle(day[i])
		default: // no runner: the venue alone fills the resting orders
			for j, p := range day[i].Path() {
				lr.clock.Store(day[i].OpenTime + tickOffsets[j])
				require.NoError(t, lr.venue.SetPriceTicks(ctx, p))
			}
		}
	}
	require.NotNil(t, ls, "the schedule ends with a runner")
	for k := range 2 { // two more reads at the end, as runFunding
		before := fv.reads.Load()
		lr.clock.Add(2 * time.Hour.Milliseconds())
		require.Eventually(t, func() bool { return fv.reads.Load() > before }, 10*time.Second, time.Millisecond, "read %d", k)
	}
	venuePos := venuePosition(t, lr.venue)
	ls.stop()

	require.Equal(t, 23, settled)
	require.Positive(t, downSettled, "the grid held a position at a settlement while no runner ran")
	if wantLost {
		require.Positive(t, lost, "a crash lost a booking")
	}
	st := eng.Stats()
	venueFunding := btcRules.MoneyToDecimal(lr.venue.Stats().Funding)
	require.False(t, venueFunding.IsZero())
	assert.Equal(t, venueFunding.String(), st.Funding.String(), "the grid's booked funding is the venue's, to the unit")
	assert.Equal(t, venuePos.String(), st.Position.String(), "the grid is the account's only trader")
}
