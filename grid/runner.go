package grid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/shopspring/decimal"
)

// PriceFeed is where a Runner takes its prices from: a [pricefeed.Monitor]
// (the single price source of a symbol) or anything with its Subscribe.
type PriceFeed interface {
	Subscribe(ctx context.Context) <-chan pricefeed.Price
}

// Runner runs an [Engine] live against a venue: it is the one place in this
// package that starts goroutines, reads the clock and calls the venue. One
// goroutine owns the engine and feeds it, in order, the prices of the feed,
// the venue's order stream, the answers to the engine's intents and timer
// ticks; a few workers carry out the intents through the grid's own
// [Lane] on an [exchange.Executor] (rate limits, retries, batches, turns
// taken fairly with the other grids sharing the executor; a placement
// that goes stale while it waits is dropped unsent) and send the answers
// back as events. Nothing is placed before the order stream reports ready,
// and before that the runner rebuilds the grid from the venue
// ([Engine.Recover]), so a restart with the same grid ID carries on.
//
// The zero value is not usable; build one with [NewRunner]. Run may be
// called once.
type Runner struct {
	feeCarry decimal.Decimal // fees below the money unit, carried (loop goroutine only)
	fund     fundingBook     // funding booked from the venue's history (loop goroutine only)
	eng      *Engine
	ex       exchange.IExchange
	exec     *exchange.Executor // the executor the runner opens its lane on; nil with WithLane
	x        Lane               // the run's lane (set by Run)
	lane     laneHolder         // x, for LaneStats
	// lastPrice is the last price the run took from the feed (ticks; 0
	// before the first), read by placements' validity checks on the
	// executor's goroutines.
	lastPrice atomic.Int64
	// market is the run's feed when it tells its latest price
	// (marketSource): placements' validity is checked against the market,
	// not only against the last price the busy loop took.
	market atomic.Value
	// reconciled counts the reconciliations that read the venue, and
	// reconciledAt is the last one's time (Unix ns): see Reconciliations.
	reconciled, reconciledAt atomic.Int64
	// querying holds the orders (OrderRef) being queried on the
	// workers' goroutines: a cancel that finds its order gone queries it
	// too, and one query of an order at a time is enough.
	querying sync.Map
	rules    exchange.Rules
	// tickP and stepP turn the venue's prices and quantities into ticks
	// and steps without allocating (read-only: any goroutine).
	tickP, stepP exchange.GridParser
	gridID       string
	cfg          runnerConfig
	log          *slog.Logger
}

// RunnerOption configures a Runner.
type RunnerOption interface{ applyRunner(*runnerConfig) }

type runnerOptionFunc func(*runnerConfig)

func (f runnerOptionFunc) applyRunner(c *runnerConfig) { f(c) }

type runnerConfig struct {
	executor     *exchange.Executor
	lane         Lane
	laneSet      bool
	feed         PriceFeed
	timer        time.Duration
	reconcile    time.Duration
	workers      int
	cancelOnStop bool
	claim        bool
	stopTimeout  time.Duration
	maxPlaces    int
	accountPoll  time.Duration
	noFunding    bool // WithFundingBooking(false)
	logger       *slog.Logger
	now          func() time.Time
	idle         func(IdleState)

	klineInterval string
	basket        []string

	store     Store
	saveEvery time.Duration
	settle    time.Duration
}

// IdleState is what a caught-up runner has taken in so far (see WithIdleHook).
type IdleState struct {
	OrderEvents uint64 // order updates taken from the order stream
	Prices      uint64 // prices taken from the feed
	Klines      uint64 // closed candles taken for the risk monitors (WithRiskKlines)
}

// WithExecutor shares an executor between runners: several grids (one per
// symbol) on one account must share one, since the venue's limits are per
// account and IP. The runner opens its own lane on it when Run starts
// (named after the grid ID and symbol: see [exchange.Executor.Lane]),
// sends every request through it, so the executor serves the grids
// fairly, and closes it when Run returns; stopping one grid never touches
// another's lane. Default: a new executor over the venue, with a lane the
// same way. Not with [WithLane].
func WithExecutor(x *exchange.Executor) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.executor = x })
}

// WithPriceFeed sets the price source, typically the symbol's
// [pricefeed.Monitor]. Default: a monitor over the venue's price stream,
// owned by the runner.
func WithPriceFeed(f PriceFeed) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.feed = f })
}

// WithTimerInterval is how often the engine's timer runs (default 1 s).
func WithTimerInterval(d time.Duration) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.timer = d })
}

// WithReconcileInterval is how often the grid is reconciled with the venue
// (default 30 s); it is also reconciled after every reconnection.
func WithReconcileInterval(d time.Duration) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.reconcile = d })
}

// WithWorkers is the number of intents carried out at once (default 4).
func WithWorkers(n int) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.workers = n })
}

// WithCancelOnStop says whether stopping the runner cancels the grid's
// entries (default true): every entry that may exist — acknowledged, still
// in flight, or of unknown outcome — is settled or canceled by its client
// order ID before Run returns (see [WithStopTimeout]). Exits are left in
// place either way: they close positions the grid holds.
func WithCancelOnStop(on bool) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.cancelOnStop = on })
}

// WithAccountPoll makes the runner read the account and the symbol's
// positions for the risk monitors every d (and soon after fills, at most
// every 5 s). Default off (0). Turn it on for the account-drawdown and
// liquidation-distance monitors on a venue whose order stream carries
// neither the account's totals nor a liquidation price (Binance's
// ACCOUNT_UPDATE: use 15 s or so); the reads spend rate limits. Only with
// risk monitors.
func WithAccountPoll(d time.Duration) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.accountPoll = d })
}

// WithStopTimeout bounds how long stopping may take (default 10 s): the
// runner finishes the requests in flight, cancels the entries (see
// [WithCancelOnStop]) and saves the store. What it could not settle by then
// is logged by client order ID and returned in an error matching
// [ErrStopUnsettled]. Give it at least the venue's receive window plus a
// request timeout, so that a placement of unknown outcome can be proven
// absent or canceled.
func WithStopTimeout(d time.Duration) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.stopTimeout = d })
}

// WithMaxQueuedPlacements bounds the placements waiting for a worker
// (default 256 batches): past it, new placements are answered
// [OrderNotSent] at once, and their slots back off. Cancels, queries and
// reconciliations are never dropped; each order has at most one of each
// waiting.
func WithMaxQueuedPlacements(n int) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.maxPlaces = n })
}

// WithClaimPosition lets a restarted grid claim the part of the position
// its live orders do not explain (see [Engine.Recover]). Default false: the
// grid never takes over a position it cannot prove is its own.
func WithClaimPosition(on bool) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.claim = on })
}

// WithRiskKlines subscribes the venue's candles of interval for the grid's
// symbol and the given basket symbols and feeds them to the engine's risk
// monitors (the volume-spike monitor watches a basket). Without it the
// monitors see prices, fills, account updates and timer ticks only.
func WithRiskKlines(interval string, basket ...string) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.klineInterval, c.basket = interval, basket })
}

// WithStore keeps what the venue cannot give back across a restart (the
// books and each slot's held quantity and cost, see [Store], and where
// the runner's funding booking stood, see [FundingHistory]): the runner
// restores it before rebuilding the grid from the venue, saves it every
// saveEvery (default 5 s when zero) and when it stops.
func WithStore(s Store, saveEvery time.Duration) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.store, c.saveEvery = s, saveEvery })
}

// WithRestartSettle makes the runner wait d after the order stream is
// ready and before it reads the venue to rebuild the grid. After a crash,
// a request the old process sent may still be in flight; set d to the
// venue's receive window (Binance: recvWindow) so that it has landed, or
// expired, before the snapshot. Default 0.
func WithRestartSettle(d time.Duration) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.settle = d })
}

// WithRunnerLogger sets the runner's logger. Default: the engine's logger
// ([WithEngineLogger]), which discards unless set.
func WithRunnerLogger(l *slog.Logger) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.logger = l })
}

// WithClock replaces the wall clock (for tests). The engine's times, send
// deadlines and query times are on this clock; send times the executor
// reports (exchange.UnknownOutcomeError.SentAt) are read as on it too, so
// give the executor the same clock (exchange.WithExecutorClock).
func WithClock(now func() time.Time) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.now = now })
}

// WithIdleHook calls fn on the runner's owner goroutine whenever it has
// caught up — nothing queued, no request in flight, no answer or stream
// event waiting — with what it has taken in so far. It lets tests and
// simulations step a live runner in lockstep with a venue; fn must not block.
func WithIdleHook(fn func(IdleState)) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.idle = fn })
}

// NewRunner joins an engine and a venue. The engine must have been built
// for the venue's symbol rules.
func NewRunner(eng *Engine, ex exchange.IExchange, opts ...RunnerOption) (*Runner, error) {
	c := runnerConfig{timer: time.Second, reconcile: 30 * time.Second, workers: 4, cancelOnStop: true, stopTimeout: 10 * time.Second, maxPlaces: 256, now: time.Now}
	for _, o := range opts {
		if o != nil {
			o.applyRunner(&c)
		}
	}
	var errs []error
	if eng == nil {
		errs = append(errs, errors.New("grid: NewRunner: engine is nil"))
	}
	if ex == nil {
		errs = append(errs, errors.New("grid: NewRunner: venue is nil"))
	}
	if c.timer <= 0 {
		errs = append(errs, &OptionError{Option: "WithTimerInterval", Value: c.timer.String(), Reason: "must be positive"})
	}
	if c.reconcile <= 0 {
		errs = append(errs, &OptionError{Option: "WithReconcileInterval", Value: c.reconcile.String(), Reason: "must be positive"})
	}
	if c.settle < 0 {
		errs = append(errs, &OptionError{Option: "WithRestartSettle", Value: c.settle.String(), Reason: "must not be negative"})
	}
	if c.saveEvery < 0 {
		errs = append(errs, &OptionError{Option: "WithStore", Value: c.saveEvery.String(), Reason: "save interval must not be negative"})
	}
	if c.saveEvery == 0 {
		c.saveEvery = 5 * time.Second
	}
	if c.stopTimeout <= 0 {
		errs = append(errs, &OptionError{Option: "WithStopTimeout", Value: c.stopTimeout.String(), Reason: "must be positive"})
	}
	if c.accountPoll < 0 {
		errs = append(errs, &OptionError{Option: "WithAccountPoll", Value: c.accountPoll.String(), Reason: "must not be negative (0: off)"})
	}
	if c.maxPlaces < 1 {
		errs = append(errs, &OptionError{Option: "WithMaxQueuedPlacements", Value: fmt.Sprint(c.maxPlaces), Reason: "must be at least 1"})
	}
	if c.workers < 1 {
		errs = append(errs, &OptionError{Option: "WithWorkers", Value: fmt.Sprint(c.workers), Reason: "must be at least 1"})
	}
	if c.now == nil {
		errs = append(errs, &OptionError{Option: "WithClock", Value: "nil", Reason: "must be a function"})
	}
	if c.laneSet && c.lane == nil {
		errs = append(errs, &OptionError{Option: "WithLane", Value: "nil", Reason: "must be a lane"})
	}
	if c.laneSet && c.executor != nil {
		errs = append(errs, &OptionError{Option: "WithLane and WithExecutor", Value: "both set", Reason: "give the grid's lane or the executor to open it on, not both"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r := &Runner{eng: eng, ex: ex, exec: c.executor, rules: eng.Rules(), gridID: eng.GridID(), cfg: c, log: c.logger}
	if r.log == nil {
		r.log = eng.log // never nil: New gives a discarding one
	}
	// The engine's rules passed Validate: their tick and step are positive.
	r.tickP, _ = r.rules.TickParser()
	r.stepP, _ = r.rules.StepParser()
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.exec == nil && !c.laneSet {
		x, err := exchange.NewExecutor(ex)
		if err != nil {
			return nil, err
		}
		r.exec = x
	}
	// A "not found" proves an order absent only after the venue's receive
	// window: the engine must use the venue's, never a shorter one.
	var venueWindow time.Duration
	if c.laneSet {
		venueWindow = c.lane.ReceiveWindow()
	} else {
		venueWindow = r.exec.ReceiveWindow()
	}
	switch ec := &eng.cfg; {
	case !ec.recvSet:
		ec.recvWindow = venueWindow
	case ec.recvWindow < venueWindow:
		return nil, &OptionError{Option: "WithReceiveWindow", Value: ec.recvWindow.String(),
			Reason: fmt.Sprintf("is shorter than the venue's receive window %s (%s): a query could declare an order absent while it may still arrive", venueWindow, ex.Name())}
	}
	return r, nil
}
