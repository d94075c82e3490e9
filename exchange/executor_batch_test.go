package exchange

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func execOrders(n int) []OrderRequest {
	out := make([]OrderRequest, n)
	for i := range out {
		out[i] = execOrder(fmt.Sprintf("c%d", i))
	}
	return out
}

// batchShape renders the calls as "op[cid,cid,…]@offset".
func batchShape(f *scriptedExchange) []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, fmt.Sprintf("%s[%s]@%s", c.op, strings.Join(c.cids, ","), c.at.Sub(execEpoch)))
	}
	return out
}

func newBatching(clk *barrierClock, max int) (*scriptedExchange, batchingExchange) {
	f := newScripted(clk)
	return f, batchingExchange{f, &fakeBatch{f: f, max: max}}
}

// execRoomy is a limit large enough never to hold the batch tests back.
var execRoomy = WithRateLimits(RateLimit{Scope: ScopeOrder, Interval: time.Second, Limit: 1000})

func TestPlaceBatchChunks(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		max   int
		opts  []ExecutorOption
		shape []string
	}{
		{"12 in 5,5,2", 12, 5, []ExecutorOption{execRoomy}, []string{
			"batchPlace[c0,c1,c2,c3,c4]@0s", "batchPlace[c5,c6,c7,c8,c9]@0s", "batchPlace[c10,c11]@0s",
		}},
		{"a lone leftover is placed alone", 11, 5, []ExecutorOption{execRoomy}, []string{
			"batchPlace[c0,c1,c2,c3,c4]@0s", "batchPlace[c5,c6,c7,c8,c9]@0s", "place[c10]@0s",
		}},
		{"batch no larger than half the smallest order window", 7, 5,
			[]ExecutorOption{WithRateLimits(RateLimit{Scope: ScopeOrder, Interval: time.Second, Limit: 1000}, RateLimit{Scope: ScopeOrder, Interval: time.Minute, Limit: 4})},
			// burst 2, then 2.999 a minute: each further pair waits ceil(2 × 60e9 / 2.999) ns.
			[]string{"batchPlace[c0,c1]@0s", "batchPlace[c2,c3]@40.01333778s", "batchPlace[c4,c5]@1m20.02667556s", "place[c6]@1m40.03334445s"}},
		{"a batch takes one unit per order", 10, 5,
			[]ExecutorOption{WithRateLimits(RateLimit{Scope: ScopeOrder, Interval: time.Second, Limit: 10})},
			// burst 5, then 5.999/s: the second five wait ceil(5e9 / 5.999) ns.
			[]string{"batchPlace[c0,c1,c2,c3,c4]@0s", "batchPlace[c5,c6,c7,c8,c9]@833.472246ms"}},
		{"MaxBatch 1 places one by one", 3, 1, []ExecutorOption{execRoomy}, []string{"place[c0]@0s", "place[c1]@0s", "place[c2]@0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newBarrierClock(1)
			f, ex := newBatching(clk, tt.max)
			e := mustExecutor(t, ex, append(tt.opts, WithExecutorClock(clk))...)
			res := e.PlaceBatch(context.Background(), execOrders(tt.n))
			require.Len(t, res, tt.n)
			for i, r := range res {
				require.NoError(t, r.Err, "order %d", i)
				assert.Equal(t, fmt.Sprintf("c%d", i), r.Order.ClientOrderID, "results are in request order")
				assert.Equal(t, fmt.Sprintf("id-c%d", i), r.Order.OrderID)
			}
			assert.Equal(t, tt.shape, batchShape(f))
		})
	}
}

func TestPlaceBatchFallsBackToSingles(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk).on(OpPlace, fakeReply{}, fakeReply{err: ErrPostOnlyRejected})
	e := mustExecutor(t, f, WithExecutorClock(clk), execRoomy)
	res := e.PlaceBatch(context.Background(), execOrders(4))
	require.Len(t, res, 4)
	assert.Equal(t, []string{"place[c0]@0s", "place[c1]@0s", "place[c2]@0s", "place[c3]@0s"}, batchShape(f))
	assert.NoError(t, res[0].Err)
	assert.ErrorIs(t, res[1].Err, ErrPostOnlyRejected)
	assert.NoError(t, res[2].Err)
	assert.Equal(t, "c3", res[3].Order.ClientOrderID)
	assert.Zero(t, e.Stats().Batches)
	assert.Empty(t, e.PlaceBatch(context.Background(), nil))
}

func TestPlaceBatchUnsupportedFallsBackToSingles(t *testing.T) {
	clk := newBarrierClock(1)
	f, ex := newBatching(clk, 5)
	f.on(OpBatchPlace, fakeReply{err: fmt.Errorf("batch off for this symbol: %w", ErrUnsupported)})
	e := mustExecutor(t, ex, WithExecutorClock(clk), execRoomy)
	res := e.PlaceBatch(context.Background(), execOrders(3))
	for i, r := range res {
		require.NoError(t, r.Err, "order %d", i)
	}
	assert.Equal(t, []string{"batchPlace[c0,c1,c2]@0s", "place[c0]@0s", "place[c1]@0s", "place[c2]@0s"}, batchShape(f))
}

func TestPlaceBatchMapsPerOrderErrors(t *testing.T) {
	clk := newBarrierClock(1)
	f, ex := newBatching(clk, 5)
	f.on(OpBatchPlace, fakeReply{batch: []BatchResult{
		{Order: Order{ClientOrderID: "c0", OrderID: "id-c0", Status: StatusNew}},
		{Err: &VenueError{Venue: "fake", Code: -5022, Msg: "post only", Kind: ErrPostOnlyRejected}},
		{Err: fmt.Errorf("item 2: %w", ErrUnknownOutcome)},
		{Err: ErrUnavailable},
		{Err: &RateLimitError{RetryAfter: 2 * time.Second}},
	}})
	obs := &recordingObserver{}
	e := mustExecutor(t, ex, WithExecutorClock(clk), execRoomy, WithRetryPolicy(execNoJitter(3)), WithExecutorObserver(obs))
	res := e.PlaceBatch(context.Background(), execOrders(5))
	require.Len(t, res, 5)

	assert.NoError(t, res[0].Err)
	assert.Equal(t, "id-c0", res[0].Order.OrderID)
	var ve *VenueError
	require.ErrorAs(t, res[1].Err, &ve)
	assert.Equal(t, -5022, ve.Code)
	assert.ErrorIs(t, res[1].Err, ErrPostOnlyRejected)
	var u *UnknownOutcomeError
	require.ErrorAs(t, res[2].Err, &u)
	assert.Equal(t, "place", u.Op)
	assert.Equal(t, execEpoch, u.SentAt)
	// The retryable two went again together, after the venue's RetryAfter;
	// the unknown one was not resent.
	assert.NoError(t, res[3].Err)
	assert.Equal(t, "id-c3", res[3].Order.OrderID)
	assert.NoError(t, res[4].Err)
	assert.Equal(t, []string{"batchPlace[c0,c1,c2,c3,c4]@0s", "batchPlace[c3,c4]@2s"}, batchShape(f))

	st := e.Stats()
	assert.Equal(t, uint64(2), st.Batches)
	assert.Equal(t, uint64(1), st.UnknownOutcomes)
	assert.Equal(t, uint64(1), st.Retries)
	assert.Equal(t, uint64(1), st.RateLimited)
	assert.Equal(t, map[string]uint64{"post_only_rejected": 1, "unknown_outcome": 1}, st.Errors)
	assert.Equal(t, map[string]uint64{OpBatchPlace: 2}, st.Requests)
	assert.Equal(t, []string{
		"UNKNOWN_OUTCOME place #1 0s", "PAUSE batchPlace #1 2s", "RETRY batchPlace #1 2s", "RATE_LIMIT_WAIT batchPlace #2 2s",
	}, obs.summary())
}

func TestPlaceBatchWholeBatchErrors(t *testing.T) {
	tests := []struct {
		name    string
		replies []fakeReply
		shape   []string
		check   func(t *testing.T, r BatchResult)
	}{
		{"unknown outcome: none resent",
			[]fakeReply{{err: &UnknownOutcomeError{Op: "batchPlace", Err: ErrUnavailable}}},
			[]string{"batchPlace[c0,c1,c2]@0s"},
			func(t *testing.T, r BatchResult) {
				var u *UnknownOutcomeError
				require.ErrorAs(t, r.Err, &u)
				assert.Equal(t, execEpoch, u.SentAt)
			}},
		{"request deadline: none resent",
			[]fakeReply{{block: true}},
			[]string{"batchPlace[c0,c1,c2]@0s"},
			func(t *testing.T, r BatchResult) {
				var u *UnknownOutcomeError
				require.ErrorAs(t, r.Err, &u)
				assert.ErrorIs(t, r.Err, context.DeadlineExceeded)
			}},
		{"results that do not match the orders: unknown",
			[]fakeReply{{batch: []BatchResult{{}}}},
			[]string{"batchPlace[c0,c1,c2]@0s"},
			func(t *testing.T, r BatchResult) {
				assert.ErrorIs(t, r.Err, ErrUnknownOutcome)
				assert.ErrorContains(t, r.Err, "batchPlace returned 1 results for 3 orders")
			}},
		{"retryable: the whole batch again after the backoff",
			[]fakeReply{{err: ErrUnavailable}},
			[]string{"batchPlace[c0,c1,c2]@0s", "batchPlace[c0,c1,c2]@100ms"},
			func(t *testing.T, r BatchResult) { assert.NoError(t, r.Err) }},
		{"retryable until the attempts run out",
			[]fakeReply{{err: ErrUnavailable}, {err: ErrUnavailable}},
			[]string{"batchPlace[c0,c1,c2]@0s", "batchPlace[c0,c1,c2]@100ms"},
			func(t *testing.T, r BatchResult) {
				assert.ErrorIs(t, r.Err, ErrUnavailable)
				assert.ErrorContains(t, r.Err, "gave up after 2 attempts")
			}},
		{"not retryable",
			[]fakeReply{{err: ErrAuth}},
			[]string{"batchPlace[c0,c1,c2]@0s"},
			func(t *testing.T, r BatchResult) { assert.ErrorIs(t, r.Err, ErrAuth) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newBarrierClock(1)
			f, ex := newBatching(clk, 5)
			f.on(OpBatchPlace, tt.replies...)
			e := mustExecutor(t, ex, WithExecutorClock(clk), execRoomy, WithRetryPolicy(execNoJitter(2)), WithRequestTimeout(2*time.Millisecond))
			res := e.PlaceBatch(context.Background(), execOrders(3))
			require.Len(t, res, 3)
			for _, r := range res {
				tt.check(t, r)
			}
			assert.Equal(t, tt.shape, batchShape(f))
		})
	}
}

func TestCancelBatch(t *testing.T) {
	cancels := func(n int) []CancelRequest {
		out := make([]CancelRequest, n)
		for i := range out {
			out[i] = CancelRequest{Symbol: "BTCUSDT", ClientOrderID: fmt.Sprintf("c%d", i)}
		}
		return out
	}
	t.Run("batched", func(t *testing.T) {
		clk := newBarrierClock(1)
		f, ex := newBatching(clk, 5)
		f.on(OpBatchCancel, fakeReply{batch: []BatchResult{{}, {Err: ErrOrderNotFound}, {}, {}, {}}})
		e := mustExecutor(t, ex, WithExecutorClock(clk), execRoomy)
		res := e.CancelBatch(context.Background(), cancels(7))
		require.Len(t, res, 7)
		assert.ErrorIs(t, res[1].Err, ErrOrderNotFound)
		assert.Equal(t, "c6", res[6].Order.ClientOrderID)
		assert.Equal(t, StatusCanceled, res[6].Order.Status)
		assert.Equal(t, []string{"batchCancel[c0,c1,c2,c3,c4]@0s", "batchCancel[c5,c6]@0s"}, batchShape(f))
		assert.Equal(t, map[string]uint64{"order_not_found": 1}, e.Stats().Errors)
	})
	t.Run("one by one", func(t *testing.T) {
		clk := newBarrierClock(1)
		f := newScripted(clk).on(OpCancel, fakeReply{}, fakeReply{block: true})
		e := mustExecutor(t, f, WithExecutorClock(clk), execRoomy, WithRequestTimeout(2*time.Millisecond))
		res := e.CancelBatch(context.Background(), cancels(3))
		require.Len(t, res, 3)
		assert.NoError(t, res[0].Err)
		var u *UnknownOutcomeError
		require.ErrorAs(t, res[1].Err, &u)
		assert.Equal(t, "cancel", u.Op)
		assert.NoError(t, res[2].Err)
		assert.Equal(t, []string{"cancel[c0]@0s", "cancel[c1]@0s", "cancel[c2]@0s"}, batchShape(f))
	})
}

func TestPlaceBatchCanceledContext(t *testing.T) {
	clk := newBarrierClock(1)
	f, ex := newBatching(clk, 5)
	e := mustExecutor(t, ex, WithExecutorClock(clk), execRoomy)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := e.PlaceBatch(ctx, execOrders(6))
	require.Len(t, res, 6)
	for _, r := range res {
		assert.ErrorIs(t, r.Err, context.Canceled)
		assert.NotErrorIs(t, r.Err, ErrUnknownOutcome, "nothing was sent")
	}
	assert.Empty(t, f.Calls())
	assert.Equal(t, map[string]uint64{"canceled": 6}, e.Stats().Errors)
}
