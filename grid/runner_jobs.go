package grid

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

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
		return []OrderEvent{{Ref: ref, Type: OrderFilled, CumQty: cum, Price: r.ticks(u.LastFillPrice), TradeID: u.TradeID, Fee: r.fee(u.TradeID, u.Fee, u.FeeAsset)}}
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
func (r *Runner) do(ctx context.Context, j job, stopping bool) answer {
	if j.reconcile {
		a := answer{reconciled: true}
		snap, err := r.snapshot(ctx, time.Time{})
		if err != nil {
			r.log.Warn("grid: reconcile failed; will retry", "err", err)
			return a
		}
		a.snapshot = &snap
		r.reconciled.Add(1)
		r.reconciledAt.Store(r.cfg.now().UnixNano())
		switch rules, err := r.x.Rules(ctx, r.rules.Symbol); {
		case err == nil:
			a.halt, a.trading = rulesChange(r.rules, rules), true
		case errors.Is(err, exchange.ErrTradingRestricted):
			a.pause = "symbol not trading: " + err.Error()
		}
		return a
	}
	if j.check {
		acct, err := r.x.Account(ctx)
		if err != nil {
			return answer{checked: true, checkErr: fmt.Errorf("grid: reading the account for the pre-start checks: %w", err)}
		}
		pos, err := r.x.Positions(ctx, r.rules.Symbol)
		if err != nil {
			return answer{checked: true, checkErr: fmt.Errorf("grid: reading the positions for the pre-start checks: %w", err)}
		}
		return answer{checked: true, account: &acct, positions: pos}
	}
	if j.funding {
		return r.readFunding(ctx, j.since)
	}
	if j.account {
		acct, err := r.x.Account(ctx)
		if err != nil {
			r.log.Warn("grid: reading the account for the risk monitors failed; will retry", "err", err)
			return answer{polled: true}
		}
		pos, err := r.x.Positions(ctx, r.rules.Symbol)
		if err != nil {
			r.log.Warn("grid: reading the positions for the risk monitors failed; will retry", "err", err)
			return answer{polled: true}
		}
		return answer{polled: true, account: &acct, positions: pos}
	}
	if j.fees {
		fills, err := r.x.Fills(ctx, r.rules.Symbol, j.since)
		if err != nil {
			r.log.Warn("grid: reading the venue's trades for missing fees failed; will retry", "err", err)
			return answer{feesRead: true}
		}
		return answer{feesRead: true, fills: fills, feesOK: true, feesAt: j.at}
	}
	switch j.kind {
	case IntentPlace:
		return answer{events: r.place(ctx, j.intents, j.bands)}
	case IntentCancel:
		return answer{events: r.cancel(ctx, j.intents, stopping)}
	case IntentQuery:
		var evs []OrderEvent
		for _, it := range j.intents {
			evs = append(evs, r.query(ctx, it.Ref)...)
		}
		return answer{events: evs, queried: j.intents[0].Ref, query: true}
	}
	return answer{}
}

// place sends a batch of placements, each no later than its SendBy and
// only while the price stays in its band (bands[i], see placeBand; nil:
// no band): one already past either is answered OrderNotSent without
// being sent, and the executor drops the rest unsent if they cannot leave
// in time or the price leaves the band of any of them while they wait
// (exchange.WithSendWithin, exchange.WithValidUntil: a batch is sent
// whole or not at all, so the still-valid ones come back unsent too and
// the engine places them again). Market orders (the initial position, a
// hard stop's close) are never dropped for the price — that would end the
// initial position or the close — so they go as a batch of their own,
// ahead of the limits, which keep their bands.
func (r *Runner) place(ctx context.Context, intents []Intent, bands []priceBand) []OrderEvent {
	if markets, limits, limitBands := splitMarkets(intents, bands); len(markets) > 0 && len(limits) > 0 {
		evs := r.place(ctx, markets, nil)
		return append(evs, r.place(ctx, limits, limitBands)...)
	}
	now := r.cfg.now()
	price := r.marketPrice()
	var evs []OrderEvent
	var send []Intent
	budget := time.Duration(-1)
	band := anyPrice
	for i, it := range intents {
		b := anyPrice
		if bands != nil {
			b = bands[i]
		}
		if why := staleness(it, b, price, now); why != "" {
			evs = append(evs, OrderEvent{Ref: it.Ref, Type: OrderNotSent, Reason: why})
			continue
		}
		if left := it.SendBy.Sub(now); !it.SendBy.IsZero() && (budget < 0 || left < budget) {
			budget = left
		}
		send, band = append(send, it), band.and(b)
	}
	if len(send) == 0 {
		return evs
	}
	if budget >= 0 {
		ctx = exchange.WithSendWithin(ctx, budget)
	}
	if band != anyPrice {
		// A batch is dropped whole. Market orders have no band (placeBand)
		// and go in batches of their own (above): never dropped for the
		// price, whose drop would end the initial position or a close.
		ctx = exchange.WithValidUntil(ctx, func() bool { return band.holds(r.marketPrice()) })
	}
	reqs := make([]exchange.OrderRequest, len(send))
	for i, it := range send {
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
		ref := send[i].Ref
		var u *exchange.UnknownOutcomeError
		switch {
		case res.Err == nil:
			evs = append(evs, OrderEvent{Ref: ref, Type: OrderAccepted})
		case errors.Is(res.Err, exchange.ErrLaneFull):
			// Back-pressure: the lane holds its bound of placements. The
			// slot backs off (OrderNotSent); LaneStats counts it (Full).
			r.log.Debug("grid: lane full: order not sent", "ref", ref.String(), "err", res.Err)
			evs = append(evs, OrderEvent{Ref: ref, Type: OrderNotSent, Reason: res.Err.Error()})
		case errors.Is(res.Err, exchange.ErrNotSent):
			r.log.Info("grid: order dropped unsent", "ref", ref.String(), "err", res.Err)
			evs = append(evs, OrderEvent{Ref: ref, Type: OrderNotSent, Reason: res.Err.Error()})
		case errors.As(res.Err, &u):
			evs = append(evs, OrderEvent{Ref: ref, Type: OrderUnknown, SentAt: u.SentAt, Reason: res.Err.Error()})
		case errors.Is(res.Err, exchange.ErrUnknownOutcome), errors.Is(res.Err, exchange.ErrDuplicateClientOrderID),
			ctx.Err() != nil:
			evs = append(evs, OrderEvent{Ref: ref, Type: OrderUnknown, Reason: res.Err.Error()})
		default:
			r.log.Debug("grid: order refused", "ref", ref.String(), "err", res.Err)
			evs = append(evs, OrderEvent{Ref: ref, Type: OrderRejected, Reason: res.Err.Error(), Cause: res.Err})
		}
	}
	return evs
}

// splitMarkets separates a batch's market orders from its limit orders
// and their bands (nil bands: none); with no market order it returns
// intents as limits, without copying.
func splitMarkets(intents []Intent, bands []priceBand) (markets, limits []Intent, limitBands []priceBand) {
	for _, it := range intents {
		if it.Market {
			markets = append(markets, it)
		}
	}
	if len(markets) == 0 {
		return nil, intents, bands
	}
	for i, it := range intents {
		if it.Market {
			continue
		}
		limits = append(limits, it)
		if bands != nil {
			limitBands = append(limitBands, bands[i])
		}
	}
	return markets, limits, limitBands
}

// cancel cancels a batch of orders by client order ID. While the runner
// stops, a cancel's answer settles its order (the order stream may not
// report it before the runner ends); otherwise the order stream reports it
// with its final fills and fees.
func (r *Runner) cancel(ctx context.Context, intents []Intent, stopping bool) []OrderEvent {
	reqs := make([]exchange.CancelRequest, len(intents))
	for i, it := range intents {
		reqs[i] = exchange.CancelRequest{Symbol: r.rules.Symbol, ClientOrderID: ClientOrderID(r.gridID, it.Ref)}
	}
	var results []exchange.BatchResult
	if len(reqs) == 1 {
		o, err := r.x.Cancel(ctx, reqs[0])
		results = []exchange.BatchResult{{Order: o, Err: err}}
	} else {
		results = r.x.CancelBatch(ctx, reqs)
	}
	var evs []OrderEvent
	for i, res := range results {
		ref := intents[i].Ref
		switch {
		case res.Err == nil:
			if stopping && res.Order.Status.Terminal() {
				evs = append(evs, r.orderEvents(ref, res.Order)...)
			}
		case errors.Is(res.Err, exchange.ErrOrderNotFound):
			evs = append(evs, r.query(ctx, ref)...) // already ended: learn how
		case errors.Is(res.Err, exchange.ErrUnknownOutcome):
			evs = append(evs, OrderEvent{Ref: ref, Type: OrderUnknown})
		default:
			r.log.Warn("grid: cancel failed; the timer retries", "ref", ref.String(), "err", res.Err)
		}
	}
	return evs
}

// query looks an order up; a "not found" carries when it was asked. While
// another worker queries the same order (the loop's query, and a cancel
// that found the order gone), it asks nothing and returns nothing: the
// other's answer reaches the engine, and the engine's timer queries again
// should that one fail.
func (r *Runner) query(ctx context.Context, ref OrderRef) []OrderEvent {
	if _, busy := r.querying.LoadOrStore(ref, struct{}{}); busy {
		return nil
	}
	defer r.querying.Delete(ref)
	asked := r.cfg.now()
	o, err := r.x.Query(ctx, r.rules.Symbol, ClientOrderID(r.gridID, ref))
	switch {
	case err == nil:
		return r.orderEvents(ref, o)
	case errors.Is(err, exchange.ErrOrderNotFound):
		return []OrderEvent{{Ref: ref, Type: OrderNotFound, AskedAt: asked}}
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
	if err := r.cfg.store.Save(ctx, r.storedState()); err != nil {
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

// snapshot reads the venue's view of this grid: its live orders, the
// position and, when since is not zero, its fills since then.
func (r *Runner) snapshot(ctx context.Context, since time.Time) (Snapshot, error) {
	at := r.cfg.now()
	orders, err := r.x.OpenOrders(ctx, r.rules.Symbol)
	if err != nil {
		return Snapshot{}, err
	}
	positions, err := r.x.Positions(ctx, r.rules.Symbol)
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{At: at}
	for _, o := range orders {
		grid, ref, err := ParseClientOrderID(o.ClientOrderID)
		if err != nil || grid != r.gridID {
			continue
		}
		snap.Orders = append(snap.Orders, VenueOrder{Ref: ref, Side: o.Side, Price: r.ticks(o.Price), Qty: r.steps(o.Quantity), Filled: r.steps(o.FilledQty)})
	}
	for _, p := range positions {
		if p.Symbol == "" || p.Symbol == r.rules.Symbol {
			q := r.steps(p.Quantity)
			snap.Position += q
			switch p.PositionSide {
			case exchange.PositionLong:
				snap.PositionLong, snap.HaveSides = snap.PositionLong+absSteps(q), true
			case exchange.PositionShort:
				snap.PositionShort, snap.HaveSides = snap.PositionShort+absSteps(q), true
			}
		}
	}
	snap.HavePosition = true
	if !since.IsZero() {
		fills, err := r.x.Fills(ctx, r.rules.Symbol, since)
		if err != nil {
			return Snapshot{}, fmt.Errorf("recent fills: %w", err)
		}
		for _, f := range fills {
			grid, ref, err := ParseClientOrderID(f.ClientOrderID)
			if err != nil || grid != r.gridID {
				continue
			}
			snap.Fills = append(snap.Fills, r.venueFill(ref, f))
		}
	}
	return snap, nil
}

// ticks and steps convert a venue's price and quantity, rounded to the
// nearest increment (half away from zero), without allocating for every
// real figure; a figure the parser cannot take (none real) goes through
// decimal division.
func (r *Runner) ticks(d decimal.Decimal) exchange.Ticks {
	if n, err := r.tickP.FromDecimal(d); err == nil {
		return exchange.Ticks(n)
	}
	return exchange.Ticks(d.Div(r.rules.TickSize).Round(0).IntPart())
}

func (r *Runner) steps(d decimal.Decimal) exchange.Steps {
	if n, err := r.stepP.FromDecimal(d); err == nil {
		return exchange.Steps(n)
	}
	return exchange.Steps(d.Div(r.rules.StepSize).Round(0).IntPart())
}

// fee converts a trade's fee to Money when it is in the quote asset (the
// symbol's suffix, e.g. USDT of BTCUSDT, or unnamed). The venue books fees
// finer than the symbol's money unit (Binance: 8 decimals): what a fee
// has below the unit is carried to the next, so the booked total stays
// within one unit of the venue's. A fee in another asset (BNB) cannot be
// booked in quote money: the engine keeps it per asset
// (Stats.UnbookedFees). Called on the loop goroutine only.
func (r *Runner) fee(tradeID string, f decimal.Decimal, asset string) exchange.Money {
	if f.IsZero() {
		return 0
	}
	if asset != "" && !strings.HasSuffix(r.rules.Symbol, asset) {
		r.log.Info("grid: fee in another asset kept apart", "fee", f.String(), "asset", asset, "trade", tradeID)
		r.eng.NoteUnbookedFee(tradeID, asset, f)
		return 0
	}
	total := f.Add(r.feeCarry)
	m, err := r.rules.DecimalToMoney(total)
	if err != nil {
		r.log.Error("grid: fee cannot be booked", "fee", f.String(), "err", err)
		return 0
	}
	r.feeCarry = total.Sub(r.rules.MoneyToDecimal(m))
	return m
}
