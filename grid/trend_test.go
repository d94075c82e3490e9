package grid

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/risk"
)

// riskNotes records the observer's risk notes.
type riskNotes struct {
	NopObserver
	notes []RiskNote
}

func (r *riskNotes) Risk(n RiskNote) { r.notes = append(r.notes, n) }

// fastTrend is a trend filter on TEST's 1m candles with Fast 1 (the close)
// and Slow 3 (smoothing 1/2), entering at a 10 % gap and leaving at 4 %.
func fastTrend() risk.TrendConfig {
	cfg := risk.DefaultTrendConfig("TEST")
	cfg.Fast, cfg.Slow = 1, 3
	cfg.Enter, cfg.Exit = d("0.1"), d("0.04")
	return cfg
}

// kline is a closed 1m candle of TEST, i minutes after t0, closing at c.
func kline(t0 time.Time, i int, c string) risk.Observation {
	open := t0.Add(time.Duration(i) * time.Minute)
	px := d(c)
	return risk.Observation{Time: open.Add(time.Minute), Kind: risk.KindKline, Symbol: "TEST", Kline: exchange.Kline{
		Symbol: "TEST", Interval: "1m", OpenTime: open, CloseTime: open.Add(time.Minute - time.Millisecond),
		Open: px, High: px, Low: px, Close: px, Closed: true}}
}

// A down-trend holds the buy entries of a neutral grid and leaves its sell
// entries working; an up-trend the other way round; a faded trend
// resumes both. Stats and the observer show each change.
func TestTrendFilterPausesOneSide(t *testing.T) {
	obs := &riskNotes{}
	e, err := New(unitRules, WithMode(Neutral), WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithTrendFilter(fastTrend(), true), WithObserver(obs))
	require.NoError(t, err)
	require.True(t, e.HasRiskMonitors(), "the host must feed the trend filter")
	t0 := time.Unix(1_700_000_000, 0)
	e.OnPrice(t0, 100)
	in := e.OnStreamReady(t0)
	require.Equal(t, []string{"place 9/1 entry BUY 1@99 post-only", "place 11/1 entry SELL 1@101 post-only"}, strsOf(in))
	for _, it := range in {
		mustApplyEv(t, e, t0, OrderEvent{Ref: it.Ref, Type: OrderAccepted})
	}
	assert.Equal(t, "none", e.Stats().Trend)
	e.ObserveRisk(kline(t0, 0, "100"))
	e.ObserveRisk(kline(t0, 1, "100"))
	// Close 80: slow 90, gap −11 %: a down-trend. The live buy is canceled.
	in = e.ObserveRisk(kline(t0, 2, "80"))
	assert.Equal(t, []string{"cancel 9/1"}, strsOf(in))
	mustApplyEv(t, e, t0, OrderEvent{Ref: OrderRef{Level: 9, Gen: 1}, Type: OrderCanceled})
	st := e.Stats()
	assert.Equal(t, "down", st.Trend)
	assert.Equal(t, "-0.1111", st.TrendGap.StringFixed(4))
	assert.True(t, st.BuysPaused)
	assert.False(t, st.SellsPaused)
	assert.False(t, st.Paused, "only one side is held")
	require.Len(t, st.Pauses, 1)
	assert.Contains(t, st.Pauses[0], "trend: down-trend on the 1m candle")
	assert.Contains(t, st.Pauses[0], "(buy entries)")
	require.NotEmpty(t, obs.notes)
	last := obs.notes[len(obs.notes)-2]
	assert.Equal(t, "trend", last.Monitor)
	assert.True(t, last.Triggered)
	now := t0.Add(time.Minute)
	assert.Empty(t, strsOf(e.OnTimer(now)), "no buy entry while the down-trend holds; the sell entry stays")

	// Close 120: slow 105, gap +14 %: an up-trend. Sells are held (the
	// live one canceled), buys placed again.
	in = e.ObserveRisk(kline(t0, 3, "120"))
	assert.Equal(t, "up", e.Stats().Trend)
	assert.Equal(t, []string{"cancel 11/1", "place 9/2 entry BUY 1@99 post-only"}, strsOf(in))
	mustApplyEv(t, e, now, OrderEvent{Ref: OrderRef{Level: 11, Gen: 1}, Type: OrderCanceled})
	st = e.Stats()
	assert.False(t, st.BuysPaused)
	assert.True(t, st.SellsPaused)

	// Close 108: slow 106.5, gap +1.4 %, within 4 %: faded; sells resume.
	in = e.ObserveRisk(kline(t0, 4, "108"))
	assert.Equal(t, "none", e.Stats().Trend)
	assert.Equal(t, []string{"place 11/2 entry SELL 1@101 post-only"}, strsOf(in))
	assert.Empty(t, e.Stats().Pauses)
}

// A long grid has nothing to hold in an up-trend: only the down-trend
// pauses it.
func TestTrendFilterLongGridIgnoresUpTrend(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithTrendFilter(fastTrend(), false))
	require.NoError(t, err)
	t0 := time.Unix(1_700_000_000, 0)
	e.OnPrice(t0, 100)
	e.OnStreamReady(t0)
	for i, c := range []string{"100", "100", "130"} {
		assert.Empty(t, strsOf(e.ObserveRisk(kline(t0, i, c))))
	}
	assert.Equal(t, "up", e.Stats().Trend)
	assert.False(t, e.Stats().BuysPaused)
	assert.Empty(t, e.Stats().Pauses)
	// Without cancelEntries a down-trend keeps the live buy entry.
	assert.Empty(t, strsOf(e.ObserveRisk(kline(t0, 3, "60"))))
	assert.Equal(t, "down", e.Stats().Trend)
	assert.True(t, e.Stats().BuysPaused)
}

func TestTrendFilterOptionErrors(t *testing.T) {
	bad := fastTrend()
	bad.Slow = 1
	_, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")), WithTrendFilter(bad, false))
	require.ErrorIs(t, err, ErrInvalidOption)
	assert.Contains(t, err.Error(), "WithTrendFilter")
	assert.Contains(t, err.Error(), "TrendConfig.Slow = 1")
	other := risk.DefaultTrendConfig("BTCUSDT")
	_, err = New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")), WithTrendFilter(other, false))
	require.ErrorIs(t, err, ErrInvalidOption)
	assert.Contains(t, err.Error(), "WithTrendFilter = BTCUSDT: the trend filter's symbol must be the grid's, TEST")
}

// One-sided pauses add up with whole ones: the host's resume does not
// lift the trend's side, and the trend's resume does not lift the host's.
func TestPauseSideAddsUpWithPauseFor(t *testing.T) {
	e, err := New(unitRules, WithMode(Neutral), WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0))
	require.NoError(t, err)
	t0 := time.Unix(1_700_000_000, 0)
	e.OnPrice(t0, 100)
	e.PauseFor(t0, PauseHost, "maintenance", false)
	e.PauseSide(t0, PauseTrend, exchange.Sell, "up", false)
	assert.Empty(t, strsOf(e.OnStreamReady(t0)))
	assert.Equal(t, []string{"place 9/1 entry BUY 1@99 post-only"}, strsOf(e.ResumeFor(t0, PauseHost)))
	assert.True(t, e.EntriesPaused(exchange.Sell))
	assert.False(t, e.EntriesPaused(exchange.Buy))
	assert.Equal(t, []string{"place 11/1 entry SELL 1@101 post-only"}, strsOf(e.ResumeFor(t0, PauseTrend)))
	assert.Empty(t, strsOf(e.PauseSide(t0, PauseTrend, 0, "no side", false)), "a side is needed")
	assert.False(t, e.PausedBy(PauseTrend))
}

// A pause of every entry that narrows to one side (same owner) lets the
// other side place again at once.
func TestPauseNarrowedToOneSide(t *testing.T) {
	e, err := New(unitRules, WithMode(Neutral), WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0))
	require.NoError(t, err)
	t0 := time.Unix(1_700_000_000, 0)
	e.OnPrice(t0, 100)
	e.PauseFor(t0, PauseHost, "all", false)
	assert.Empty(t, strsOf(e.OnStreamReady(t0)))
	assert.Equal(t, []string{"place 11/1 entry SELL 1@101 post-only"}, strsOf(e.PauseSide(t0, PauseHost, exchange.Buy, "buys only", false)))
	assert.Equal(t, []string{"host: buys only (buy entries)"}, e.Stats().Pauses)
}
