package exchange

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func execOrder(cid string) OrderRequest {
	return OrderRequest{Symbol: "BTCUSDT", ClientOrderID: cid, Side: Buy, Price: decimal.RequireFromString("100.5"), Quantity: decimal.RequireFromString("0.01")}
}

// execNoJitter is a retry policy with an exact schedule.
func execNoJitter(attempts int) RetryPolicy {
	return RetryPolicy{MaxAttempts: attempts, BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
}

func TestNewExecutorReportsEveryBadOption(t *testing.T) {
	f := newScripted(newBarrierClock(1))
	_, err := NewExecutor(f,
		WithRateLimits(RateLimit{Scope: "orders", Interval: 0, Limit: -1}),
		WithRequestTimeout(-time.Second),
		WithRetryPolicy(RetryPolicy{MaxAttempts: 0, BaseBackoff: time.Second, MaxBackoff: time.Millisecond, Jitter: 1.5}),
		WithQueryShare(0),
		WithExecutorClock(nil),
		WithExecutorRand(nil),
		nil,
	)
	require.Error(t, err)
	for _, want := range []string{
		`WithRateLimits: limits[0].Scope "orders": must be "order" or "request"`,
		`WithRateLimits: limits[0].Interval 0s: must be positive`,
		`WithRateLimits: limits[0].Limit -1: must be positive`,
		`WithRequestTimeout: -1s: must be positive`,
		`WithRetryPolicy: MaxAttempts 0: must be at least 1`,
		`WithRetryPolicy: MaxBackoff 1ms: must be at least BaseBackoff 1s`,
		`WithRetryPolicy: Jitter 1.5: must be in [0, 1]`,
		`WithQueryShare: 0: must be from 1 to 100`,
		`WithExecutorClock: nil clock`,
		`WithExecutorRand: nil *rand.Rand`,
		`option 6 is nil`,
	} {
		assert.Contains(t, err.Error(), want)
	}

	_, err = NewExecutor(nil)
	assert.EqualError(t, err, "exchange: NewExecutor: nil IExchange")
	_, err = NewExecutor(f, WithRateLimits())
	assert.ErrorContains(t, err, "WithRateLimits: no window given")
}

func TestNewExecutorChecksTheAdapter(t *testing.T) {
	clk := newBarrierClock(1)
	bad := declaredBatchingExchange{newScripted(clk),
		&fakeDecl{
			limits:  []RateLimit{{Scope: ScopeRequest, Interval: time.Minute, Limit: 10}, {Scope: "ip", Interval: time.Second, Limit: 5}},
			weights: map[string]int{OpFills: -1, OpAccount: 11},
		},
		&fakeBatch{max: 0}}
	bad.fakeBatch.f = bad.scriptedExchange
	_, err := NewExecutor(bad)
	require.Error(t, err)
	for _, want := range []string{
		`fake: RateLimitDeclarer.RateLimits()[1].Scope "ip": must be "order" or "request"`,
		`fake: RateLimitDeclarer.Weight("fills") = -1: must not be negative`,
		`fake: weight 11 of "account" exceeds request window 0 (limit 10 per 1m0s): it could never be sent`,
		`fake: BatchPlacer.MaxBatch() = 0: must be at least 1`,
		`fake: BatchCanceler.MaxBatch() = 0: must be at least 1`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestExecutorLimitsSource(t *testing.T) {
	clk := newBarrierClock(1)
	declared := []RateLimit{{Scope: ScopeOrder, Interval: 10 * time.Second, Limit: 300}, {Scope: ScopeOrder, Interval: time.Minute, Limit: 1200}}
	override := []RateLimit{{Scope: ScopeOrder, Interval: time.Second, Limit: 25}}
	tests := []struct {
		name string
		ex   IExchange
		opts []ExecutorOption
		want []RateLimit
	}{
		{"no declarer: generic default", newScripted(clk), nil, DefaultRateLimits()},
		{"declarer", declaredExchange{newScripted(clk), &fakeDecl{limits: declared}}, nil, declared},
		{"declarer without windows: generic default", declaredExchange{newScripted(clk), &fakeDecl{}}, nil, DefaultRateLimits()},
		{"override wins", declaredExchange{newScripted(clk), &fakeDecl{limits: declared}}, []ExecutorOption{WithRateLimits(override...)}, override},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustExecutor(t, tt.ex, append(tt.opts, WithExecutorClock(clk))...)
			assert.Equal(t, tt.want, e.RateLimits())
		})
	}
	assert.Equal(t, []RateLimit{
		{Scope: ScopeOrder, Interval: time.Second, Limit: 10},
		{Scope: ScopeRequest, Interval: time.Minute, Limit: 1200},
	}, DefaultRateLimits())
}

func TestExecutorRetriesOnlyRetryableErrors(t *testing.T) {
	venue := &VenueError{Venue: "fake", Code: -1001, Msg: "internal", Kind: ErrUnavailable}
	tests := []struct {
		name      string
		err       error
		wantCalls int
		wantErr   error // nil: the retry succeeded
	}{
		{"unavailable", ErrUnavailable, 2, nil},
		{"venue error mapped to unavailable", venue, 2, nil},
		{"clock skew", fmt.Errorf("wrapped: %w", ErrClockSkew), 2, nil},
		{"rate limited without hint", &RateLimitError{}, 2, nil},
		{"post-only", ErrPostOnlyRejected, 1, ErrPostOnlyRejected},
		{"insufficient margin", ErrInsufficientMargin, 1, ErrInsufficientMargin},
		{"auth", ErrAuth, 1, ErrAuth},
		{"invalid order", &RuleError{Symbol: "BTCUSDT", Field: "price", Value: "1", Reason: "bad"}, 1, ErrInvalidOrder},
		{"duplicate", ErrDuplicateClientOrderID, 1, ErrDuplicateClientOrderID},
		{"plain error", errors.New("boom"), 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newBarrierClock(1)
			f := newScripted(clk).on(OpPlace, fakeReply{err: tt.err})
			e := mustExecutor(t, f, WithExecutorClock(clk), WithRetryPolicy(execNoJitter(3)))
			o, err := e.Place(context.Background(), execOrder("a1"))
			assert.Len(t, f.Calls(), tt.wantCalls)
			if tt.wantCalls == 2 {
				require.NoError(t, err)
				assert.Equal(t, "a1", o.ClientOrderID)
				assert.Equal(t, uint64(1), e.Stats().Retries)
				return
			}
			require.Error(t, err)
			assert.Same(t, tt.err, err, "a first-attempt error is returned as the adapter gave it")
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			assert.Zero(t, e.Stats().Retries)
		})
	}
}

func TestExecutorQueryNotFoundIsNotRetried(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk).on(OpQuery, fakeReply{err: ErrOrderNotFound})
	e := mustExecutor(t, f, WithExecutorClock(clk))
	_, err := e.Query(context.Background(), "BTCUSDT", "a1")
	assert.ErrorIs(t, err, ErrOrderNotFound)
	assert.Len(t, f.Calls(), 1)
	assert.Equal(t, map[string]uint64{"order_not_found": 1}, e.Stats().Errors)
}

func TestExecutorBackoffSequenceExact(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk)
	for range 6 {
		f.on(OpOpenOrders, fakeReply{err: ErrUnavailable})
	}
	obs := &recordingObserver{}
	e := mustExecutor(t, f, WithExecutorClock(clk), WithRetryPolicy(execNoJitter(6)), WithExecutorObserver(obs))
	_, err := e.OpenOrders(context.Background(), "BTCUSDT")
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.EqualError(t, err, "exchange: openOrders BTCUSDT: gave up after 6 attempts: venue unavailable")
	// 100 ms doubling, capped at 1 s.
	assert.Equal(t, []string{
		"openOrders@0s", "openOrders@100ms", "openOrders@300ms", "openOrders@700ms", "openOrders@1.5s", "openOrders@2.5s",
	}, f.opsAndTimes())
	assert.Equal(t, []string{
		"RETRY openOrders #1 100ms", "RETRY openOrders #2 200ms", "RETRY openOrders #3 400ms",
		"RETRY openOrders #4 800ms", "RETRY openOrders #5 1s",
	}, obs.summary())
	st := e.Stats()
	assert.Equal(t, uint64(5), st.Retries)
	assert.Equal(t, map[string]uint64{OpOpenOrders: 6}, st.Requests)
	assert.Equal(t, map[string]uint64{"unavailable": 1}, st.Errors)
}

func TestExecutorBackoffJitterSeeded(t *testing.T) {
	run := func() []time.Duration {
		clk := newBarrierClock(1)
		f := newScripted(clk)
		for range 5 {
			f.on(OpAccount, fakeReply{err: ErrUnavailable})
		}
		p := execNoJitter(6)
		p.Jitter = 0.5
		e := mustExecutor(t, f, WithExecutorClock(clk), WithRetryPolicy(p), WithExecutorRand(rand.New(rand.NewPCG(1, 2))))
		_, err := e.Account(context.Background())
		require.NoError(t, err)
		return clk.Sleeps()
	}
	got := run()
	// Each wait is its backoff (100, 200, 400, 800 ms, 1 s) less up to half
	// of it, drawn from the seeded PCG.
	want := []time.Duration{61531336, 138356378, 243114399, 481361368, 882861865}
	assert.Equal(t, want, got)
	base := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second}
	for i, d := range got {
		assert.True(t, d > base[i]/2-1 && d <= base[i], "wait %d: %s not in [%s, %s]", i, d, base[i]/2, base[i])
	}
	assert.Equal(t, got, run(), "the same seed gives the same schedule")
}

func TestExecutorHonoursRetryAfter(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk).on(OpPlace, fakeReply{err: &RateLimitError{RetryAfter: 3 * time.Second}})
	obs := &recordingObserver{}
	e := mustExecutor(t, f, WithExecutorClock(clk), WithRetryPolicy(execNoJitter(3)), WithExecutorObserver(obs))
	o, err := e.Place(context.Background(), execOrder("a1"))
	require.NoError(t, err)
	assert.Equal(t, "id-a1", o.OrderID)
	// The retry waits exactly RetryAfter (not the 100 ms backoff), in the limiter.
	assert.Equal(t, []string{"place@0s", "place@3s"}, f.opsAndTimes())
	assert.Equal(t, []string{"PAUSE place #1 3s", "RETRY place #1 3s", "RATE_LIMIT_WAIT place #2 3s"}, obs.summary())
	st := e.Stats()
	assert.Equal(t, uint64(1), st.RateLimited)
	assert.Equal(t, uint64(1), st.Retries)
	assert.Equal(t, uint64(1), st.RateLimitWaits)
	assert.Equal(t, 3*time.Second, st.RateLimitWaitTime)
	assert.Empty(t, st.Errors)
}

func TestExecutorRateLimitPausesEveryRequest(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk).on(OpPlace, fakeReply{err: &RateLimitError{RetryAfter: 2 * time.Second}})
	e := mustExecutor(t, f, WithExecutorClock(clk), WithRetryPolicy(execNoJitter(1)))
	_, err := e.Place(context.Background(), execOrder("a1"))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRateLimited)
	// The refusal is per account/IP: the next order and the next query both
	// wait for the pause to end.
	_, err = e.Cancel(context.Background(), CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "a0"})
	require.NoError(t, err)
	_, err = e.Query(context.Background(), "BTCUSDT", "a0")
	require.NoError(t, err)
	assert.Equal(t, []string{"place@0s", "cancel@2s", "query@2s"}, f.opsAndTimes())
	assert.Equal(t, map[string]uint64{"rate_limited": 1}, e.Stats().Errors)
}

func TestExecutorRetryAfterBeyondDeadlineGivesUp(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk).on(OpPlace, fakeReply{err: &RateLimitError{RetryAfter: time.Hour, Banned: true}})
	e := mustExecutor(t, f, WithExecutorClock(clk), WithRetryPolicy(execNoJitter(3)))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := e.Place(ctx, execOrder("a1"))
	var rl *RateLimitError
	require.ErrorAs(t, err, &rl)
	assert.True(t, rl.Banned)
	assert.Len(t, f.Calls(), 1)
	assert.Empty(t, clk.Sleeps(), "it did not wait an hour")
}

func TestExecutorUnknownOutcomeNeverResent(t *testing.T) {
	adapterSent := execEpoch.Add(-time.Second)
	tests := []struct {
		name       string
		reply      fakeReply
		wantSentAt time.Time
	}{
		{"sentinel", fakeReply{err: fmt.Errorf("HTTP 503: %w", ErrUnknownOutcome)}, execEpoch},
		{"typed without SentAt", fakeReply{err: &UnknownOutcomeError{Op: "place", Err: errors.New("EOF")}}, execEpoch},
		{"typed with the adapter's SentAt", fakeReply{err: &UnknownOutcomeError{Op: "place", SentAt: adapterSent, Err: errors.New("EOF")}}, adapterSent},
		{"wrapped typed with SentAt", fakeReply{err: fmt.Errorf("binance: %w", &UnknownOutcomeError{SentAt: adapterSent, Err: errors.New("EOF")})}, adapterSent},
		{"retryable cause", fakeReply{err: &UnknownOutcomeError{Err: ErrUnavailable}}, execEpoch},
		{"request deadline", fakeReply{block: true}, execEpoch},
	}
	for _, tt := range tests {
		for _, op := range []string{OpPlace, OpCancel} {
			t.Run(tt.name+" "+op, func(t *testing.T) {
				clk := newBarrierClock(1)
				f := newScripted(clk).on(op, tt.reply)
				obs := &recordingObserver{}
				e := mustExecutor(t, f, WithExecutorClock(clk), WithRetryPolicy(execNoJitter(5)),
					WithRequestTimeout(2*time.Millisecond), WithExecutorObserver(obs))
				var err error
				if op == OpPlace {
					_, err = e.Place(context.Background(), execOrder("a1"))
				} else {
					_, err = e.Cancel(context.Background(), CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "a1"})
				}
				var u *UnknownOutcomeError
				require.ErrorAs(t, err, &u)
				assert.ErrorIs(t, err, ErrUnknownOutcome)
				assert.Equal(t, tt.wantSentAt, u.SentAt)
				if u.Op != "place" { // an adapter's own Op is kept
					assert.Equal(t, op, u.Op)
				}
				assert.Len(t, f.Calls(), 1, "never resent")
				st := e.Stats()
				assert.Equal(t, uint64(1), st.UnknownOutcomes)
				assert.Zero(t, st.Retries)
				assert.Equal(t, map[string]uint64{"unknown_outcome": 1}, st.Errors)
				assert.Equal(t, []string{"UNKNOWN_OUTCOME " + op + " #1 0s"}, obs.summary())
			})
		}
	}
}

func TestExecutorRequestDeadlineOnQueryIsAnError(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk).on(OpQuery, fakeReply{block: true})
	e := mustExecutor(t, f, WithExecutorClock(clk), WithRequestTimeout(2*time.Millisecond))
	_, err := e.Query(context.Background(), "BTCUSDT", "a1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrUnknownOutcome)
	assert.Len(t, f.Calls(), 1)
	assert.Equal(t, map[string]uint64{"deadline": 1}, e.Stats().Errors)
}

func TestExecutorRateWaitBeyondDeadlineSendsNothing(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk)
	e := mustExecutor(t, f, WithExecutorClock(clk), WithRateLimits(RateLimit{Scope: ScopeOrder, Interval: time.Hour, Limit: 1}))
	_, err := e.Place(context.Background(), execOrder("a1"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = e.Place(ctx, execOrder("a2"))
	assert.ErrorIs(t, err, ErrWaitExceedsDeadline)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrUnknownOutcome, "nothing was sent")
	assert.Len(t, f.Calls(), 1)
}

func TestExecutorCanceledWhileWaiting(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk).on(OpFills, fakeReply{err: ErrUnavailable})
	e := mustExecutor(t, f, WithExecutorClock(clk), WithRetryPolicy(execNoJitter(3)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Fills(ctx, "BTCUSDT", execEpoch)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, f.Calls(), "a canceled context sends nothing")
}

func TestExecutorReceiveWindow(t *testing.T) {
	clk := newBarrierClock(1)
	tests := []struct {
		name string
		ex   IExchange
		want time.Duration
	}{
		{"default", newScripted(clk), 60 * time.Second},
		{"declared", declaredExchange{newScripted(clk), &fakeDecl{recv: 5 * time.Second}}, 5 * time.Second},
		{"declared zero: default", declaredExchange{newScripted(clk), &fakeDecl{}}, 60 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustExecutor(t, tt.ex, WithExecutorClock(clk))
			assert.Equal(t, tt.want, e.ReceiveWindow())
			sent := execEpoch
			assert.False(t, e.ResendSafe(sent, sent))
			assert.False(t, e.ResendSafe(sent, sent.Add(tt.want-time.Nanosecond)))
			assert.True(t, e.ResendSafe(sent, sent.Add(tt.want)))
			assert.True(t, e.ResendSafe(sent, sent.Add(tt.want+time.Hour)))
		})
	}
}

func TestExecutorPassthroughsAndWeights(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk)
	// One request window of 20 weight per minute, all of it for queries:
	// burst 10, then 10.999 a minute.
	decl := &fakeDecl{
		limits:  []RateLimit{{Scope: ScopeRequest, Interval: time.Minute, Limit: 20}},
		weights: map[string]int{OpAccount: 5, OpPositions: 5, OpFills: 5, OpQuery: 1, OpOpenOrders: 1, OpRules: 1, OpPlace: 0, OpCancel: 1},
	}
	e := mustExecutor(t, declaredExchange{f, decl}, WithExecutorClock(clk), WithQueryShare(100))
	ctx := context.Background()
	_, err := e.Account(ctx) // 5
	require.NoError(t, err)
	_, err = e.Positions(ctx, "BTCUSDT") // 10
	require.NoError(t, err)
	for range 20 { // weight 0: never limited by request windows
		_, err = e.Place(ctx, execOrder("p"))
		require.NoError(t, err)
	}
	_, err = e.Fills(ctx, "BTCUSDT", execEpoch) // needs 5: waits 5 / (10.999/min)
	require.NoError(t, err)
	r, err := e.Rules(ctx, "ETHUSDT")
	require.NoError(t, err)
	assert.Equal(t, "ETHUSDT", r.Symbol)
	calls := f.Calls()
	require.Len(t, calls, 24)
	assert.Equal(t, execEpoch, calls[21].at, "places are free")
	assert.Equal(t, OpFills, calls[22].op)
	assert.Equal(t, 27275206837*time.Nanosecond, calls[22].at.Sub(execEpoch)) // ceil(5 × 60e9 / 10.999)
	st := e.Stats()
	assert.Equal(t, map[string]uint64{OpAccount: 1, OpPositions: 1, OpPlace: 20, OpFills: 1, OpRules: 1}, st.Requests)
	assert.Equal(t, uint64(2), st.RateLimitWaits)
}

// TestExecutorThreeGridsShareLimits runs three grids (goroutines) on one
// executor against one fake venue on a virtual clock: the venue never sees
// more than any declared window allows, and every grid completes.
func TestExecutorThreeGridsShareLimits(t *testing.T) {
	defer goleak.VerifyNone(t)
	const grids, rounds = 3, 40
	clk := newBarrierClock(grids)
	f := newScripted(clk)
	decl := &fakeDecl{
		limits: []RateLimit{
			{Scope: ScopeOrder, Interval: time.Second, Limit: 10},
			{Scope: ScopeOrder, Interval: 10 * time.Second, Limit: 60},
			{Scope: ScopeRequest, Interval: time.Minute, Limit: 300},
		},
		weights: map[string]int{OpPlace: 1, OpCancel: 1, OpQuery: 2, OpOpenOrders: 3, OpBatchPlace: 5},
	}
	ex := declaredBatchingExchange{f, decl, &fakeBatch{f: f, max: 5}}
	obs := &recordingObserver{}
	e := mustExecutor(t, ex, WithExecutorClock(clk), WithExecutorObserver(obs))

	var wg sync.WaitGroup
	errs := make([][]error, grids)
	for g := range grids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer clk.Leave()
			ctx := context.Background()
			sym := fmt.Sprintf("SYM%d", g)
			keep := func(err error) {
				if err != nil {
					errs[g] = append(errs[g], err)
				}
			}
			for r := range rounds {
				cid := fmt.Sprintf("g%d-%d", g, r)
				req := execOrder(cid)
				req.Symbol = sym
				_, err := e.Place(ctx, req)
				keep(err)
				_, err = e.Query(ctx, sym, cid)
				keep(err)
				if r%3 == 0 {
					_, err = e.Cancel(ctx, CancelRequest{Symbol: sym, ClientOrderID: cid})
					keep(err)
				}
				if r%5 == 0 {
					_, err = e.OpenOrders(ctx, sym)
					keep(err)
				}
				if r%10 == 0 {
					batch := make([]OrderRequest, 7)
					for i := range batch {
						batch[i] = execOrder(fmt.Sprintf("%s-b%d", cid, i))
					}
					for _, res := range e.PlaceBatch(ctx, batch) {
						keep(res.Err)
					}
				}
			}
		}()
	}
	wg.Wait()

	for g := range grids {
		assert.Empty(t, errs[g], "grid %d", g)
	}
	calls := f.Calls()
	sortCallsByTime(calls)
	counts := map[string]int{}
	for _, c := range calls {
		counts[c.op]++
	}
	// Per grid: 40 places, 40 queries, 14 cancels, 8 open-orders lists, and
	// 4 batches of 7 orders sent as 5 + 2, the 2 as a batch too.
	assert.Equal(t, map[string]int{OpPlace: 3 * 40, OpQuery: 3 * 40, OpCancel: 3 * 14, OpOpenOrders: 3 * 8, OpBatchPlace: 3 * 4 * 2}, counts)
	units := func(c fakeCall, scope string) int {
		if scope == ScopeOrder {
			if c.op == OpPlace || c.op == OpCancel || c.op == OpBatchPlace {
				return len(c.cids)
			}
			return 0
		}
		return decl.Weight(c.op)
	}
	assert.Empty(t, windowViolations(calls, decl.limits, units))
	// The run was limited: the 10 s window alone needs 3 × 108 orders / 60 ≥ 50 s.
	last := calls[len(calls)-1].at.Sub(execEpoch)
	assert.Greater(t, last, 50*time.Second)
	st := e.Stats()
	assert.Positive(t, st.RateLimitWaits)
	assert.Equal(t, uint64(3*4*2), st.Batches)
	assert.Empty(t, st.Errors)
}

func TestExecutorStatsSnapshotIsACopy(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk).on(OpPlace, fakeReply{err: ErrPostOnlyRejected})
	e := mustExecutor(t, f, WithExecutorClock(clk))
	_, _ = e.Place(context.Background(), execOrder("a1"))
	st := e.Stats()
	st.Requests[OpPlace] = 99
	st.Errors["x"] = 1
	assert.Equal(t, ExecutorStats{
		Requests: map[string]uint64{OpPlace: 1},
		Errors:   map[string]uint64{"post_only_rejected": 1},
	}, e.Stats())
}

func TestExecutorLogsThroughInjectedLogger(t *testing.T) {
	clk := newBarrierClock(1)
	f := newScripted(clk).on(OpPlace, fakeReply{err: &RateLimitError{RetryAfter: time.Second}})
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := mustExecutor(t, f, WithExecutorClock(clk), WithExecutorLogger(logger))
	_, err := e.Place(context.Background(), execOrder("a1"))
	require.NoError(t, err)
	assert.Contains(t, buf.String(), "exchange: venue rate limit: pausing every request")
	assert.Contains(t, buf.String(), "pause=1s")
}

func TestExecutorEventKindString(t *testing.T) {
	assert.Equal(t, "RETRY", ExecutorEventRetry.String())
	assert.Equal(t, "RATE_LIMIT_WAIT", ExecutorEventRateLimitWait.String())
	assert.Equal(t, "PAUSE", ExecutorEventPause.String())
	assert.Equal(t, "UNKNOWN_OUTCOME", ExecutorEventUnknownOutcome.String())
	assert.Equal(t, "ExecutorEventKind(0)", ExecutorEventKind(0).String())
}

func TestClassifyErrors(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&UnknownOutcomeError{Err: context.DeadlineExceeded}, "unknown_outcome"},
		{context.DeadlineExceeded, "deadline"},
		{context.Canceled, "canceled"},
		{&RateLimitError{}, "rate_limited"},
		{&VenueError{Kind: ErrPostOnlyRejected}, "post_only_rejected"},
		{ErrInsufficientMargin, "insufficient_margin"},
		{ErrOrderNotFound, "order_not_found"},
		{ErrDuplicateClientOrderID, "duplicate_client_order_id"},
		{&RuleError{}, "invalid_order"},
		{ErrReduceOnlyRejected, "reduce_only_rejected"},
		{ErrPositionMode, "position_mode"},
		{ErrClockSkew, "clock_skew"},
		{ErrAuth, "auth"},
		{ErrTradingRestricted, "trading_restricted"},
		{ErrTooManyOrders, "too_many_orders"},
		{ErrUnavailable, "unavailable"},
		{ErrClosed, "closed"},
		{ErrUnsupported, "unsupported"},
		{errors.New("x"), "other"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, classifyExecError(tt.err).String(), "%v", tt.err)
	}
}
