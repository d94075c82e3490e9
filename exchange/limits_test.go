package exchange

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithLimitsReportsEveryBadWindow(t *testing.T) {
	f := newScripted(newBarrierClock(1))
	_, err := NewExecutor(f, WithLimits(
		LimitWindow{Name: "a", Per: PerAccount, Interval: time.Second, Max: 10, Costs: []OpCost{{Op: OpPlace, PerOrder: 1}}},
		LimitWindow{Name: "a", Interval: 0, Max: 0, Costs: []OpCost{{Op: "", Units: 1}, {Op: OpQuery, Units: -1}, {Op: OpQuery}}},
		LimitWindow{Per: PerIP, Interval: time.Minute, Max: 5},
	))
	require.Error(t, err)
	for _, want := range []string{
		`WithLimits: windows[1].Name "a": already used by window 0`,
		`WithLimits: windows[1].Per LimitPer(0): must be PerAccount or PerIP`,
		`WithLimits: windows[1].Interval 0s: must be positive`,
		`WithLimits: windows[1].Max 0: must be positive`,
		`WithLimits: windows[1].Costs[0].Op: empty`,
		`WithLimits: windows[1].Costs[1] (query): Units -1, PerOrder 0: must not be negative`,
		`WithLimits: windows[1].Costs[2].Op "query": listed twice`,
		`WithLimits: windows[2].Name: empty: every window needs a name`,
		`WithLimits: windows[2] (): no operation counts against it`,
	} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = NewExecutor(f, WithLimits())
	assert.ErrorContains(t, err, "WithLimits: no window given")

	_, err = NewExecutor(f, WithLimits(LimitWindow{Name: "w", Per: PerIP, Interval: time.Minute, Max: 5, Costs: []OpCost{{Op: OpAccount, Units: 6}}}))
	assert.ErrorContains(t, err, `fake: one "account" request takes 6 of window "w" (max 5 per 1m0s): it could never be sent`)
}

// limitDeclaring declares windows in both forms: the full one wins.
type limitDeclaring struct {
	*scriptedExchange
	*fakeDecl
	windows []LimitWindow
}

func (d limitDeclaring) LimitWindows() []LimitWindow { return d.windows }

func TestLimitDeclarerWinsOverTheLegacyForm(t *testing.T) {
	clk := newBarrierClock(1)
	w := LimitWindow{Name: "place-order", Per: PerAccount, Interval: time.Second, Max: 10, Costs: []OpCost{{Op: OpPlace, Units: 1}}}
	ex := limitDeclaring{newScripted(clk), &fakeDecl{limits: DefaultRateLimits()}, []LimitWindow{w}}
	e := mustExecutor(t, ex, WithExecutorClock(clk))
	assert.Equal(t, []LimitWindow{w}, e.LimitWindows())
	assert.Equal(t, []RateLimit{{Scope: ScopeOrder, Interval: time.Second, Limit: 10}}, e.RateLimits())

	// The legacy form, converted.
	e = mustExecutor(t, declaredExchange{newScripted(clk), &fakeDecl{limits: DefaultRateLimits(), weights: map[string]int{OpFills: 7}}}, WithExecutorClock(clk))
	ws := e.LimitWindows()
	require.Len(t, ws, 2)
	assert.Equal(t, "order[0]", ws[0].Name)
	c, ok := ws[0].cost(OpBatchCancel)
	assert.True(t, ok)
	assert.Equal(t, OpCost{Op: OpBatchCancel, PerOrder: 1}, c)
	c, _ = ws[1].cost(OpFills)
	assert.Equal(t, OpCost{Op: OpFills, Units: 7}, c)
	assert.Equal(t, PerIP, ws[1].Per)
	assert.Equal(t, DefaultRateLimits(), e.RateLimits())
}

// A batch counted per order takes at most half a window, so its chunk
// shrinks; one counted per call does not.
func TestBatchChunkFollowsPerOrderWindows(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk)
	ex := batchingExchange{f, &fakeBatch{f: f, max: 50}}
	e := mustExecutor(t, ex, WithExecutorClock(clk), WithLimits(
		LimitWindow{Name: "place", Per: PerAccount, Interval: time.Second, Max: 21, Costs: []OpCost{{Op: OpBatchPlace, Units: 1, PerOrder: 1}}}))
	assert.Equal(t, 10, e.placeChunk, "(21+1)/2 − 1 per request")
	e = mustExecutor(t, ex, WithExecutorClock(clk), WithLimits(
		LimitWindow{Name: "batch-place-order", Per: PerAccount, Interval: time.Second, Max: 5, Costs: []OpCost{{Op: OpBatchPlace, Units: 1}}}))
	assert.Equal(t, 50, e.placeChunk)
}

// A named operation sent with Do takes its declared cost and waits for it.
func TestDoChargesANamedOperation(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk)
	e := mustExecutor(t, f, WithExecutorClock(clk), WithLimits(
		LimitWindow{Name: "weight", Per: PerIP, Interval: time.Minute, Max: 20, Costs: []OpCost{{Op: "listenKey", Units: 10}, {Op: OpQuery, Units: 1}}}))
	var at []time.Duration
	for range 3 {
		require.NoError(t, e.Do(context.Background(), "listenKey", func(context.Context) error {
			at = append(at, clk.Now().Sub(execEpoch))
			return nil
		}))
	}
	// Burst 10, then 10.999 a minute: the second waits for a full refill.
	assert.Equal(t, time.Duration(0), at[0])
	assert.InDelta(t, float64(time.Minute*10/11), float64(at[1]), float64(time.Second))
	assert.Equal(t, uint64(3), e.Stats().Requests["listenKey"])
	// Orders do not go through Do.
	err := e.Do(context.Background(), OpPlace, func(context.Context) error { return nil })
	assert.ErrorIs(t, err, ErrUnsupported)
	// An unlisted name costs nothing.
	require.NoError(t, e.Do(context.Background(), "time", func(context.Context) error { return nil }))
	assert.Equal(t, at[2], clk.Now().Sub(execEpoch))
}
