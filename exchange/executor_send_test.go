package exchange

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A place held by a venue's Retry-After longer than its send budget is
// dropped before it is written, and says so: ErrNotSent, never an unknown
// outcome (regression for issue 9, bug 1: a request held past the engine's
// ack timeout used to go out late, after the engine had given up on it).
func TestExecutorSendBudgetDropsAHeldPlace(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk).on(OpPlace, fakeReply{err: &RateLimitError{RetryAfter: 30 * time.Second}})
	e := mustExecutor(t, f, WithExecutorClock(clk), WithRetryPolicy(execNoJitter(3)))
	_, err := e.Place(WithSendWithin(context.Background(), 10*time.Second), execOrder("a1"))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNotSent)
	assert.NotErrorIs(t, err, ErrUnknownOutcome)
	assert.Equal(t, []string{"place@0s"}, f.opsAndTimes(), "the retry after 30 s is never written")

	// Within budget the same retry goes out.
	f2 := newScripted(clk).on(OpPlace, fakeReply{err: &RateLimitError{RetryAfter: 3 * time.Second}})
	e2 := mustExecutor(t, f2, WithExecutorClock(clk), WithRetryPolicy(execNoJitter(3)))
	_, err = e2.Place(WithSendWithin(context.Background(), 10*time.Second), execOrder("a2"))
	require.NoError(t, err)
	assert.Len(t, f2.Calls(), 2)
}

// A rate-limit wait longer than the budget sends nothing, at once.
func TestExecutorSendBudgetBeyondTheLimiter(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk)
	e := mustExecutor(t, f, WithExecutorClock(clk), WithRateLimits(RateLimit{Scope: ScopeOrder, Interval: time.Hour, Limit: 1}))
	_, err := e.Place(context.Background(), execOrder("a1"))
	require.NoError(t, err)
	_, err = e.Place(WithSendWithin(context.Background(), time.Minute), execOrder("a2"))
	assert.ErrorIs(t, err, ErrNotSent)
	assert.Len(t, f.Calls(), 1)
	assert.Empty(t, clk.Sleeps(), "it did not wait for the hour")
	assert.Equal(t, uint64(1), e.Stats().Errors["not_sent"], "counted as not sent, not as other")

	res := e.PlaceBatch(WithSendWithin(context.Background(), time.Minute), []OrderRequest{execOrder("b1"), execOrder("b2")})
	for _, r := range res {
		assert.ErrorIs(t, r.Err, ErrNotSent)
	}
	assert.Len(t, f.Calls(), 1)
}

// A context that ended before the request left reports ErrNotSent too.
func TestExecutorCanceledBeforeSendIsNotSent(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk)
	e := mustExecutor(t, f, WithExecutorClock(clk))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Place(ctx, execOrder("a1"))
	assert.ErrorIs(t, err, ErrNotSent)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, f.Calls())
}

// A batch call's send budget counts from the moment the call entered the
// executor, for every chunk and for a lone order left over: each used to
// start its own budget when its turn came, so the later chunks of a batch
// held by the limiter went out long after the engine's send deadline, and
// the engine, which had proven them absent, had already placed their
// slots' next generations (found by the live soak, grid/backtest seed 211:
// two live orders for one slot).
func TestExecutorSendBudgetCountsFromTheBatchCall(t *testing.T) {
	clk := newBarrierClock(1)
	f, ex := newBatching(clk, 5)
	e := mustExecutor(t, ex, WithExecutorClock(clk),
		WithRateLimits(RateLimit{Scope: ScopeOrder, Interval: time.Second, Limit: 1000}, RateLimit{Scope: ScopeOrder, Interval: time.Minute, Limit: 4}))
	var reqs []OrderRequest
	for i := range 7 {
		reqs = append(reqs, execOrder(fmt.Sprint("c", i)))
	}
	res := e.PlaceBatch(WithSendWithin(context.Background(), time.Minute), reqs)
	// Pairs every 40 s (see TestPlaceBatchChunks): the third pair and the
	// leftover would leave at 1m20s and 1m40s, past the minute.
	assert.Equal(t, []string{"batchPlace[c0,c1]@0s", "batchPlace[c2,c3]@40.01333778s"}, batchShape(f))
	for i, r := range res {
		if i < 4 {
			assert.NoError(t, r.Err, "c%d", i)
			continue
		}
		assert.ErrorIs(t, r.Err, ErrNotSent, "c%d", i)
	}
}
