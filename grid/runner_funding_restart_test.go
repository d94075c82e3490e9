package grid

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// fhVenue has the funding-history capability (the funding book only asks
// whether the venue has it; the tests hand it the settlements).
type fhVenue struct{ exchange.IExchange }

func (fhVenue) FundingHistory(context.Context, string, time.Time) ([]exchange.FundingSettlement, error) {
	return nil, nil
}

// fT0 is when the first run started; the grids below are storeOpts' (a
// bounded long grid on unitRules: level i at price 90+i, 2 a level, and a
// Money unit of 1, so that a funding payment is qty × mark × rate units).
var fT0 = time.Unix(1_746_000_000, 0)

func fAt(d time.Duration) time.Time { return fT0.Add(d) }

// fundingRestart starts a runner's funding book as a (re)start does: a new
// engine restored from st (nil: none), rebuilt from the venue's snap at
// now, the venue's fills read from now − 24 h. It returns the loop to hand
// settlements to, and the runner's log.
func fundingRestart(t *testing.T, st *StoredState, snap Snapshot, now time.Time) (*loop, *bytes.Buffer) {
	t.Helper()
	eng, err := New(unitRules, storeOpts()...)
	require.NoError(t, err)
	eng.OnPrice(now, 100)
	if st != nil {
		require.NoError(t, eng.RestoreState(*st))
	}
	_, err = eng.Recover(now, snap, false)
	require.NoError(t, err)
	var logs bytes.Buffer
	r := &Runner{eng: eng, ex: fhVenue{}, rules: unitRules, gridID: "st", log: slog.New(slog.NewTextHandler(&logs, nil))}
	r.cfg.now = func() time.Time { return now }
	r.startFunding(now, st, snap, now.Add(-recentFillsWindow))
	return &loop{r: r}, &logs
}

// settlement is one of the venue's settlements at mark 100.
func settlement(at time.Time, rate string) exchange.FundingSettlement {
	return exchange.FundingSettlement{Symbol: "TEST", Time: at, Rate: d(rate), MarkPrice: d("100")}
}

// savedHolding is a state saved at fT0+30m by a run that started at fT0
// flat and bought 2 at level 9 at fT0+10m: level 9 holds 2 (order 3),
// level 8 is free (its last order 2).
func savedHolding() StoredState {
	return StoredState{Version: StoredStateVersion, GridID: "st", Symbol: "TEST", TickSize: d("1"), StepSize: d("1"),
		Slots: []StoredSlot{
			{Level: 8, Kind: "long", State: "Free", Role: "none", Gen: 2},
			{Level: 9, Kind: "long", State: "Holding", Role: "none", Gen: 3, Held: 2, Cost: 198},
		},
		FundingMark: &StoredFundingMark{Through: fT0.UnixNano(), Remainder: d("0"), Positions: []StoredPosition{
			{At: fT0.UnixNano(), Position: 0}, {At: fAt(10 * time.Minute).UnixNano(), Position: 2}, {At: fAt(30 * time.Minute).UnixNano(), Position: 2},
		}},
	}
}

// After the save: level 8's entry (order 3) bought 2 at 98, and level 9's
// exit (order 4) sold its 2 at 100.
func buy8(at time.Time) VenueFill {
	return VenueFill{Ref: OrderRef{Level: 8, Gen: 3}, Side: exchange.Buy, Price: 98, Qty: 2, TradeID: "b8", Time: at}
}

func sell9(at time.Time) VenueFill {
	return VenueFill{Ref: OrderRef{Level: 9, Gen: 4}, Side: exchange.Sell, Price: 100, Qty: 2, TradeID: "s9", Time: at}
}

// TestRestartBooksTheFundingSettledWhileDown: a restart books each
// settlement that fell while no runner ran with the grid's position at its
// time — the stored position moved by the venue's fills after the save
// that came at or before it — on hand-computed numbers (position × 100 ×
// rate, the running total rounded half up).
func TestRestartBooksTheFundingSettledWhileDown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		remainder string // the stored mark's
		fills     []VenueFill
		ss        []exchange.FundingSettlement
		want      exchange.Money
	}{
		// 2 × 100 × 0.0123 = 2.46 → 2
		{"held through the settlement", "0", nil, []exchange.FundingSettlement{settlement(fAt(time.Hour), "0.0123")}, 2},
		// −2.46 → −2 (half up)
		{"a negative rate", "0", nil, []exchange.FundingSettlement{settlement(fAt(time.Hour), "-0.0123")}, -2},
		// bought 2 more before the settlement: 4 × 100 × 0.0123 = 4.92;
		// sold 2 before the next: 2 × 100 × −0.005 = −1; 3.92 → 4
		{"fills between the save and the settlements", "0", []VenueFill{buy8(fAt(45 * time.Minute)), sell9(fAt(90 * time.Minute))},
			[]exchange.FundingSettlement{settlement(fAt(time.Hour), "0.0123"), settlement(fAt(2*time.Hour), "-0.005")}, 4},
		// a fill at the settlement's time counts: 4.92 → 5
		{"a fill at the settlement's time", "0", []VenueFill{buy8(fAt(time.Hour))}, []exchange.FundingSettlement{settlement(fAt(time.Hour), "0.0123")}, 5},
		// a fill a millisecond after it does not: 2.46 → 2
		{"a fill just after the settlement", "0", []VenueFill{buy8(fAt(time.Hour + time.Millisecond))}, []exchange.FundingSettlement{settlement(fAt(time.Hour), "0.0123")}, 2},
		// the stored remainder goes on: 0.3 + 2.46 = 2.76 → 3
		{"the remainder carried", "0.3", nil, []exchange.FundingSettlement{settlement(fAt(time.Hour), "0.0123")}, 3},
		// a settlement before the start (flat) and one before the save,
		// not read by the last run: 0 + 2.46 → 2
		{"settlements the last run did not read", "0", nil, []exchange.FundingSettlement{settlement(fAt(5*time.Minute), "0.5"), settlement(fAt(20*time.Minute), "0.0123")}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := savedHolding()
			st.FundingMark.Remainder = d(tc.remainder)
			l, logs := fundingRestart(t, &st, Snapshot{Fills: tc.fills}, fAt(3*time.Hour))
			assert.Equal(t, fAt(3*time.Hour), l.r.fund.next, "a restart reads the history at once")
			l.bookSettlements(append([]exchange.FundingSettlement(nil), tc.ss...))
			assert.Equal(t, tc.want, l.r.eng.Books().Funding)
			assert.NotContains(t, logs.String(), "WARN", "every position was known")
			// A second read of the same settlements books nothing more.
			l.bookSettlements(append([]exchange.FundingSettlement(nil), tc.ss...))
			assert.Equal(t, tc.want, l.r.eng.Books().Funding)
		})
	}
}

// TestRestartRightAfterASettlement: a settlement booked and saved is not
// booked again by a restart; one the last run booked but did not save (a
// crash between booking and saving) is booked once; one it had not read
// yet is booked with the position at its time, not the one at the save.
func TestRestartRightAfterASettlement(t *testing.T) {
	t1 := settlement(fAt(time.Hour), "0.0123")

	// Booked and saved: the restart books only the next one, and the
	// total rounds as one running total: 2.46 + 2.46 = 4.92 → 5.
	l, _ := fundingRestart(t, ptr(savedHolding()), Snapshot{}, fAt(time.Hour+time.Minute))
	l.bookSettlements([]exchange.FundingSettlement{t1})
	require.Equal(t, exchange.Money(2), l.r.eng.Books().Funding)
	saved := l.r.storedState()
	require.NotNil(t, saved.FundingMark)
	assert.Equal(t, t1.Time.UnixNano(), saved.FundingMark.Through)
	assert.Equal(t, "0.46", saved.FundingMark.Remainder.String())
	assert.Equal(t, exchange.Money(2), saved.Books.Funding)
	l, _ = fundingRestart(t, &saved, Snapshot{}, fAt(time.Hour+2*time.Minute))
	l.bookSettlements([]exchange.FundingSettlement{t1})
	assert.Equal(t, exchange.Money(2), l.r.eng.Books().Funding, "booked and saved: not again")
	l.bookSettlements([]exchange.FundingSettlement{t1, settlement(fAt(2*time.Hour), "0.0123")})
	assert.Equal(t, exchange.Money(5), l.r.eng.Books().Funding)

	// Booked, then a crash before the save: the store still says
	// through fT0, and the restart books it, once.
	l, _ = fundingRestart(t, ptr(savedHolding()), Snapshot{}, fAt(time.Hour+time.Minute))
	l.bookSettlements([]exchange.FundingSettlement{t1})
	require.Equal(t, exchange.Money(2), l.r.eng.Books().Funding) // lost with the crash
	l, _ = fundingRestart(t, ptr(savedHolding()), Snapshot{}, fAt(time.Hour+2*time.Minute))
	l.bookSettlements([]exchange.FundingSettlement{t1})
	l.bookSettlements([]exchange.FundingSettlement{t1})
	assert.Equal(t, exchange.Money(2), l.r.eng.Books().Funding)

	// Not read before the crash, the position changed after it and was
	// saved: booked at the position of its time (2), not the save's (4).
	st := savedHolding()
	st.Slots[0] = StoredSlot{Level: 8, Kind: "long", State: "Holding", Role: "none", Gen: 3, Held: 2, Cost: 196}
	st.FundingMark.Positions = append(st.FundingMark.Positions,
		StoredPosition{At: fAt(time.Hour + 10*time.Second).UnixNano(), Position: 4}, StoredPosition{At: fAt(time.Hour + 20*time.Second).UnixNano(), Position: 4})
	l, logs := fundingRestart(t, &st, Snapshot{}, fAt(time.Hour+time.Minute))
	l.bookSettlements([]exchange.FundingSettlement{t1})
	assert.Equal(t, exchange.Money(2), l.r.eng.Books().Funding)
	assert.NotContains(t, logs.String(), "WARN")
}

func ptr[T any](v T) *T { return &v }

// TestDoubleRestartBooksEachSettlementOnce: crash, restart, save, crash
// again before any read, restart again: the second restart's timeline is
// the first's (its stored positions and the fills after the first save)
// and the fills after the second save; every settlement of both downtimes
// is booked once with the position of its time, and a third restart books
// none of them again.
func TestDoubleRestartBooksEachSettlementOnce(t *testing.T) {
	// First restart at 3h: level 8 bought 2 at 45m (held 4 from then).
	l, _ := fundingRestart(t, ptr(savedHolding()), Snapshot{HavePosition: true, Position: 4, Fills: []VenueFill{buy8(fAt(45 * time.Minute))}}, fAt(3*time.Hour))
	require.Equal(t, exchange.Steps(4), l.r.eng.Position())
	stA := l.r.storedState() // saved at the start (the generation reservation), then a crash
	// Second downtime: level 9's exit sold 2 at 3h10m (held 2 from then).
	fills := []VenueFill{buy8(fAt(45 * time.Minute)), sell9(fAt(3*time.Hour + 10*time.Minute))}
	l, logs := fundingRestart(t, &stA, Snapshot{HavePosition: true, Position: 2, Fills: fills}, fAt(4*time.Hour))
	require.Equal(t, exchange.Steps(2), l.r.eng.Position())
	all := []exchange.FundingSettlement{
		settlement(fAt(5*time.Minute), "0.5"),                // flat: 0
		settlement(fAt(time.Hour), "0.0123"),                 // 4 × 100 × 0.0123 = 4.92
		settlement(fAt(3*time.Hour+30*time.Minute), "-0.01"), // 2 × 100 × −0.01 = −2
	}
	l.bookSettlements(append([]exchange.FundingSettlement(nil), all...))
	assert.Equal(t, exchange.Money(3), l.r.eng.Books().Funding, "4.92 − 2 = 2.92 → 3")
	assert.NotContains(t, logs.String(), "WARN")
	stB := l.r.storedState()
	assert.Equal(t, "-0.08", stB.FundingMark.Remainder.String())

	// Third start, nothing traded: the same settlements book nothing; a
	// later one goes on from the remainder: −0.08 + 2 × 100 × 0.0004 = 0.
	l, _ = fundingRestart(t, &stB, Snapshot{HavePosition: true, Position: 2, Fills: fills}, fAt(5*time.Hour))
	l.bookSettlements(append(all, settlement(fAt(4*time.Hour+30*time.Minute), "0.0004")))
	assert.Equal(t, exchange.Money(3), l.r.eng.Books().Funding)
	assert.Equal(t, "0", l.r.storedState().FundingMark.Remainder.String())
}

// TestRestartDoesNotGuessAnUnknownPosition: when the position while no
// runner ran cannot be known, the settlements then are not booked and the
// runner warns; what the store does know is still booked.
func TestRestartDoesNotGuessAnUnknownPosition(t *testing.T) {
	t1 := settlement(fAt(time.Hour), "0.0123")
	before := settlement(fAt(20*time.Minute), "0.0123") // before the save: the stored positions say 2
	for _, tc := range []struct {
		name  string
		snap  Snapshot
		now   time.Time
		warns string
	}{
		{"the save is older than the venue's fills", Snapshot{}, fAt(30*time.Minute + recentFillsWindow + time.Minute), "the venue's fills were read from"},
		{"a fill after the save without a time", Snapshot{Fills: []VenueFill{buy8(time.Time{})}}, fAt(3 * time.Hour), "has no time"},
		{"the venue's trades lag a live order", Snapshot{Orders: []VenueOrder{{Ref: OrderRef{Level: 8, Gen: 3}, Side: exchange.Buy, Price: 98, Qty: 2, Filled: 1}}}, fAt(3 * time.Hour), "fall short of its fills"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, logs := fundingRestart(t, ptr(savedHolding()), tc.snap, tc.now)
			assert.Contains(t, logs.String(), tc.warns)
			l.bookSettlements([]exchange.FundingSettlement{before, t1})
			assert.Equal(t, exchange.Money(2), l.r.eng.Books().Funding, "only the settlement before the save: 2.46 → 2")
			assert.Contains(t, logs.String(), "funding settlement not booked")
		})
	}

	// A state without a funding mark (an older version's): nothing
	// before the start is booked, with a warning.
	st := savedHolding()
	st.FundingMark = nil
	l, logs := fundingRestart(t, &st, Snapshot{}, fAt(3*time.Hour))
	l.bookSettlements([]exchange.FundingSettlement{before, t1})
	assert.Zero(t, l.r.eng.Books().Funding)
	assert.Contains(t, logs.String(), "no funding mark")

	// A start from the venue alone (it shows an order of the grid).
	l, logs = fundingRestart(t, nil, Snapshot{HavePosition: true, Orders: []VenueOrder{{Ref: OrderRef{Level: 8, Gen: 3}, Side: exchange.Buy, Price: 98, Qty: 2}}}, fAt(3*time.Hour))
	l.bookSettlements([]exchange.FundingSettlement{before, t1})
	assert.Zero(t, l.r.eng.Books().Funding)
	assert.Contains(t, logs.String(), "started from the venue alone")
}

// TestFillsAfterSave sorts the venue's fills into those the stored state
// booked and those after the save, order by order, as supersede does.
func TestFillsAfterSave(t *testing.T) {
	e, err := New(unitRules, storeOpts()...)
	require.NoError(t, err)
	st := savedHolding()
	st.Slots = append(st.Slots, StoredSlot{Level: 7, Kind: "long", State: "EntryOpen", Role: "entry", Gen: 5, OrderQty: 2, Filled: 1, Held: 1, Cost: 97})
	st.Initial = StoredInitial{Gen: 1}
	st.CloseGen, st.Closing = 2, []StoredCloseLeg{{Gen: 2, Filled: 1}}
	at := func(m int) time.Time { return fAt(time.Duration(m) * time.Minute) }
	fills := []VenueFill{
		{Ref: OrderRef{Level: 9, Gen: 3}, Side: exchange.Buy, Qty: 2, Time: at(10)},                // booked: the state's order of a slot without one live
		{Ref: OrderRef{Level: 7, Gen: 5}, Side: exchange.Buy, Qty: 1, Time: at(20)},                // booked: the live order's first 1
		{Ref: OrderRef{Level: 7, Gen: 5}, Side: exchange.Buy, Qty: 1, Time: at(50)},                // after: beyond it
		{Ref: OrderRef{Level: InitialLevel, Gen: 1}, Side: exchange.Buy, Qty: 4, Time: at(1)},      // booked: not live at the save
		{Ref: OrderRef{Level: CloseLevel, Gen: 2}, Side: exchange.Sell, Qty: 3, Time: at(40)},      // 1 booked, 2 after
		{Ref: OrderRef{Level: CloseLevel, Gen: 1}, Side: exchange.Sell, Qty: 3, Time: at(5)},       // booked: an older close
		{Ref: OrderRef{Level: 12, Gen: 1}, Side: exchange.Buy, Qty: 2, Time: at(45)},               // after: a slot the state does not have
		{Ref: OrderRef{Level: 99, Gen: 1}, Side: exchange.Buy, Qty: 2, Time: at(46)},               // not the grid's level
		{Ref: OrderRef{Level: 8, Gen: 3}, Side: exchange.Buy, Qty: 2, Time: at(35), TradeID: "b8"}, // after: newer than the state's order
	}
	gap := e.fillsAfterSave(st, Snapshot{Fills: fills})
	require.Empty(t, gap.why)
	var got []string
	for _, f := range gap.fills {
		got = append(got, fmt.Sprintf("%s×%d@%s", f.Ref, f.Qty, f.Time.Sub(fT0)))
	}
	assert.Equal(t, []string{
		OrderRef{Level: 8, Gen: 3}.String() + "×2@35m0s",
		OrderRef{Level: CloseLevel, Gen: 2}.String() + "×2@40m0s",
		OrderRef{Level: 12, Gen: 1}.String() + "×2@45m0s",
		OrderRef{Level: 7, Gen: 5}.String() + "×1@50m0s",
	}, got)

	// A stored live order whose trades the venue shows fewer of than the
	// state booked: older ones are past its history.
	gap = e.fillsAfterSave(st, Snapshot{Fills: []VenueFill{{Ref: OrderRef{Level: CloseLevel, Gen: 2}, Side: exchange.Sell, Qty: 0}}})
	assert.Empty(t, gap.why, "a zero fill is ignored")
	st.Closing[0].Filled = 5
	gap = e.fillsAfterSave(st, Snapshot{Fills: fills})
	assert.Contains(t, gap.why, "fewer than the stored state booked (5)")
}

// TestFillsAfterSaveProperty: over random histories of orders (each level's
// orders one after another, each filled in parts, ended by its last fill or
// canceled) saved at a random moment, the fills after the save are exactly
// the venue's fills later than the save, whatever was live at either end.
func TestFillsAfterSaveProperty(t *testing.T) {
	e, err := New(unitRules, storeOpts()...)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(12, 2026))
	for iter := range 500 {
		type order struct {
			ref         OrderRef
			qty, filled exchange.Steps
			ended       bool
		}
		cur := map[int64]*order{}
		var fills []VenueFill
		var saved StoredState
		saveAt := 1 + rng.IntN(60)
		for tick := 1; tick <= 60; tick++ {
			at := fAt(time.Duration(tick) * time.Second)
			lvl := int64(2 + rng.IntN(6))
			o := cur[lvl]
			switch {
			case o == nil || o.ended:
				gen := uint32(1)
				if o != nil {
					gen = o.ref.Gen + 1
				}
				cur[lvl] = &order{ref: OrderRef{Level: lvl, Gen: gen}, qty: exchange.Steps(1 + rng.IntN(4))}
			case rng.IntN(5) == 0:
				o.ended = true // canceled
			default:
				q := min(o.qty-o.filled, exchange.Steps(1+rng.IntN(2)))
				o.filled += q
				o.ended = o.filled == o.qty
				fills = append(fills, VenueFill{Ref: o.ref, Side: exchange.Buy, Qty: q, Time: at})
			}
			if tick == saveAt {
				saved = StoredState{}
				for l, o := range cur {
					ss := StoredSlot{Level: l, Kind: "long", State: "Free", Role: "none", Gen: o.ref.Gen}
					if !o.ended {
						ss.State, ss.Role, ss.OrderQty, ss.Filled = "EntryOpen", "entry", o.qty, o.filled
					}
					saved.Slots = append(saved.Slots, ss)
				}
			}
		}
		var snap Snapshot
		snap.Fills = fills
		for _, o := range cur {
			if !o.ended {
				snap.Orders = append(snap.Orders, VenueOrder{Ref: o.ref, Side: exchange.Buy, Qty: o.qty, Filled: o.filled})
			}
		}
		var want, got []string
		for _, f := range fills {
			if f.Time.After(fAt(time.Duration(saveAt) * time.Second)) {
				want = append(want, fmt.Sprintf("%s×%d@%s", f.Ref, f.Qty, f.Time.Sub(fT0)))
			}
		}
		gap := e.fillsAfterSave(saved, snap)
		require.Empty(t, gap.why, "iteration %d", iter)
		for _, f := range gap.fills {
			got = append(got, fmt.Sprintf("%s×%d@%s", f.Ref, f.Qty, f.Time.Sub(fT0)))
		}
		require.ElementsMatch(t, want, got, "iteration %d: saved at %ds", iter, saveAt)
	}
}

// TestFundingMarkKeepsTheLatestPositions: a save keeps at most
// storedFundingPositions positions, the latest; a settlement before the
// oldest kept is not booked after a restart (the position then is no
// longer known), one after it is.
func TestFundingMarkKeepsTheLatestPositions(t *testing.T) {
	l, _ := fundingRestart(t, ptr(savedHolding()), Snapshot{}, fAt(3*time.Hour))
	sec := func(k int) time.Time { return fAt(3*time.Hour + time.Duration(k)*time.Second) }
	for k := 1; k <= 300; k++ {
		l.r.fund.sample(sec(k), exchange.Steps(2*(k%2)), false) // 2 from each odd second, 0 from each even one
	}
	st := l.r.storedState() // the save: the engine holds 2 (from second 300 on)
	m := st.FundingMark
	require.Len(t, m.Positions, storedFundingPositions)
	assert.Equal(t, sec(300-storedFundingPositions+1).UnixNano(), m.Positions[0].At, "the latest kept")
	assert.Equal(t, StoredPosition{At: sec(300).UnixNano(), Position: 2}, m.Positions[len(m.Positions)-1])

	l, logs := fundingRestart(t, &st, Snapshot{}, fAt(4*time.Hour))
	l.bookSettlements([]exchange.FundingSettlement{settlement(sec(20), "0.5"), settlement(sec(101), "0.0123")})
	assert.Equal(t, exchange.Money(2), l.r.eng.Books().Funding, "only the second: 2 × 100 × 0.0123 = 2.46 → 2")
	assert.Contains(t, logs.String(), "funding settlement not booked")
}

// TestNoFundingMarkWithoutBooking: a runner that books no funding
// (WithFundingBooking(false), or a venue without the capability) saves no
// funding mark and ignores a stored one.
func TestNoFundingMarkWithoutBooking(t *testing.T) {
	st := savedHolding()
	for _, r := range []*Runner{
		{ex: fhVenue{}, cfg: runnerConfig{noFunding: true}},
		{ex: struct{ exchange.IExchange }{}},
	} {
		eng, err := New(unitRules, storeOpts()...)
		require.NoError(t, err)
		require.NoError(t, eng.RestoreState(st))
		r.eng, r.rules, r.log = eng, unitRules, slog.New(slog.DiscardHandler)
		r.cfg.now = func() time.Time { return fAt(time.Hour) }
		r.startFunding(fAt(time.Hour), &st, Snapshot{}, fAt(-time.Hour))
		assert.Nil(t, r.fund.src)
		assert.Nil(t, r.storedState().FundingMark)
	}
}
