package grid

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/risk"
)

func TestControlsAreValidatedAtNewAllAtOnce(t *testing.T) {
	_, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithTakeProfit(AtPrice(d("95"))),
		WithStopLoss(AtPrice(d("105"))),
		WithStartTrigger(TriggerBelow(d("101"))),
		WithStopTop(d("120")),
		WithTimeLimit(0, false),
		WithStopClose(d("-0.1"), -time.Second),
		WithCompounding(true),
	)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidOption)
	for _, want := range []string{
		"grid: WithTakeProfit = price 95: a long grid's take-profit price must be above the start price 100: it would fire at once",
		"grid: WithStopLoss = price 105: a long grid's stop-loss price must be below the start price 100: it would fire at once",
		"grid: WithTakeProfit = price 95: a long grid's take-profit must be above its stop-loss 105",
		"grid: WithStartTrigger = price ≤ 101: the start price 100 already meets it: it would fire at once",
		"grid: WithStopTop = 120/0: stop top and bottom are for neutral grids; a long grid uses WithTakeProfit(AtPrice) and WithStopLoss(AtPrice)",
		"grid: WithTimeLimit = 0s: must be positive",
		"grid: WithStopClose = -0.1, -1s",
		"grid: WithCompounding = true: compounding grows the fixed amount: it goes with WithAmount",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestInvalidControlCombinations(t *testing.T) {
	base := []Option{WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1"))}
	cases := []struct {
		name string
		opts []Option
		want string
	}{
		{"neutral trigger outside the range", []Option{WithMode(Neutral), WithStartTrigger(TriggerAbove(d("115")))},
			"WithStartTrigger = price ≥ 115: it fires only outside the neutral grid's range 90..110"},
		{"trigger beyond the stop top", []Option{WithMode(Neutral), WithStopTop(d("105")), WithStartTrigger(TriggerAbove(d("106")))},
			"it fires only at or above the stop top 105: the grid would stop the moment it starts"},
		{"trigger band below a long stop-loss", []Option{WithStopLoss(AtPrice(d("95"))), WithStartTrigger(TriggerBand(d("93"), d("95")))},
			"WithStartTrigger = price in 93..95: it fires only at or below the stop-loss 95"},
		{"short take-profit above the stop-loss", []Option{WithMode(Short), WithTakeProfit(AtPrice(d("99"))), WithStopLoss(AtPrice(d("98")))},
			"a short grid's stop-loss price must be above the start price 100"},
		{"neutral stop by AtPrice", []Option{WithMode(Neutral), WithStopLoss(AtPrice(d("95")))},
			"WithStopLoss = price 95: a neutral grid stops by price with WithStopTop and WithStopBottom"},
		{"stop bottom above the start", []Option{WithMode(Neutral), WithStopBottom(d("101"))},
			"WithStopBottom = 101: must be positive and below the start price 100"},
		{"negative PnL", []Option{WithStopLoss(AtPnL(d("-5")))}, "WithStopLoss = PnL -5: the amount must be positive"},
		{"zero fraction", []Option{WithTakeProfit(AtPnLFraction(d("0")))}, "the fraction must be above 0"},
		{"empty band", []Option{WithStartTrigger(TriggerBand(d("105"), d("104")))}, "the band needs 0 < lo < hi"},
		{"zero trigger", []Option{WithStartTrigger(Trigger{})}, ""},
		{"rounding with quantity", []Option{WithAmountRounding(RoundUp)}, "WithAmountRounding = up: rounding applies to fixed-amount sizing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(unitRules, append(append([]Option{}, base...), c.opts...)...)
			if c.want == "" {
				assert.NoError(t, err, "the zero Trigger is no trigger")
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// The trigger keeps the grid idle — no entry, no initial position — until
// the price crosses it; then the grid starts from there.
func TestStartTriggerKeepsTheGridIdle(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(2, 2, 0), WithStartTrigger(TriggerAbove(d("103"))))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	assert.Empty(t, e.OnPrice(t0, 100))
	assert.Empty(t, e.OnStreamReady(t0))
	assert.Equal(t, "waiting for the start trigger: price ≥ 103", e.Stats().Waiting)
	for _, p := range []exchange.Ticks{101, 95, 102} {
		assert.Empty(t, e.OnPrice(t0, p), "price %d", p)
	}
	assert.Empty(t, e.OnTimer(t0))
	in := strsOf(e.OnPrice(t0.Add(time.Minute), 103))
	// Levels 103..109 are bought at once (their exits one level up), the
	// two below the price get entries.
	require.NotEmpty(t, in)
	assert.Equal(t, "place initial/1 entry BUY 7 market", in[0])
	assert.ElementsMatch(t, []string{"place initial/1 entry BUY 7 market", "place 12/1 entry BUY 1@102 post-only", "place 11/1 entry BUY 1@101 post-only"}, in)
	assert.Empty(t, e.Stats().Waiting)
	assert.Equal(t, t0.Add(time.Minute).UnixMilli(), e.State().Started)
}

// At the trigger the pre-start checks run again against the account as it
// is then; a failure keeps the grid idle with the reason, and they are
// asked for again a minute later.
func TestStartTriggerRunsTheChecksAgain(t *testing.T) {
	calls := 0
	check := risk.CheckFunc{Label: "funds", Fn: func(in risk.CheckInput) error {
		calls++
		if in.Account.AvailableBalance.LessThan(d("1000")) {
			return errors.New("available 500 is below 1000")
		}
		return nil
	}}
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithStartTrigger(TriggerBelow(d("98"))), WithRiskChecks(risk.Plan{Leverage: 1, MaintenanceRate: d("0.005")}, check))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	assert.Empty(t, e.OnStreamReady(t0))
	assert.Equal(t, []string{"check-start"}, strsOf(e.OnPrice(t0, 98)))
	assert.Empty(t, e.OnPrice(t0, 97), "the checks are running: nothing more is asked")
	poor := exchange.Account{AvailableBalance: d("500")}
	assert.Empty(t, e.StartChecked(t0, e.CheckStart(poor, nil)))
	assert.Contains(t, e.Stats().Waiting, "the start trigger fired but the pre-start checks failed (asked again in a minute)")
	assert.Contains(t, e.Stats().Waiting, "available 500 is below 1000")
	assert.Empty(t, e.OnTimer(t0.Add(59*time.Second)))
	assert.Equal(t, []string{"check-start"}, strsOf(e.OnTimer(t0.Add(time.Minute))))
	rich := exchange.Account{AvailableBalance: d("2000")}
	in := strsOf(e.StartChecked(t0.Add(time.Minute), e.CheckStart(rich, nil)))
	assert.Equal(t, []string{"place 6/1 entry BUY 1@96 post-only"}, in)
	assert.Equal(t, 2, calls)
	assert.Empty(t, e.Stats().Waiting)
}

// A take-profit by price cancels every order of the grid by its ID, closes
// the grid's own position with a limit offset through the price first and,
// when that has not filled after the timeout, at market; the reason is in
// Stats and the observer.
func TestTakeProfitCancelsByIDAndClosesLimitThenMarket(t *testing.T) {
	var notes []RiskNote
	obs := &riskRecorder{notes: &notes}
	e, t0 := oneLongHeld(t, WithTakeProfit(AtPrice(d("104"))), WithStopClose(d("0.02"), 10*time.Second), WithObserver(obs))
	assert.Empty(t, e.OnPrice(t0, 99))
	in := strsOf(e.OnPrice(t0, 104))
	assert.ElementsMatch(t, []string{"cancel 9/2", "cancel 8/1"}, in, "nothing placed, every order canceled by its ID")
	st := e.Stats()
	assert.Equal(t, TerminalTakeProfit, st.Terminal)
	assert.True(t, st.Halted)
	assert.Equal(t, "take-profit: price 104 at or above 104", st.Reason)
	require.Len(t, notes, 1)
	assert.Equal(t, RiskNote{Time: t0, Halted: true, Reason: "take-profit: price 104 at or above 104", Terminal: TerminalTakeProfit}, notes[0])
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 8, Gen: 1}, Type: OrderCanceled})
	in = strsOf(mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 2}, Type: OrderCanceled}))
	// 104 × (1 − 0.02) = 101.92: the limit sells at 102 (rounded toward the price).
	require.Equal(t, []string{"place close/1 exit SELL 1@102 reduce-only"}, in)
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: CloseLevel, Gen: 1}, Type: OrderAccepted})
	assert.Empty(t, e.OnPrice(t0.Add(9*time.Second), 101), "the limit rests until its timeout")
	assert.Equal(t, []string{"cancel close/1"}, strsOf(e.OnTimer(t0.Add(10*time.Second))))
	assert.Empty(t, e.OnTimer(t0.Add(11*time.Second)), "the cancel is not sent twice within the ack timeout")
	in = strsOf(mustApplyEv(t, e, t0.Add(12*time.Second), OrderEvent{Ref: OrderRef{Level: CloseLevel, Gen: 1}, Type: OrderCanceled}))
	assert.Equal(t, []string{"place close/2 exit SELL 1 market reduce-only"}, in)
	mustApplyEv(t, e, t0.Add(12*time.Second), OrderEvent{Ref: OrderRef{Level: CloseLevel, Gen: 2}, Type: OrderFilled, CumQty: 1, Price: 100})
	assert.Zero(t, e.Books().Position)
	assert.Equal(t, exchange.Money(100-99), e.Books().Realized)
	assert.True(t, e.Done())
	assert.Empty(t, e.OnPrice(t0.Add(time.Hour), 90), "a terminal grid places nothing again")
	assert.Empty(t, e.OnTimer(t0.Add(time.Hour)))
}

// A limit close that fills in part goes to market for the rest only.
func TestLimitCloseFilledInPartClosesTheRestAtMarket(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("3")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithStopLoss(AtPrice(d("97"))))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	require.Equal(t, []string{"place 9/1 entry BUY 3@99 post-only"}, strsOf(e.OnStreamReady(t0)))
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 1}, Type: OrderAccepted})
	ack := func(in []Intent) {
		for _, it := range append([]Intent(nil), in...) {
			if it.Kind == IntentPlace {
				mustApplyEv(t, e, t0, OrderEvent{Ref: it.Ref, Type: OrderAccepted})
			}
		}
	}
	ack(e.OnPrice(t0, 99))
	ack(mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 1}, Type: OrderFilled, CumQty: 3, Price: 99}))
	in := e.OnPrice(t0, 97)
	cancels := append([]Intent(nil), in...)
	require.NotEmpty(t, cancels)
	var closes []string
	for _, c := range cancels {
		require.Equal(t, IntentCancel, c.Kind)
		closes = append(closes, strsOf(mustApplyEv(t, e, t0, OrderEvent{Ref: c.Ref, Type: OrderCanceled}))...)
	}
	// 97 × (1 − 0.001) = 96.903: the default limit sells at 97.
	require.Equal(t, []string{"place close/1 exit SELL 3@97 reduce-only"}, closes)
	ref := OrderRef{Level: CloseLevel, Gen: 1}
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderAccepted})
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderFilled, CumQty: 1, Price: 97})
	assert.Equal(t, exchange.Steps(2), e.Books().Position)
	assert.Equal(t, []string{"cancel close/1"}, strsOf(e.OnPrice(t0.Add(30*time.Second), 96)), "the default timeout is 30 s")
	in = mustApplyEv(t, e, t0.Add(31*time.Second), OrderEvent{Ref: ref, Type: OrderCanceled, CumQty: 1})
	assert.Equal(t, []string{"place close/2 exit SELL 2 market reduce-only"}, strsOf(in))
	mustApplyEv(t, e, t0.Add(31*time.Second), OrderEvent{Ref: in[0].Ref, Type: OrderFilled, CumQty: 2, Price: 95})
	assert.Zero(t, e.Books().Position)
	assert.Equal(t, exchange.Money(97-99+2*(95-99)), e.Books().Realized)
	assert.True(t, e.Done())
}

// A stop-loss by PnL: realized minus fees plus the open position at the
// price, against the loss given; hand-computed.
func TestStopLossByPnLIsNetOfFeesAndFunding(t *testing.T) {
	e, t0 := oneLongHeld(t, WithStopLoss(AtPnL(d("5"))), WithStopClose(d("0"), 0))
	// Held 1 bought at 99, fee 0.. Funding paid 2: PnL at 99 is −2, at 96
	// −3 − 2 = −5: the stop fires.
	e.BookFunding(2)
	assert.Equal(t, "-2", e.Stats().PnL.String())
	assert.Equal(t, "2", e.Stats().Funding.String())
	in := strsOf(e.OnPrice(t0, 96))
	assert.ElementsMatch(t, []string{"cancel 9/2", "cancel 8/1"}, in)
	assert.Equal(t, "stop-loss: PnL -5 at or below −5 (PnL 5)", e.Stats().Reason)
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 8, Gen: 1}, Type: OrderCanceled})
	in = strsOf(mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 2}, Type: OrderCanceled}))
	assert.Equal(t, []string{"place close/1 exit SELL 1 market reduce-only"}, in, "timeout 0: at market at once")
}

// A neutral grid's stop bottom in one-way mode closes the net position
// with one plain order (limit first); the time limit without closing
// leaves the position.
func TestNeutralStopBottomAndTimeLimit(t *testing.T) {
	e, err := New(unitRules, WithMode(Neutral), WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(2, 2, 0), WithStopBottom(d("96")))
	require.NoError(t, err)
	v := newBookVenue(t, e, 100)
	v.tick(97) // long entries @99, @98 fill; 97 is above the stop bottom
	require.Equal(t, exchange.Steps(2), e.Books().LongHeld)
	var closes []Intent
	v.onIntent = func(in Intent) {
		if in.Ref.Level == CloseLevel {
			closes = append(closes, in)
		}
	}
	v.tick(96)
	assert.Equal(t, TerminalStopBottom, e.Stats().Terminal)
	require.NotEmpty(t, closes)
	assert.False(t, closes[0].Market)
	assert.True(t, closes[0].ReduceOnly, "the net close reduces the account's position")
	assert.Equal(t, exchange.PositionBoth, closes[0].PositionSide)
	assert.Equal(t, exchange.Ticks(96), closes[0].Price, "96 × (1 − 0.001) = 95.904: rounded toward the price, 96")
	assert.Zero(t, e.Books().Position)
	assert.True(t, e.Done())

	e, err = New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(2, 2, 0), WithInitialPosition(false), WithTimeLimit(time.Hour, false))
	require.NoError(t, err)
	v = newBookVenue(t, e, 100)
	v.tick(98)
	held := e.Books().Position
	require.Positive(t, held)
	v.now = v.now.Add(59 * time.Minute)
	v.tick(99)
	assert.Empty(t, e.Stats().Terminal)
	v.now = v.now.Add(time.Minute)
	v.run(e.OnTimer(v.now))
	assert.Equal(t, TerminalTimeLimit, e.Stats().Terminal)
	assert.Zero(t, e.Books().OpenOrders)
	assert.Equal(t, e.Books().Position, e.Books().Position, "kept")
	assert.True(t, e.Done(), "nothing to close: done once the orders are gone")
}

// A grid that stopped on a control stays stopped after a restart with the
// stored state; one that stopped while closing goes on closing.
func TestTerminalStateSurvivesARestart(t *testing.T) {
	opts := []Option{WithTakeProfit(AtPrice(d("104"))), WithStopClose(d("0.02"), 10*time.Second)}
	e, t0 := oneLongHeld(t, opts...)
	e.OnPrice(t0, 104)
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 8, Gen: 1}, Type: OrderCanceled})
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 2}, Type: OrderCanceled})
	st := e.State()
	require.NotNil(t, st.Terminal)
	assert.Equal(t, StoredTerminal{Kind: TerminalTakeProfit, Reason: "take-profit: price 104 at or above 104", At: t0.UnixMilli(), Close: true}, *st.Terminal)
	assert.Equal(t, t0.UnixMilli(), st.Started)

	// The process dies with the limit close live; the restarted engine
	// stays stopped and, once the close has ended, closes the rest.
	f, err := New(unitRules, append([]Option{WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithReceiveWindow(5 * time.Second)}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, f.RestoreState(st))
	t1 := t0.Add(time.Hour)
	f.OnPrice(t1, 95)
	_, err = f.Recover(t1, Snapshot{HavePosition: true, Position: 1}, false)
	require.NoError(t, err)
	in := strsOf(f.OnStreamReady(t1))
	assert.Equal(t, []string{"place close/3 exit SELL 1@94 reduce-only"}, in, "95 × 0.98 = 93.1: at 94, never an entry; a new generation")
	assert.Equal(t, TerminalTakeProfit, f.Stats().Terminal)
	assert.True(t, f.Stats().Halted)

	// The venue still shows the earlier run's limit close: it is adopted,
	// canceled by its ID, and the rest goes at market; no second close
	// rests beside it.
	f, err = New(unitRules, append([]Option{WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithReceiveWindow(5 * time.Second)}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, f.RestoreState(st))
	f.OnPrice(t1, 95)
	close1 := OrderRef{Level: CloseLevel, Gen: 1}
	_, err = f.Recover(t1, Snapshot{HavePosition: true, Position: 1, Orders: []VenueOrder{{Ref: close1, Side: exchange.Sell, Price: 102, Qty: 1}}}, false)
	require.NoError(t, err)
	assert.Empty(t, f.OnStreamReady(t1))
	assert.Equal(t, []string{"cancel close/1"}, strsOf(f.OnTimer(t1)))
	assert.Equal(t, []string{"place close/3 exit SELL 1 market reduce-only"}, strsOf(mustApplyEv(t, f, t1, OrderEvent{Ref: close1, Type: OrderCanceled})))

	// A terminal grid with nothing to close places nothing at all.
	st.Terminal.Close = false
	g, err := New(unitRules, append([]Option{WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false)}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, g.RestoreState(st))
	g.OnPrice(t1, 99)
	_, err = g.Recover(t1, Snapshot{HavePosition: true, Position: 1}, false)
	require.NoError(t, err)
	assert.Empty(t, g.OnStreamReady(t1))
	assert.Empty(t, g.OnPrice(t1, 97))
	assert.Empty(t, g.OnTimer(t1))
}

// A fired trigger survives a restart with a store; without one, the
// venue's view decides (documented on WithStartTrigger).
func TestFiredTriggerSurvivesARestart(t *testing.T) {
	mk := func() *Engine {
		e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
			WithWindows(1, 1, 0), WithInitialPosition(false), WithStartTrigger(TriggerBelow(d("98"))))
		require.NoError(t, err)
		return e
	}
	e := mk()
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	e.OnStreamReady(t0)
	require.Equal(t, []string{"place 7/1 entry BUY 1@97 post-only"}, strsOf(e.OnPrice(t0, 98)))
	st := e.State()
	require.Equal(t, t0.UnixMilli(), st.Started)

	// Restored: starts at 100 without waiting for 98.
	f := mk()
	require.NoError(t, f.RestoreState(st))
	f.OnPrice(t0, 100)
	_, err := f.Recover(t0, Snapshot{HavePosition: true}, false)
	require.NoError(t, err)
	assert.Equal(t, []string{"place 9/2 entry BUY 1@99 post-only"}, strsOf(f.OnStreamReady(t0)))

	// No store, the venue shows the grid's order: it had started.
	g := mk()
	g.OnPrice(t0, 100)
	_, err = g.Recover(t0, Snapshot{Orders: []VenueOrder{{Ref: OrderRef{Level: 7, Gen: 1}, Side: exchange.Buy, Price: 97, Qty: 1}}, HavePosition: true}, false)
	require.NoError(t, err)
	assert.NotEmpty(t, g.OnStreamReady(t0))
	assert.Empty(t, g.Stats().Waiting)

	// No store, nothing on the venue: it waits for its trigger again.
	h := mk()
	h.OnPrice(t0, 100)
	_, err = h.Recover(t0, Snapshot{HavePosition: true}, false)
	require.NoError(t, err)
	assert.Empty(t, h.OnStreamReady(t0))
	assert.Equal(t, "waiting for the start trigger: price ≤ 98", h.Stats().Waiting)
}

// The time limit counts from the first start, across a restart.
func TestTimeLimitCountsFromTheStoredStart(t *testing.T) {
	mk := func() *Engine {
		e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
			WithWindows(1, 1, 0), WithInitialPosition(false), WithTimeLimit(time.Hour, true))
		require.NoError(t, err)
		return e
	}
	e := mk()
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	e.OnStreamReady(t0)
	f := mk()
	require.NoError(t, f.RestoreState(e.State()))
	t1 := t0.Add(50 * time.Minute)
	f.OnPrice(t1, 100)
	_, err := f.Recover(t1, Snapshot{HavePosition: true}, false)
	require.NoError(t, err)
	f.OnStreamReady(t1)
	assert.Empty(t, f.Stats().Terminal)
	f.OnPrice(t0.Add(time.Hour), 100)
	assert.Equal(t, TerminalTimeLimit, f.Stats().Terminal)
}

func TestStoredTerminalIsValidated(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")))
	require.NoError(t, err)
	st := e.State()
	st.Terminal = &StoredTerminal{Kind: "margin-call"}
	st.Started = -1
	err = e.RestoreState(st)
	require.ErrorIs(t, err, ErrStateMismatch)
	assert.Contains(t, err.Error(), `Terminal.Kind = "margin-call": want take-profit, stop-loss, stop-top, stop-bottom or time-limit`)
	assert.Contains(t, err.Error(), "Started = -1: must not be negative")
}

// A risk hard stop keeps its market close, and goes limit first with
// WithStopClose.
func TestHardStopCloseLimitFirstWithStopClose(t *testing.T) {
	e, t0 := oneLongHeld(t, WithStopClose(d("0.01"), 5*time.Second))
	e.HardStop(t0, "risk", true)
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 8, Gen: 1}, Type: OrderCanceled})
	in := strsOf(mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 2}, Type: OrderCanceled}))
	assert.Equal(t, []string{"place close/1 exit SELL 1@99 reduce-only"}, in, "99 × 0.99 = 98.01: at 99")
	// Refused: the rest goes at market (after the back-off).
	assert.Empty(t, mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: CloseLevel, Gen: 1}, Type: OrderRejected, Reason: "busy"}))
	assert.Equal(t, []string{"place close/2 exit SELL 1 market reduce-only"}, strsOf(e.OnTimer(t0.Add(2*time.Second))))
}

type riskRecorder struct {
	NopObserver
	notes *[]RiskNote
}

func (r *riskRecorder) Risk(n RiskNote) { *r.notes = append(*r.notes, n) }

// The controls' state goes through the file store as it is: a restarted
// engine loading it stays stopped.
func TestTerminalStateThroughTheFileStore(t *testing.T) {
	e, t0 := oneLongHeld(t, WithStopLoss(AtPrice(d("95"))), WithStopClose(d("0"), 0))
	e.BookFunding(3)
	e.OnPrice(t0, 95)
	st := e.State()
	require.NotNil(t, st.Terminal)
	fs, err := NewJSONFileStore(t.TempDir() + "/grid.json")
	require.NoError(t, err)
	require.NoError(t, fs.Save(context.Background(), st))
	got, err := fs.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, st, got)
	assert.Equal(t, exchange.Money(3), got.Books.Funding)

	f, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithStopLoss(AtPrice(d("95"))))
	require.NoError(t, err)
	require.NoError(t, f.RestoreState(got))
	assert.Equal(t, TerminalStopLoss, f.Stats().Terminal)
	assert.Equal(t, "3", f.Stats().Funding.String())
	assert.Equal(t, "stop-loss: price 95 at or below 95", f.Stats().Reason)
}
