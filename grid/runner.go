package grid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
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
// ticks; a few workers carry out the intents (through an
// [exchange.Executor]: rate limits, retries, batches) and send the answers
// back as events. Nothing is placed before the order stream reports ready,
// and before that the runner rebuilds the grid from the venue
// ([Engine.Recover]), so a restart with the same grid ID carries on.
//
// The zero value is not usable; build one with [NewRunner]. Run may be
// called once.
type Runner struct {
	eng    *Engine
	ex     exchange.IExchange
	x      *exchange.Executor
	rules  exchange.Rules
	gridID string
	cfg    runnerConfig
	log    *slog.Logger
}

// RunnerOption configures a Runner.
type RunnerOption interface{ applyRunner(*runnerConfig) }

type runnerOptionFunc func(*runnerConfig)

func (f runnerOptionFunc) applyRunner(c *runnerConfig) { f(c) }

type runnerConfig struct {
	executor     *exchange.Executor
	feed         PriceFeed
	timer        time.Duration
	reconcile    time.Duration
	workers      int
	cancelOnStop bool
	claim        bool
	stopTimeout  time.Duration
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
}

// WithExecutor shares an executor between runners: several grids (one per
// symbol) on one account must share one, since the venue's limits are per
// account and IP. Default: a new executor over the venue.
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

// WithCancelOnStop says whether stopping the runner cancels the grid's live
// entries (default true). Exits are left in place either way: they close
// positions the grid holds.
func WithCancelOnStop(on bool) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.cancelOnStop = on })
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
// books and each slot's held quantity and cost, see [Store]): the runner
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

// WithRunnerLogger sets the runner's logger; nil discards.
func WithRunnerLogger(l *slog.Logger) RunnerOption {
	return runnerOptionFunc(func(c *runnerConfig) { c.logger = l })
}

// WithClock replaces the wall clock (for tests).
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
	c := runnerConfig{timer: time.Second, reconcile: 30 * time.Second, workers: 4, cancelOnStop: true, stopTimeout: 10 * time.Second, now: time.Now}
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
	if c.workers < 1 {
		errs = append(errs, &OptionError{Option: "WithWorkers", Value: fmt.Sprint(c.workers), Reason: "must be at least 1"})
	}
	if c.now == nil {
		errs = append(errs, &OptionError{Option: "WithClock", Value: "nil", Reason: "must be a function"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r := &Runner{eng: eng, ex: ex, x: c.executor, rules: eng.Rules(), gridID: eng.GridID(), cfg: c, log: c.logger}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.x == nil {
		x, err := exchange.NewExecutor(ex)
		if err != nil {
			return nil, err
		}
		r.x = x
	}
	return r, nil
}

// job is a batch of intents for one worker.
type job struct {
	kind      IntentKind
	intents   []Intent
	reconcile bool
}

// answer is what a worker learned: events for the engine, or a snapshot
// (and, with it, any change of the symbol's rules, which halts the grid).
type answer struct {
	events   []OrderEvent
	snapshot *Snapshot
	halt     string // the symbol's rules changed
	pause    string // the symbol is not trading
}

// Run runs the grid until ctx ends or the venue's streams fail. It returns
// only when every goroutine it started has ended; a stop by ctx returns nil.
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()

	user, err := r.ex.SubscribeUserData(ctx)
	if err != nil {
		return fmt.Errorf("grid: order stream: %w", err)
	}
	feed := r.cfg.feed
	if feed == nil {
		mon, err := pricefeed.NewMonitor(r.rules.Symbol)
		if err != nil {
			return err
		}
		src, err := pricefeed.NewExchangeSource(r.ex, r.rules.Symbol, r.rules)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := mon.Run(ctx, src); err != nil && ctx.Err() == nil {
				r.log.Error("grid: price feed ended", "err", err)
			}
		}()
		defer mon.Close()
		feed = mon
	}
	prices := feed.Subscribe(ctx)
	klines, err := r.subscribeKlines(ctx, &wg)
	if err != nil {
		return err
	}

	work := make(chan job)
	answers := make(chan answer, 64)
	for range r.cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-work:
					a := r.do(ctx, j)
					select {
					case answers <- a:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}

	l := &loop{r: r, work: work}
	if err := l.start(ctx, user, prices); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	timer := time.NewTicker(r.cfg.timer)
	defer timer.Stop()
	recon := time.NewTicker(r.cfg.reconcile)
	defer recon.Stop()
	for {
		var send chan job
		var next job
		if len(l.pending) > 0 {
			send, next = work, l.pending[0]
		} else if l.inflight == 0 && len(answers) == 0 && len(user) == 0 && r.cfg.idle != nil {
			r.cfg.idle(IdleState{OrderEvents: l.orderEvents, Prices: l.prices})
		}
		select {
		case <-ctx.Done():
			r.stop(l)
			return nil
		case send <- next:
			l.pending = l.pending[1:]
			l.inflight++
		case p, ok := <-prices:
			if !ok {
				prices = nil // the feed ended; the order stream decides
				continue
			}
			l.prices++
			now := r.cfg.now()
			l.dispatch(r.eng.OnPrice(now, p.Ticks))
			l.observe(risk.Observation{Time: now, Kind: risk.KindPrice, Symbol: r.rules.Symbol, Price: r.rules.TicksToPrice(p.Ticks)})
		case k, ok := <-klines:
			if !ok {
				klines = nil
				continue
			}
			l.observe(risk.Observation{Time: k.CloseTime, Kind: risk.KindKline, Symbol: k.Symbol, Kline: k})
		case ev, ok := <-user:
			if !ok {
				if ctx.Err() != nil {
					r.stop(l)
					return nil
				}
				return errors.New("grid: the order stream ended")
			}
			l.userEvent(ev)
		case a := <-answers:
			l.inflight--
			l.answer(a)
		case <-timer.C:
			now := r.cfg.now()
			l.dispatch(r.eng.OnTimer(now))
			if r.cfg.store != nil && now.Sub(l.saved) >= r.cfg.saveEvery {
				l.saved = now
				r.save(ctx)
			}
			l.observe(risk.Observation{Time: now, Kind: risk.KindTimer})
		case <-recon.C:
			l.pending = append(l.pending, job{reconcile: true})
		}
	}
}

// loop is the owner goroutine's state.
type loop struct {
	r           *Runner
	work        chan job
	pending     []job
	inflight    int
	orderEvents uint64
	prices      uint64
	saved       time.Time // last save to the store
}

// start waits for the first price and the order stream's ready, rebuilds
// the grid from the venue, and starts it.
func (l *loop) start(ctx context.Context, user <-chan exchange.UserEvent, prices <-chan pricefeed.Price) error {
	r := l.r
	ready, priced := false, false
	for !ready || !priced {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p, ok := <-prices:
			if !ok {
				return errors.New("grid: the price feed ended before the first price")
			}
			l.prices++
			r.eng.OnPrice(r.cfg.now(), p.Ticks) // not started: places nothing
			priced = true
		case ev, ok := <-user:
			if !ok {
				return errors.New("grid: the order stream ended before it was ready")
			}
			if ev.Kind == exchange.EventReady {
				ready = true
			}
		}
	}
	if r.cfg.settle > 0 {
		t := time.NewTimer(r.cfg.settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	snap, err := r.snapshot(ctx)
	if err != nil {
		return fmt.Errorf("grid: recovering from the venue: %w", err)
	}
	if r.eng.HasRiskChecks() {
		acct, err := r.x.Account(ctx)
		if err != nil {
			return fmt.Errorf("grid: pre-start checks: %w", err)
		}
		pos, err := r.x.Positions(ctx, r.rules.Symbol)
		if err != nil {
			return fmt.Errorf("grid: pre-start checks: %w", err)
		}
		if err := r.eng.CheckStart(acct, pos); err != nil {
			return err // refuse to start: nothing was placed
		}
	}
	if r.cfg.store != nil {
		st, err := r.cfg.store.Load(ctx)
		switch {
		case errors.Is(err, ErrNoState):
		case err != nil:
			return fmt.Errorf("grid: loading the stored state: %w", err)
		default:
			if err := r.eng.RestoreState(st); err != nil {
				return err
			}
		}
	}
	in, err := r.eng.Recover(r.cfg.now(), snap, r.cfg.claim)
	if err != nil {
		return err
	}
	l.dispatch(in)
	l.dispatch(r.eng.OnStreamReady(r.cfg.now()))
	r.log.Info("grid: started", "grid", r.gridID, "symbol", r.rules.Symbol, "adopted", len(snap.Orders), "baseline", r.eng.Baseline())
	return nil
}

// dispatch turns the engine's intents into jobs: places and cancels of one
// step go out as one batch each, queries one by one.
func (l *loop) dispatch(in []Intent) {
	if len(in) == 0 {
		return
	}
	var places, cancels []Intent
	for _, it := range in {
		switch it.Kind {
		case IntentPlace:
			places = append(places, it)
		case IntentCancel:
			cancels = append(cancels, it)
		case IntentQuery:
			l.pending = append(l.pending, job{kind: IntentQuery, intents: []Intent{it}})
		}
	}
	if len(cancels) > 0 {
		l.pending = append(l.pending, job{kind: IntentCancel, intents: cancels})
	}
	if len(places) > 0 {
		l.pending = append(l.pending, job{kind: IntentPlace, intents: places})
	}
}

func (l *loop) answer(a answer) {
	r := l.r
	if a.halt != "" {
		l.dispatch(r.eng.Halt(r.cfg.now(), a.halt))
	}
	if a.pause != "" && !r.eng.Stats().Paused {
		l.dispatch(r.eng.Pause(r.cfg.now(), a.pause, true)) // entries stop until the host rebuilds the grid
	}
	if a.snapshot != nil {
		l.dispatch(r.eng.Reconcile(r.cfg.now(), *a.snapshot))
		return
	}
	for _, ev := range a.events {
		in, err := r.eng.Apply(r.cfg.now(), ev)
		l.dispatch(in)
		if err != nil && r.eng.NeedsReconcile() {
			l.pending = append(l.pending, job{reconcile: true})
		}
	}
}

// observe feeds the engine's risk monitors, if it has any.
func (l *loop) observe(o risk.Observation) {
	if l.r.eng.HasRiskMonitors() {
		l.dispatch(l.r.eng.ObserveRisk(o))
	}
}

func (l *loop) userEvent(ev exchange.UserEvent) {
	r := l.r
	now := r.cfg.now()
	switch ev.Kind {
	case exchange.EventAccount:
		l.observe(risk.Observation{Time: now, Kind: risk.KindAccount, Account: exchange.Account{Balances: ev.Balances}, Positions: ev.Positions})
	case exchange.EventReady:
		l.dispatch(r.eng.OnStreamReady(now))
		if ev.Reconnected {
			l.pending = append(l.pending, job{reconcile: true})
		}
	case exchange.EventDisconnected:
		r.eng.OnStreamDown(now)
	case exchange.EventMarginCall:
		l.dispatch(r.eng.Halt(now, "margin call on the order stream"))
	case exchange.EventConfig:
		r.log.Warn("grid: account configuration changed", "reason", ev.Reason)
	case exchange.EventOrder:
		l.orderEvents++
		u := ev.Order
		if u.Symbol != "" && u.Symbol != r.rules.Symbol {
			return
		}
		if u.LastFillQty.IsPositive() {
			l.observe(risk.Observation{Time: now, Kind: risk.KindFill, Symbol: r.rules.Symbol, Fill: exchange.Fill{
				Symbol: u.Symbol, OrderID: u.OrderID, ClientOrderID: u.ClientOrderID, TradeID: u.TradeID, Side: u.Side,
				PositionSide: u.PositionSide, Price: u.LastFillPrice, Quantity: u.LastFillQty, Fee: u.Fee, FeeAsset: u.FeeAsset,
				Maker: u.Maker, Kind: u.Kind, Time: u.Time,
			}})
		}
		if u.Kind != exchange.ExecNormal {
			l.dispatch(r.eng.Halt(now, fmt.Sprintf("%s fill on the order stream (%s)", strings.ToLower(u.Kind.String()), u.ClientOrderID)))
			return
		}
		grid, ref, err := ParseClientOrderID(u.ClientOrderID)
		if err != nil || grid != r.gridID {
			return // not this grid's order: never touched
		}
		for _, oe := range r.updateEvents(ref, u) {
			in, err := r.eng.Apply(now, oe)
			l.dispatch(in)
			if err != nil {
				l.pending = append(l.pending, job{reconcile: true})
			}
		}
	}
}

// updateEvents maps one order-stream update to engine events.
func (r *Runner) updateEvents(ref OrderRef, u exchange.OrderUpdate) []OrderEvent {
	cum := r.steps(u.FilledQty)
	switch u.Status {
	case exchange.StatusNew:
		return []OrderEvent{{Ref: ref, Type: OrderAccepted}}
	case exchange.StatusPartiallyFilled, exchange.StatusFilled:
		if !u.LastFillQty.IsPositive() {
			return []OrderEvent{{Ref: ref, Type: OrderAccepted}}
		}
		return []OrderEvent{{Ref: ref, Type: OrderFilled, CumQty: cum, Price: r.ticks(u.LastFillPrice), Fee: r.fee(u.Fee, u.FeeAsset)}}
	case exchange.StatusCanceled:
		return []OrderEvent{{Ref: ref, Type: OrderCanceled, CumQty: cum, Price: r.endPrice(u)}}
	case exchange.StatusExpired:
		return []OrderEvent{{Ref: ref, Type: OrderExpired, CumQty: cum, Price: r.endPrice(u), Reason: u.Reason}}
	case exchange.StatusRejected:
		return []OrderEvent{{Ref: ref, Type: OrderRejected, Reason: u.Reason}}
	}
	return nil
}

// endPrice is the price at which a canceled or expired order's fills not
// yet seen are booked: its average fill price when the venue reports one
// (exact for an order filled at one price, as grid orders are), else its
// limit price (exact for maker fills).
func (r *Runner) endPrice(u exchange.OrderUpdate) exchange.Ticks {
	if u.AvgPrice.IsPositive() {
		return r.ticks(u.AvgPrice)
	}
	return r.ticks(u.Price)
}

// orderEvents maps a queried order to engine events.
func (r *Runner) orderEvents(ref OrderRef, o exchange.Order) []OrderEvent {
	cum := r.steps(o.FilledQty)
	px := r.ticks(o.AvgPrice)
	if px == 0 {
		px = r.ticks(o.Price)
	}
	switch o.Status {
	case exchange.StatusNew, exchange.StatusPartiallyFilled:
		evs := []OrderEvent{{Ref: ref, Type: OrderAccepted}}
		if cum > 0 {
			evs = append(evs, OrderEvent{Ref: ref, Type: OrderFilled, CumQty: cum, Price: px})
		}
		return evs
	case exchange.StatusFilled:
		return []OrderEvent{{Ref: ref, Type: OrderAccepted}, {Ref: ref, Type: OrderFilled, CumQty: cum, Price: px}}
	case exchange.StatusCanceled:
		return []OrderEvent{{Ref: ref, Type: OrderCanceled, CumQty: cum, Price: px}}
	case exchange.StatusExpired:
		return []OrderEvent{{Ref: ref, Type: OrderExpired, CumQty: cum, Price: px}}
	case exchange.StatusRejected:
		return []OrderEvent{{Ref: ref, Type: OrderRejected}}
	}
	return nil
}

// do carries out one job on a worker.
func (r *Runner) do(ctx context.Context, j job) answer {
	if j.reconcile {
		snap, err := r.snapshot(ctx)
		if err != nil {
			r.log.Warn("grid: reconcile failed; will retry", "err", err)
			return answer{}
		}
		a := answer{snapshot: &snap}
		switch rules, err := r.x.Rules(ctx, r.rules.Symbol); {
		case err == nil:
			a.halt = rulesChange(r.rules, rules)
		case errors.Is(err, exchange.ErrTradingRestricted):
			a.pause = "symbol not trading: " + err.Error()
		}
		return a
	}
	var evs []OrderEvent
	switch j.kind {
	case IntentPlace:
		reqs := make([]exchange.OrderRequest, len(j.intents))
		for i, it := range j.intents {
			reqs[i] = it.OrderRequest(r.rules, r.gridID)
		}
		var results []exchange.BatchResult
		if len(reqs) == 1 {
			o, err := r.x.Place(ctx, reqs[0])
			results = []exchange.BatchResult{{Order: o, Err: err}}
		} else {
			results = r.x.PlaceBatch(ctx, reqs)
		}
		for i, res := range results {
			ref := j.intents[i].Ref
			switch {
			case res.Err == nil:
				evs = append(evs, OrderEvent{Ref: ref, Type: OrderAccepted})
			case errors.Is(res.Err, exchange.ErrUnknownOutcome), errors.Is(res.Err, exchange.ErrDuplicateClientOrderID),
				ctx.Err() != nil:
				evs = append(evs, OrderEvent{Ref: ref, Type: OrderUnknown, Reason: res.Err.Error()})
			default:
				r.log.Info("grid: order refused", "ref", ref.String(), "err", res.Err)
				evs = append(evs, OrderEvent{Ref: ref, Type: OrderRejected, Reason: res.Err.Error()})
			}
		}
	case IntentCancel:
		reqs := make([]exchange.CancelRequest, len(j.intents))
		for i, it := range j.intents {
			reqs[i] = exchange.CancelRequest{Symbol: r.rules.Symbol, ClientOrderID: ClientOrderID(r.gridID, it.Ref)}
		}
		var results []exchange.BatchResult
		if len(reqs) == 1 {
			o, err := r.x.Cancel(ctx, reqs[0])
			results = []exchange.BatchResult{{Order: o, Err: err}}
		} else {
			results = r.x.CancelBatch(ctx, reqs)
		}
		for i, res := range results {
			ref := j.intents[i].Ref
			switch {
			case res.Err == nil:
				// The order stream reports the cancel with its final fills.
			case errors.Is(res.Err, exchange.ErrOrderNotFound):
				evs = append(evs, r.query(ctx, ref)...) // already ended: learn how
			case errors.Is(res.Err, exchange.ErrUnknownOutcome):
				evs = append(evs, OrderEvent{Ref: ref, Type: OrderUnknown})
			default:
				r.log.Warn("grid: cancel failed; the timer retries", "ref", ref.String(), "err", res.Err)
			}
		}
	case IntentQuery:
		for _, it := range j.intents {
			evs = append(evs, r.query(ctx, it.Ref)...)
		}
	}
	return answer{events: evs}
}

func (r *Runner) query(ctx context.Context, ref OrderRef) []OrderEvent {
	o, err := r.x.Query(ctx, r.rules.Symbol, ClientOrderID(r.gridID, ref))
	switch {
	case err == nil:
		return r.orderEvents(ref, o)
	case errors.Is(err, exchange.ErrOrderNotFound):
		return []OrderEvent{{Ref: ref, Type: OrderNotFound}}
	default:
		r.log.Warn("grid: query failed; the timer retries", "ref", ref.String(), "err", err)
		return nil
	}
}

// subscribeKlines merges the candle streams the risk monitors asked for.
func (r *Runner) subscribeKlines(ctx context.Context, wg *sync.WaitGroup) (<-chan exchange.Kline, error) {
	if r.cfg.klineInterval == "" || !r.eng.HasRiskMonitors() {
		return nil, nil
	}
	out := make(chan exchange.Kline, 16)
	symbols := append([]string{r.rules.Symbol}, r.cfg.basket...)
	var feeders sync.WaitGroup
	for _, sym := range symbols {
		ch, err := r.ex.SubscribeKlines(ctx, sym, r.cfg.klineInterval)
		if err != nil {
			return nil, fmt.Errorf("grid: klines of %s: %w", sym, err)
		}
		feeders.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer feeders.Done()
			for k := range ch {
				if !k.Closed {
					continue
				}
				select {
				case out <- k:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		feeders.Wait()
		close(out)
	}()
	return out, nil
}

// save writes the engine's state to the store; a failure is logged (the
// next save tries again) and never stops the grid.
func (r *Runner) save(ctx context.Context) {
	if err := r.cfg.store.Save(ctx, r.eng.State()); err != nil {
		r.log.Error("grid: saving the state failed", "err", err)
	}
}

// rulesChange describes how the venue's rules differ from the grid's ("" if
// they do not). A grid built for other rules must not trade: its levels and
// quantities may no longer be valid orders.
func rulesChange(was, now exchange.Rules) string {
	var diffs []string
	for _, f := range []struct {
		name     string
		was, now decimal.Decimal
	}{
		{"tick size", was.TickSize, now.TickSize}, {"step size", was.StepSize, now.StepSize},
		{"min quantity", was.MinQty, now.MinQty}, {"min notional", was.MinNotional, now.MinNotional},
	} {
		if !f.was.Equal(f.now) {
			diffs = append(diffs, f.name+" "+f.was.String()+" → "+f.now.String())
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return "symbol rules changed (" + strings.Join(diffs, ", ") + "): rebuild the grid"
}

// snapshot reads the venue's view of this grid.
func (r *Runner) snapshot(ctx context.Context) (Snapshot, error) {
	orders, err := r.x.OpenOrders(ctx, r.rules.Symbol)
	if err != nil {
		return Snapshot{}, err
	}
	positions, err := r.x.Positions(ctx, r.rules.Symbol)
	if err != nil {
		return Snapshot{}, err
	}
	var snap Snapshot
	for _, o := range orders {
		grid, ref, err := ParseClientOrderID(o.ClientOrderID)
		if err != nil || grid != r.gridID {
			continue
		}
		snap.Orders = append(snap.Orders, VenueOrder{Ref: ref, Side: o.Side, Price: r.ticks(o.Price), Qty: r.steps(o.Quantity), Filled: r.steps(o.FilledQty)})
	}
	for _, p := range positions {
		if p.Symbol == "" || p.Symbol == r.rules.Symbol {
			snap.Position += r.steps(p.Quantity)
		}
	}
	snap.HavePosition = true
	return snap, nil
}

// stop cancels the grid's entries (if configured) with a fresh deadline,
// since the run's context is already over.
func (r *Runner) stop(l *loop) {
	defer func() {
		if r.cfg.store != nil {
			ctx, cancel := context.WithTimeout(context.Background(), r.cfg.stopTimeout)
			defer cancel()
			r.save(ctx)
		}
	}()
	if !r.cfg.cancelOnStop {
		return
	}
	in := r.eng.Pause(r.cfg.now(), "runner stopping", true)
	if len(in) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.stopTimeout)
	defer cancel()
	reqs := make([]exchange.CancelRequest, 0, len(in))
	for _, it := range in {
		if it.Kind == IntentCancel {
			reqs = append(reqs, exchange.CancelRequest{Symbol: r.rules.Symbol, ClientOrderID: ClientOrderID(r.gridID, it.Ref)})
		}
	}
	for i, res := range r.x.CancelBatch(ctx, reqs) {
		if res.Err != nil && !errors.Is(res.Err, exchange.ErrOrderNotFound) {
			r.log.Warn("grid: cancel on stop failed", "order", reqs[i].ClientOrderID, "err", res.Err)
		}
	}
}

func (r *Runner) ticks(d decimal.Decimal) exchange.Ticks {
	return exchange.Ticks(d.Div(r.rules.TickSize).Round(0).IntPart())
}

func (r *Runner) steps(d decimal.Decimal) exchange.Steps {
	return exchange.Steps(d.Div(r.rules.StepSize).Round(0).IntPart())
}

// fee converts a fee to Money when it is in the quote asset (the symbol's
// suffix, e.g. USDT of BTCUSDT, or unnamed); a fee in another asset (BNB)
// cannot be booked in quote money and is logged instead.
func (r *Runner) fee(f decimal.Decimal, asset string) exchange.Money {
	if f.IsZero() {
		return 0
	}
	if asset != "" && !strings.HasSuffix(r.rules.Symbol, asset) {
		r.log.Info("grid: fee in another asset not booked", "fee", f.String(), "asset", asset)
		return 0
	}
	m, err := r.rules.DecimalToMoney(f)
	if err != nil {
		return 0
	}
	return m
}
