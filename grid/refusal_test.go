package grid

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// Issue 10: a refusal that proves a misconfiguration halts the grid with
// its reason, instead of a silent loop of refusals.
func TestPositionModeRefusalHalts(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(1, 1, 0), WithInitialPosition(false))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	ref := e.OnStreamReady(t0)[0].Ref
	cause := fmt.Errorf("binance: code -4061: %w", exchange.ErrPositionMode)
	mustApplyEv(t, e, t0, OrderEvent{Ref: ref, Type: OrderRejected, Reason: cause.Error(), Cause: cause})
	st := e.Stats()
	assert.True(t, st.Halted)
	assert.Contains(t, st.Reason, "misconfigured")
	assert.Contains(t, st.Reason, "-4061")
	assert.Empty(t, strsOf(e.OnTimer(t0.Add(time.Hour))), "nothing placed again")
}

// The same refusal repeated on one slot backs off its whole side, says so
// in Stats, and an acceptance on that side lifts the back-off.
func TestRepeatedRefusalBacksOffTheSide(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")),
		WithWindows(2, 1, 0), WithInitialPosition(false))
	require.NoError(t, err)
	t0 := time.Unix(1000, 0)
	e.OnPrice(t0, 100)
	in := e.OnStreamReady(t0)
	require.Equal(t, []string{"place 8/1 entry BUY 1@98 post-only", "place 9/1 entry BUY 1@99 post-only"}, strsOf(in))
	mustApplyEv(t, e, t0, OrderEvent{Ref: in[0].Ref, Type: OrderAccepted})
	ref := in[1].Ref
	now := t0
	for k := 0; k < refusalEscalation; k++ {
		mustApplyEv(t, e, now, OrderEvent{Ref: ref, Type: OrderRejected, Reason: "margin is insufficient"})
		if k < refusalEscalation-1 {
			now = now.Add(time.Duration(1<<k) * time.Second)
			in = e.OnTimer(now)
			require.Len(t, in, 1, "refusal %d: the slot retries after its back-off", k+1)
			ref = in[0].Ref
		}
	}
	// Third refusal at now: the slot waits 4 s, and so does its side.
	assert.Contains(t, e.Stats().Refusal, "BUY orders refused 3 times in a row at level 9: margin is insufficient")
	assert.Empty(t, strsOf(e.OnTimer(now.Add(time.Second))))
	// The other buy slot's order ends; it may not be replaced either.
	mustApplyEv(t, e, now.Add(time.Second), OrderEvent{Ref: OrderRef{Level: 8, Gen: 1}, Type: OrderCanceled})
	assert.Empty(t, strsOf(e.OnTimer(now.Add(2*time.Second))), "the whole buy side backs off")
	assert.Len(t, e.OnTimer(now.Add(4*time.Second)), 2, "after the back-off both buy slots place again")
}
