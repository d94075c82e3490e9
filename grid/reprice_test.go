package grid

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// postOnlyRefusal is the venue's immediate post-only rejection (Binance
// -5022), as the executor reports it.
func postOnlyRefused(ref OrderRef) OrderEvent {
	cause := fmt.Errorf("binance: code -5022: Due to the order could not be executed as maker: %w", exchange.ErrPostOnlyRejected)
	return OrderEvent{Ref: ref, Type: OrderRejected, Reason: cause.Error(), Cause: cause}
}

// makerGrid is a long grid on levels 90..110 at price 100 with one buy
// entry live-wanted, at level 9 (99), re-pricing 3 ticks clear of the last
// price.
func makerGrid(t *testing.T, opts ...Option) (*Engine, time.Time, OrderRef) {
	t.Helper()
	opts = append([]Option{WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithRepricing(3)}, opts...)
	e, err := New(unitRules, opts...)
	require.NoError(t, err)
	t0 := time.Unix(1_700_000_000, 0)
	e.OnPrice(t0, 100)
	in := e.OnStreamReady(t0)
	require.Equal(t, []string{"place 9/1 entry BUY 1@99 post-only"}, strsOf(in))
	return e, t0, in[0].Ref
}

// Regression (issue 18): a post-only entry the venue refused at once was
// placed again at its level after the back-off, to be refused again. It
// now backs off and re-prices to min(level, last − k).
func TestPostOnlyRejectionReprices(t *testing.T) {
	e, t0, ref := makerGrid(t)
	assert.Empty(t, strsOf(mustApplyEv(t, e, t0, postOnlyRefused(ref))))
	assert.Empty(t, strsOf(e.OnTimer(t0.Add(999*time.Millisecond))), "backs off 1 s")
	in := e.OnTimer(t0.Add(time.Second))
	assert.Equal(t, []string{"place 9/2 entry BUY 1@97 post-only"}, strsOf(in), "last 100 − 3 ticks")
	st := e.Stats()
	assert.Equal(t, 1, st.PostOnlyRejects)
	assert.Equal(t, 1, st.Repriced)
	assert.Empty(t, st.Refusal, "a post-only rejection does not back off the whole side")

	// Filled at 97: the exit stays priced from the level (100), not the fill.
	now := t0.Add(time.Second)
	mustApplyEv(t, e, now, OrderEvent{Ref: in[0].Ref, Type: OrderAccepted})
	in = mustApplyEv(t, e, now, OrderEvent{Ref: in[0].Ref, Type: OrderFilled, CumQty: 1, Price: 97})
	assert.Equal(t, []string{"place 9/3 exit SELL 1@100 reduce-only"}, strsOf(in))
	// The round trip done, the next entry is at the level again.
	mustApplyEv(t, e, now, OrderEvent{Ref: in[0].Ref, Type: OrderAccepted})
	in = mustApplyEv(t, e, now, OrderEvent{Ref: in[0].Ref, Type: OrderFilled, CumQty: 1, Price: 100})
	assert.Equal(t, []string{"place 9/4 entry BUY 1@99 post-only"}, strsOf(in))
	assert.Equal(t, "3", e.Stats().Realized.String(), "bought at 97, sold at 100")
}

// Regression (issue 18): a post-only entry the venue accepted and then
// canceled with nothing filled (Bitget) was placed again at once, at its
// level, with no back-off. It is now the same rejection: back-off,
// doubling across an acknowledgement, and re-pricing.
func TestLatePostOnlyRejectionBacksOffAndReprices(t *testing.T) {
	e, t0, ref := makerGrid(t)
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderAccepted})
	assert.Empty(t, strsOf(mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderCanceled})), "no placement at once")
	assert.Empty(t, strsOf(e.OnTimer(t0.Add(999*time.Millisecond))))
	in := e.OnTimer(t0.Add(time.Second))
	require.Equal(t, []string{"place 9/2 entry BUY 1@97 post-only"}, strsOf(in))
	// Accepted, then expired by the venue: the second in a row waits 2 s.
	now := t0.Add(time.Second)
	mustApplyEv(t, e, now, OrderEvent{Ref: in[0].Ref, Type: OrderAccepted})
	assert.Empty(t, strsOf(mustApplyEv(t, e, now, OrderEvent{Ref: in[0].Ref, Type: OrderExpired})))
	assert.Empty(t, strsOf(e.OnTimer(now.Add(1999*time.Millisecond))), "the second in a row backs off 2 s")
	in = e.OnTimer(now.Add(2 * time.Second))
	assert.Equal(t, []string{"place 9/3 entry BUY 1@97 post-only"}, strsOf(in))
	st := e.Stats()
	assert.Equal(t, 2, st.PostOnlyRejects)
	assert.Equal(t, 2, st.Repriced)
}

// The re-priced entry follows the last price, k ticks clear of it, in one
// jump each time, and never above its level.
func TestRepriceFollowsTheLastPrice(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 4), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithRepricing(3))
	require.NoError(t, err)
	t0 := time.Unix(1_700_000_000, 0)
	e.OnPrice(t0, 100)
	in := e.OnStreamReady(t0)
	require.Equal(t, []string{"place 1/1 entry BUY 1@95 post-only"}, strsOf(in))
	mustApplyEv(t, e, t0, postOnlyRefused(in[0].Ref))
	in = e.OnTimer(t0.Add(time.Second))
	assert.Equal(t, []string{"place 1/2 entry BUY 1@95 post-only"}, strsOf(in), "100 − 3 is above the level: the level")
	mustApplyEv(t, e, t0.Add(time.Second), postOnlyRefused(in[0].Ref))
	e.OnPrice(t0.Add(2*time.Second), 97)
	in = e.OnTimer(t0.Add(3 * time.Second))
	assert.Equal(t, []string{"place 1/3 entry BUY 1@94 post-only"}, strsOf(in), "97 − 3")
	mustApplyEv(t, e, t0.Add(3*time.Second), postOnlyRefused(in[0].Ref))
	e.OnPrice(t0.Add(4*time.Second), 96)
	in = e.OnTimer(t0.Add(7 * time.Second))
	assert.Equal(t, []string{"place 1/4 entry BUY 1@93 post-only"}, strsOf(in), "96 − 3")
	assert.Equal(t, 3, e.Stats().PostOnlyRejects)
	assert.Equal(t, 2, e.Stats().Repriced)
}

// A cancel the engine asked for is no rejection, and ends the run: the
// next entry is at the level again.
func TestRequestedCancelIsNoRejection(t *testing.T) {
	e, t0, ref := makerGrid(t)
	mustApplyEv(t, e, t0, postOnlyRefused(ref))
	in := e.OnTimer(t0.Add(time.Second))
	require.Equal(t, []string{"place 9/2 entry BUY 1@97 post-only"}, strsOf(in))
	now := t0.Add(time.Second)
	mustApplyEv(t, e, now, OrderEvent{Ref: in[0].Ref, Type: OrderAccepted})
	// The price rises two levels: the window moves and cancels the entry.
	in = e.OnPrice(now, 102)
	require.Contains(t, strsOf(in), "cancel 9/2")
	require.Contains(t, strsOf(in), "place 11/1 entry BUY 1@101 post-only")
	in = mustApplyEv(t, e, now, OrderEvent{Ref: OrderRef{Level: 9, Gen: 2}, Type: OrderCanceled})
	assert.Empty(t, strsOf(in))
	in = e.OnPrice(now.Add(time.Second), 100)
	assert.Contains(t, strsOf(in), "place 9/3 entry BUY 1@99 post-only", "at its level: the run of rejections ended")
	assert.Equal(t, 1, e.Stats().PostOnlyRejects)
}

// After N rejections in a row, with the fallback on, the slot sends a
// plain limit at its level; without it, it keeps re-pricing post-only.
func TestMakerFallbackAfterNRejections(t *testing.T) {
	for _, fallback := range []bool{true, false} {
		e, t0, ref := makerGrid(t, WithMakerFallback(fallback), WithMakerFallbackAfter(2))
		now := t0
		mustApplyEv(t, e, now, postOnlyRefused(ref))
		now = now.Add(time.Second)
		in := e.OnTimer(now)
		require.Equal(t, []string{"place 9/2 entry BUY 1@97 post-only"}, strsOf(in))
		mustApplyEv(t, e, now, postOnlyRefused(in[0].Ref))
		now = now.Add(2 * time.Second)
		in = e.OnTimer(now)
		if fallback {
			assert.Equal(t, []string{"place 9/3 entry BUY 1@99"}, strsOf(in), "a plain limit at the level")
			assert.Equal(t, 1, e.Stats().MakerFallbacks)
			// The venue ends the plain limit unasked: it backs off, not
			// counted as a post-only rejection.
			mustApplyEv(t, e, now, OrderEvent{Ref: in[0].Ref, Type: OrderAccepted})
			assert.Empty(t, strsOf(mustApplyEv(t, e, now, OrderEvent{Ref: in[0].Ref, Type: OrderCanceled})))
			assert.Equal(t, 2, e.Stats().PostOnlyRejects)
		} else {
			assert.Equal(t, []string{"place 9/3 entry BUY 1@97 post-only"}, strsOf(in))
			assert.Zero(t, e.Stats().MakerFallbacks)
		}
	}
}

// An exit the venue ends unasked backs off before it is sent again, at
// its level's exit price.
func TestUnrequestedExitEndBacksOff(t *testing.T) {
	e, t0, ref := makerGrid(t)
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderAccepted})
	in := mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderFilled, CumQty: 1, Price: 99})
	require.Equal(t, []string{"place 9/2 exit SELL 1@100 reduce-only"}, strsOf(in))
	mustApplyEv(t, e, t0, OrderEvent{Ref: in[0].Ref, Type: OrderAccepted})
	assert.Empty(t, strsOf(mustApplyEv(t, e, t0, OrderEvent{Ref: in[0].Ref, Type: OrderExpired})))
	assert.Empty(t, strsOf(e.OnTimer(t0.Add(500*time.Millisecond))))
	assert.Contains(t, strsOf(e.OnTimer(t0.Add(time.Second))), "place 9/3 exit SELL 1@100 reduce-only")
	assert.Zero(t, e.Stats().PostOnlyRejects)
}

// Re-pricing off: a rejected entry goes back to its level after the back-off.
func TestRepricingOff(t *testing.T) {
	e, t0, ref := makerGrid(t, WithRepricing(0))
	mustApplyEv(t, e, t0, postOnlyRefused(ref))
	assert.Equal(t, []string{"place 9/2 entry BUY 1@99 post-only"}, strsOf(e.OnTimer(t0.Add(time.Second))))
}

// A short slot's entry re-prices above the last price.
func TestShortEntryRepricesAbove(t *testing.T) {
	e, err := New(unitRules, WithMode(Short), WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false), WithRepricing(2))
	require.NoError(t, err)
	t0 := time.Unix(1_700_000_000, 0)
	e.OnPrice(t0, 100)
	in := e.OnStreamReady(t0)
	require.Equal(t, []string{"place 11/1 entry SELL 1@101 post-only"}, strsOf(in))
	mustApplyEv(t, e, t0, postOnlyRefused(in[0].Ref))
	assert.Equal(t, []string{"place 11/2 entry SELL 1@102 post-only"}, strsOf(e.OnTimer(t0.Add(time.Second))))
}

func TestMakerOptionErrors(t *testing.T) {
	_, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithRepricing(-1), WithMakerFallbackAfter(0))
	require.ErrorIs(t, err, ErrInvalidOption)
	assert.Contains(t, err.Error(), "WithRepricing = -1: ticks must be 0 (off) to 1000000")
	assert.Contains(t, err.Error(), "WithMakerFallbackAfter = 0: must be 1 to 100 rejections")
}

// The fallback's default is three rejections in a row.
func TestMakerFallbackDefaultsToThree(t *testing.T) {
	e, t0, ref := makerGrid(t, WithMakerFallback(true))
	now := t0
	var got []string
	for k := 0; k < 3; k++ {
		mustApplyEv(t, e, now, postOnlyRefused(ref))
		now = now.Add(time.Duration(1<<k) * time.Second)
		in := e.OnTimer(now)
		require.Len(t, in, 1)
		got = append(got, in[0].String())
		ref = in[0].Ref
	}
	assert.Equal(t, []string{"place 9/2 entry BUY 1@97 post-only", "place 9/3 entry BUY 1@97 post-only", "place 9/4 entry BUY 1@99"}, got)
	assert.Equal(t, DefaultFallbackAfter, 3)
	assert.Equal(t, 1, e.Stats().MakerFallbacks)
}

// A venue's cancel of a partly filled entry is no rejection: the slot
// holds what filled and exits it, with no back-off.
func TestPartlyFilledEntryEndIsNoRejection(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("4")),
		WithWindows(1, 1, 0), WithInitialPosition(false))
	require.NoError(t, err)
	t0 := time.Unix(1_700_000_000, 0)
	e.OnPrice(t0, 100)
	ref := e.OnStreamReady(t0)[0].Ref
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderAccepted})
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderFilled, CumQty: 2, Price: 99})
	// An update that lost the count (CumQty 0) still ends a partly filled order.
	in := mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderCanceled})
	assert.Equal(t, []string{"place 9/2 exit SELL 2@100 reduce-only"}, strsOf(in))
	assert.Zero(t, e.Stats().PostOnlyRejects)
}
