package grid

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// recentFillsWindow is how far back a restart with a stored state reads
// the venue's fills of the grid, to find slots that moved on after the
// state was saved.
const recentFillsWindow = 24 * time.Hour

// job is work for one worker: a batch of intents of one kind, or a
// reconciliation.
type job struct {
	kind      IntentKind
	intents   []Intent
	bands     []priceBand // placements: the prices at which each stays in its slot's window
	reconcile bool
	fees      bool      // read the venue's trades since since, for fees booked without them
	account   bool      // read the account and positions for the risk monitors
	check     bool      // read them for the pre-start checks at a start trigger
	funding   bool      // read the venue's funding history since since (runner_funding.go)
	since, at time.Time // fees: read from; when asked
}

// answer is what a worker learned: events for the engine, or a snapshot
// (and, with it, any change of the symbol's rules, which halts the grid).
type answer struct {
	events     []OrderEvent
	snapshot   *Snapshot
	halt       string // the symbol's rules changed
	pause      string // the symbol is not trading
	reconciled bool   // a reconciliation ended (done or failed)
	trading    bool   // the venue answered the symbol's rules: it trades
	query      bool   // a query ended
	queried    OrderRef
	feesRead   bool // a read of the venue's trades ended
	feesOK     bool // … and succeeded, at feesAt
	feesAt     time.Time
	fills      []exchange.Fill // the venue's trades, for missing fees
	polled     bool            // an account read ended
	account    *exchange.Account
	positions  []exchange.Position
	checked    bool  // a read for the pre-start checks ended (IntentCheckStart)
	checkErr   error // … and failed
	// a read of the venue's funding history ended, with these settlements
	fundingRead bool
	settlements []exchange.FundingSettlement
}

// Run runs the grid until ctx ends or the venue's order stream fails, then
// stops (see [WithCancelOnStop], [WithStopTimeout]). It returns only when
// every goroutine it started has ended; a stop by ctx returns nil, or an
// error matching [ErrStopUnsettled] naming what it could not settle. It
// refuses at once, with an error matching [ErrSymbolShared], to run a
// grid on a symbol another running grid trades on the same account unless
// both were given [WithSharedSymbol], and a second runner of one grid.
func (r *Runner) Run(ctx context.Context) error {
	release, err := r.claimSymbol()
	if err != nil {
		return err
	}
	defer release()
	endLane, err := r.useLane()
	if err != nil {
		return err
	}
	defer endLane() // after the workers ended (deferred calls run last-first)
	// Requests, answers and the order stream outlive ctx by the stop: what
	// is in flight when ctx ends is finished and applied, never dropped.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	runCtx, cancelRun := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancelRun()
		stopWork()
		wg.Wait()
	}()

	user, err := r.ex.SubscribeUserData(workCtx)
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
			if err := mon.Run(runCtx, src); err != nil && runCtx.Err() == nil {
				r.log.Error("grid: price feed ended", "err", err)
			}
		}()
		defer mon.Close()
		feed = mon
	}
	if lp, ok := feed.(latestPricer); ok {
		r.market.Store(marketSource{lp})
	}
	prices := feed.Subscribe(runCtx)
	klines, err := r.subscribeKlines(runCtx, &wg)
	if err != nil {
		return err
	}

	l := &loop{r: r, work: make(chan job), answers: make(chan answer, 64), user: user, queries: map[OrderRef]bool{}}
	for range r.cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-workCtx.Done():
					return
				case j := <-l.work:
					a := r.do(workCtx, j, l.stopping.Load())
					select {
					case l.answers <- a:
					case <-workCtx.Done():
						return
					}
				}
			}
		}()
	}

	if err := l.start(runCtx, user, prices); err != nil {
		if ctx.Err() != nil {
			return r.stop(l, nil)
		}
		return err
	}
	timer := time.NewTicker(r.cfg.timer)
	defer timer.Stop()
	recon := time.NewTicker(r.cfg.reconcile)
	defer recon.Stop()
	for {
		r.fundingSample()
		send, next := l.next()
		if send == nil && l.inflight == 0 && len(l.answers) == 0 && len(l.user) == 0 && r.cfg.idle != nil {
			r.cfg.idle(IdleState{OrderEvents: l.orderEvents, Prices: l.prices, Klines: l.klines})
		}
		select {
		case <-runCtx.Done():
			return r.stop(l, nil)
		case send <- next:
			l.sent()
		case p, ok := <-prices:
			if !ok {
				prices = nil // the feed ended; the order stream decides
				continue
			}
			l.prices++
			r.lastPrice.Store(int64(p.Ticks))
			l.dispatch(r.eng.OnPrice(r.cfg.now(), p.Ticks))
			l.observePrice(p)
		case k, ok := <-klines:
			if !ok {
				klines = nil
				continue
			}
			l.klines++
			l.observe(risk.Observation{Time: k.CloseTime, Kind: risk.KindKline, Symbol: k.Symbol, Kline: k})
		case ev, ok := <-l.user:
			if !ok {
				return r.stop(l, errors.New("grid: the order stream ended"))
			}
			l.userEvent(ev)
		case a := <-l.answers:
			l.inflight--
			l.answer(a)
		case <-timer.C:
			now := r.cfg.now()
			l.dropStale(now)
			l.dispatch(r.eng.OnTimer(now))
			l.pollAccount(now, false)
			l.fundingTimer(now)
			if r.cfg.store != nil && now.Sub(l.saved) >= r.cfg.saveEvery {
				l.saved = now
				r.save(runCtx)
			}
			l.observeTimer(now, feed)
		case <-recon.C:
			l.queueReconcile()
			l.checkReconcileBudget()
		}
	}
}

// loop is the owner goroutine's state. Work waits in two queues: urgent
// (cancels, queries, reconciliations: at most one of each per order, one
// reconciliation) goes first, though after urgentBurst urgent jobs in a row
// a waiting placement goes; placements are bounded (WithMaxQueuedPlacements).
type loop struct {
	r           *Runner
	work        chan job
	answers     chan answer
	user        <-chan exchange.UserEvent
	urgent      []job
	places      []job
	queries     map[OrderRef]bool // queries waiting or running
	reconciling bool              // a reconciliation waiting or running
	readingFees bool              // a read of the venue's trades waiting or running
	polling     bool              // an account read waiting or running
	pollAt      time.Time         // when the account is read next
	polledAt    time.Time         // when it was last read
	feesSince   time.Time         // the next read of trades starts here
	inflight    int
	overBudget  bool        // warned that the reconciliation interval is shorter than the executor can serve
	urgentRun   int         // urgent jobs handed out in a row while placements waited
	stopping    atomic.Bool // read by the workers
	orderEvents uint64
	prices      uint64
	klines      uint64
	saved       time.Time // last save to the store
	lastObs     time.Time // the last risk observation's time
	down        bool      // the order stream is down (disconnected, not ready again)
	// started: the engine holds the stored state and the venue's (start
	// ended); before, it holds neither, and saving it would overwrite the
	// stored state with an empty one.
	started bool
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
			r.lastPrice.Store(int64(p.Ticks))
			r.eng.OnPrice(r.cfg.now(), p.Ticks) // not started: places nothing
			l.observePrice(p)
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
	l.feesSince = r.cfg.now().Add(-time.Minute)
	if r.cfg.settle > 0 {
		t := time.NewTimer(r.cfg.settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if r.cfg.store == nil && r.eng.HasStops() {
		r.log.Warn("grid: a stop (take-profit, stop-loss, time limit) is configured without a store: a restart will not know the grid stopped")
	}
	var st *StoredState
	if r.cfg.store != nil {
		s, err := r.cfg.store.Load(ctx)
		switch {
		case errors.Is(err, ErrNoState):
		case err != nil:
			return fmt.Errorf("grid: loading the stored state: %w", err)
		default:
			st = &s
		}
	}
	// With a stored state, the venue's recent fills tell which slots moved
	// on after it was saved (the venue's truth wins over the store).
	var since time.Time
	if st != nil {
		since = r.cfg.now().Add(-recentFillsWindow)
	}
	snap, err := r.snapshot(ctx, since)
	if err != nil {
		return fmt.Errorf("grid: recovering from the venue: %w", err)
	}
	acct, err := r.x.Account(ctx)
	if err != nil {
		return fmt.Errorf("grid: reading the account before starting: %w", err)
	}
	if want := r.eng.cfg.posMode; acct.PositionMode != want {
		return fmt.Errorf("%w: the grid is set for %s (grid.WithPositionMode) but the %s account is in %s mode: change one of them",
			ErrPositionModeMismatch, want, r.ex.Name(), acct.PositionMode)
	}
	if r.eng.HasRiskChecks() {
		pos, err := r.x.Positions(ctx, r.rules.Symbol)
		if err != nil {
			return fmt.Errorf("grid: pre-start checks: %w", err)
		}
		if err := r.eng.CheckStart(acct, pos); err != nil {
			return err // refuse to start: nothing was placed
		}
	}
	if st != nil {
		if err := r.eng.RestoreState(*st); err != nil {
			return err
		}
	}
	in, err := r.eng.Recover(r.cfg.now(), snap, r.cfg.claim)
	if err != nil {
		return err
	}
	in = append([]Intent(nil), in...)
	// Before any save: the funding mark saved with the state starts here.
	r.startFunding(r.cfg.now(), st, snap, since)
	if r.cfg.store != nil {
		// The first block of generations is stored before any order.
		res := r.eng.UseReservations()
		if err := r.reserve(ctx, res.Ref.Gen); err != nil {
			return fmt.Errorf("grid: reserving client order generations: %w", err)
		}
		r.eng.Reserved(r.cfg.now(), res.Ref.Gen) // not started: places nothing
	}
	l.started = true
	l.dispatch(in)
	l.dispatch(r.eng.OnStreamReady(r.cfg.now()))
	r.log.Info("grid: started", "grid", r.gridID, "symbol", r.rules.Symbol, "adopted", len(snap.Orders), "baseline", r.eng.Baseline())
	return nil
}

// reserve stores a reservation of generations and confirms it to the
// engine; a failure is logged, and the engine asks again on its timer.
func (l *loop) reserve(upTo uint32) {
	r := l.r
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.stopTimeout)
	defer cancel()
	if err := r.reserve(ctx, upTo); err != nil {
		r.log.Error("grid: storing a reservation of client order generations failed; new orders wait", "upTo", upTo, "err", err)
		return
	}
	l.dispatch(r.eng.Reserved(r.cfg.now(), upTo))
}

// reserve saves the engine's state, which carries the reservation the
// engine asked for, so that it is durable before any generation of it is
// used.
func (r *Runner) reserve(ctx context.Context, upTo uint32) error {
	st := r.storedState()
	if st.GenReserved < upTo {
		return fmt.Errorf("grid: the state reserves up to %d, not %d", st.GenReserved, upTo)
	}
	return r.cfg.store.Save(ctx, st)
}

func (l *loop) answer(a answer) {
	r := l.r
	if a.query {
		delete(l.queries, a.queried)
	}
	if a.reconciled {
		l.reconciling = false
		if r.eng.FeesMissing() && !l.readingFees {
			// Fills booked without their fees (from a query or this
			// reconciliation): recover the fees from the venue's trades.
			l.readingFees = true
			l.urgent = append(l.urgent, job{fees: true, since: l.feesSince, at: r.cfg.now()})
		}
	}
	if a.checked {
		err := a.checkErr
		if err == nil {
			err = r.eng.CheckStart(*a.account, a.positions)
		}
		l.dispatch(r.eng.StartChecked(r.cfg.now(), err))
	}
	if a.polled {
		l.polling = false
		if a.account != nil {
			l.observe(risk.Observation{Kind: risk.KindAccount, Account: *a.account, Positions: a.positions})
		}
	}
	if a.fundingRead {
		l.bookSettlements(a.settlements)
	}
	if a.feesRead {
		l.readingFees = false
		if a.feesOK {
			l.feesSince = a.feesAt.Add(-10 * time.Minute) // overlap: trade IDs make it idempotent
		}
		l.recoverFees(a.fills)
	}
	if a.halt != "" {
		l.dispatch(r.eng.Halt(r.cfg.now(), a.halt))
	}
	switch {
	case a.pause != "" && !r.eng.PausedBy(PauseVenue):
		l.dispatch(r.eng.PauseFor(r.cfg.now(), PauseVenue, a.pause, true))
	case a.trading && r.eng.PausedBy(PauseVenue):
		l.dispatch(r.eng.ResumeFor(r.cfg.now(), PauseVenue)) // trading again
	}
	if a.snapshot != nil {
		l.dispatch(r.eng.Reconcile(r.cfg.now(), *a.snapshot))
		return
	}
	for _, ev := range a.events {
		in, err := r.eng.Apply(r.cfg.now(), ev)
		l.dispatch(in)
		if err != nil && r.eng.NeedsReconcile() {
			l.queueReconcile()
		}
	}
}

// pollAccount queues a read of the account and positions for the risk
// monitors when one is due (every WithAccountPoll; soon after a fill: soon
// is true).
func (l *loop) pollAccount(now time.Time, soon bool) {
	r := l.r
	if r.cfg.accountPoll == 0 || !r.eng.HasRiskMonitors() {
		return
	}
	if soon {
		// Soon after a fill, but never more often than every 5 s (or the
		// poll interval): a busy grid must not spend its rate limits here.
		due := now.Add(time.Second)
		if next := l.polledAt.Add(min(5*time.Second, r.cfg.accountPoll)); next.After(due) {
			due = next
		}
		if l.pollAt.IsZero() || due.Before(l.pollAt) {
			l.pollAt = due
		}
		return
	}
	if l.polling || now.Before(l.pollAt) {
		return
	}
	l.polling, l.pollAt, l.polledAt = true, now.Add(r.cfg.accountPoll), now
	l.urgent = append(l.urgent, job{account: true})
}

// recoverFees books the fees of the grid's trades that were booked
// without them (the engine knows which; a trade already booked is skipped).
func (l *loop) recoverFees(fills []exchange.Fill) {
	r := l.r
	now := r.cfg.now()
	for _, f := range fills {
		g, ref, err := ParseClientOrderID(f.ClientOrderID)
		if err != nil || g != r.gridID || f.TradeID == "" {
			continue
		}
		if f.FeeAsset != "" && !strings.HasSuffix(r.rules.Symbol, f.FeeAsset) {
			r.eng.NoteUnbookedFee(f.TradeID, f.FeeAsset, f.Fee)
			continue
		}
		fee, err := r.rules.DecimalToMoney(f.Fee)
		if err != nil {
			r.log.Error("grid: fee cannot be booked", "trade", f.TradeID, "fee", f.Fee.String(), "err", err)
			continue
		}
		in, _ := r.eng.Apply(now, OrderEvent{Ref: ref, Type: OrderFee, TradeID: f.TradeID, CumQty: r.steps(f.Quantity), Fee: fee})
		l.dispatch(in)
	}
}

// liveFeed is a price feed that tells its liveness apart from price
// changes (pricefeed.Monitor does).
type liveFeed interface{ Liveness() pricefeed.Liveness }

// observeTimer feeds the monitors on the timer: the feed's liveness when it
// tells it (so the stale-feed monitor tells a quiet but live feed from a
// dead one), else a plain timer observation; and the grid's own books at
// the last price, for the grid drawdown, net of the funding booked (see
// [FundingHistory]).
func (l *loop) observeTimer(now time.Time, feed PriceFeed) {
	r := l.r
	if !r.eng.HasRiskMonitors() {
		return
	}
	if lf, ok := feed.(liveFeed); ok {
		l.observe(TimerObservation(now, r.rules, lf.Liveness()))
	} else {
		l.observe(risk.Observation{Time: now, Kind: risk.KindTimer})
	}
	if p := r.eng.Price(); p > 0 {
		l.observe(risk.Observation{Time: now, Kind: risk.KindBooks, Symbol: r.rules.Symbol, Books: r.eng.RiskBooks(p, r.eng.books.Funding)})
	}
}

// observePrice feeds a price to the risk monitors, stamped with its own time.
func (l *loop) observePrice(p pricefeed.Price) {
	l.observe(risk.Observation{Time: p.Time, Kind: risk.KindPrice, Symbol: l.r.rules.Symbol, Price: l.r.rules.TicksToPrice(p.Ticks)})
}

// observe feeds the engine's risk monitors, if it has any. Every
// observation is stamped from one clock: the event's own time (a price's,
// a candle's close, a fill's) where it has one, else the runner's; and
// never earlier than the one before, since monitors take them in time
// order (a venue's clock and ours may disagree by a little).
func (l *loop) observe(o risk.Observation) {
	if o.Time.IsZero() {
		o.Time = l.r.cfg.now()
	}
	if o.Time.Before(l.lastObs) {
		o.Time = l.lastObs
	}
	l.lastObs = o.Time
	if l.r.eng.HasRiskMonitors() {
		l.dispatch(l.r.eng.ObserveRisk(o))
	}
}

func (l *loop) userEvent(ev exchange.UserEvent) {
	r := l.r
	now := r.cfg.now()
	switch ev.Kind {
	case exchange.EventAccount:
		l.observe(risk.Observation{Time: ev.Time, Kind: risk.KindAccount, Account: exchange.Account{Balances: ev.Balances}, Positions: ev.Positions})
	case exchange.EventReady:
		l.down = false
		l.dispatch(r.eng.OnStreamReady(now))
		if ev.Reconnected {
			l.queueReconcile()
		}
	case exchange.EventDisconnected:
		l.down = true
		if !l.stopping.Load() || !r.cfg.cancelOnStop {
			r.eng.OnStreamDown(now) // a stop that cancels needs no stream (see stop)
		}
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
			l.pollAccount(now, true)
			l.observe(risk.Observation{Time: u.Time, Kind: risk.KindFill, Symbol: r.rules.Symbol, Fill: exchange.Fill{
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
				l.queueReconcile()
			}
		}
	}
}
