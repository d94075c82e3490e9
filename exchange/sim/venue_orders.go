package sim

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// PlaceOrder places one order. LIMIT orders take GTC, GTX (post-only:
// rejected with exchange.ErrPostOnlyRejected when it would cross) or IOC
// (what does not fill at once expires); MARKET orders fill at once at the
// current price. A live order with the same ClientOrderID fails with
// exchange.ErrDuplicateClientOrderID; an empty one gets "sim-<id>". The
// returned Order is the state after any immediate fill. Before the first
// SetPrice orders fail with [ErrNoPrice].
func (v *Venue) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	if err := v.begin(ctx); err != nil {
		return exchange.Order{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.placeLocked(req)
}

func (v *Venue) placeLocked(req exchange.OrderRequest) (exchange.Order, error) {
	if v.closed {
		return exchange.Order{}, exchange.ErrClosed
	}
	now := v.clock()
	spec, err := v.spec(req)
	if err != nil {
		return exchange.Order{}, err
	}
	if vo, ok := v.byClient[req.ClientOrderID]; ok && req.ClientOrderID != "" && vo.ord.Status.Live() {
		return exchange.Order{}, fmt.Errorf("sim: client order id %q is live (order %s): %w", req.ClientOrderID, vo.ord.OrderID, exchange.ErrDuplicateClientOrderID)
	}
	fault := v.faults.request(opPlace, now)
	if fault.err != nil && !fault.afterEffect {
		return exchange.Order{}, fault.err
	}
	id, err := v.core.Place(now, spec)
	if err != nil {
		v.log.Debug("sim: order rejected", "clientOrderId", req.ClientOrderID, "err", err)
		return exchange.Order{}, err
	}
	vo := &venueOrder{ord: exchange.Order{
		Symbol: v.rules.Symbol, OrderID: strconv.FormatUint(id, 10), ClientOrderID: req.ClientOrderID,
		Side: req.Side, PositionSide: req.PositionSide, Type: req.Type, TimeInForce: req.TimeInForce,
		Price: v.rules.TicksToPrice(spec.Price), Quantity: v.rules.StepsToQty(spec.Qty), FilledQty: decimal.Zero, AvgPrice: decimal.Zero,
		Status: exchange.StatusNew, ReduceOnly: req.ReduceOnly, UpdateTime: now,
	}, ioc: req.TimeInForce == exchange.IOC && req.Type == exchange.Limit}
	if req.Type == exchange.Market {
		vo.ord.Price = decimal.Zero
		vo.ord.TimeInForce = exchange.GTC
	}
	if vo.ord.ClientOrderID == "" {
		vo.ord.ClientOrderID = "sim-" + vo.ord.OrderID
	}
	v.orders[id] = vo
	v.byClient[vo.ord.ClientOrderID] = vo
	v.sendOrder(vo, now, nil)
	if _, live := v.core.Order(id); live && vo.ioc {
		if err := v.core.Cancel(now, id); err != nil {
			return exchange.Order{}, fmt.Errorf("sim: expire IOC remainder: %w", err)
		}
	}
	v.drain(now)
	v.log.Debug("sim: order placed", "orderId", vo.ord.OrderID, "clientOrderId", vo.ord.ClientOrderID, "status", vo.ord.Status)
	if fault.err != nil {
		return exchange.Order{}, fault.err
	}
	return vo.ord, nil
}

// clientIDOK is Binance's rule for client order IDs: 1–36 characters of
// [.A-Z:/a-z0-9_-].
func clientIDOK(s string) bool {
	if len(s) > 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == ':' || c == '/' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// spec converts a request to an OrderSpec; errors name the field and value.
func (v *Venue) spec(req exchange.OrderRequest) (OrderSpec, error) {
	var errs []error
	if err := v.checkSymbol(req.Symbol); err != nil {
		errs = append(errs, fmt.Errorf("sim: order: %w: %w", err, exchange.ErrInvalidOrder))
	}
	if !clientIDOK(req.ClientOrderID) {
		errs = append(errs, &exchange.RuleError{Symbol: v.rules.Symbol, Field: "clientOrderId", Value: strconv.Quote(req.ClientOrderID), Reason: "must be at most 36 characters of [.A-Z:/a-z0-9_-]"})
	}
	spec := OrderSpec{Side: req.Side, PositionSide: req.PositionSide, ReduceOnly: req.ReduceOnly}
	switch req.Type {
	case exchange.Market:
		spec.Market = true
	case exchange.Limit:
		switch req.TimeInForce {
		case exchange.GTC, exchange.IOC:
		case exchange.PostOnly:
			spec.PostOnly = true
		default:
			errs = append(errs, &exchange.RuleError{Symbol: v.rules.Symbol, Field: "timeInForce", Value: req.TimeInForce.String(), Reason: "is not supported"})
		}
		if !req.Price.IsPositive() {
			errs = append(errs, &exchange.RuleError{Symbol: v.rules.Symbol, Field: "price", Value: req.Price.String(), Reason: "must be positive"})
		} else if p, err := v.rules.PriceToTicks(req.Price); err != nil {
			errs = append(errs, err)
		} else {
			spec.Price = p
		}
	default:
		errs = append(errs, &exchange.RuleError{Symbol: v.rules.Symbol, Field: "type", Value: req.Type.String(), Reason: "is not supported"})
	}
	if !req.Quantity.IsPositive() {
		errs = append(errs, &exchange.RuleError{Symbol: v.rules.Symbol, Field: "quantity", Value: req.Quantity.String(), Reason: "must be positive"})
	} else if q, err := v.rules.QtyToSteps(req.Quantity); err != nil {
		errs = append(errs, err)
	} else {
		spec.Qty = q
	}
	return spec, errors.Join(errs...)
}

// CancelOrder cancels a live order by OrderID, or by ClientOrderID when
// OrderID is empty. An unknown or closed order fails with
// exchange.ErrOrderNotFound. It returns the canceled order.
func (v *Venue) CancelOrder(ctx context.Context, req exchange.CancelRequest) (exchange.Order, error) {
	if err := v.begin(ctx); err != nil {
		return exchange.Order{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cancelLocked(req)
}

func (v *Venue) cancelLocked(req exchange.CancelRequest) (exchange.Order, error) {
	if v.closed {
		return exchange.Order{}, exchange.ErrClosed
	}
	if err := v.checkSymbol(req.Symbol); err != nil {
		return exchange.Order{}, fmt.Errorf("sim: cancel: %w", err)
	}
	now := v.clock()
	vo := v.find(req)
	if vo == nil || !vo.ord.Status.Live() {
		return exchange.Order{}, fmt.Errorf("sim: cancel order id %q client id %q: %w", req.OrderID, req.ClientOrderID, exchange.ErrOrderNotFound)
	}
	fault := v.faults.request(opCancel, now)
	if fault.err != nil && !fault.afterEffect {
		return exchange.Order{}, fault.err
	}
	id, _ := strconv.ParseUint(vo.ord.OrderID, 10, 64)
	if err := v.core.Cancel(now, id); err != nil {
		return exchange.Order{}, err
	}
	v.drain(now)
	if fault.err != nil {
		return exchange.Order{}, fault.err
	}
	return vo.ord, nil
}

func (v *Venue) find(req exchange.CancelRequest) *venueOrder {
	if req.OrderID != "" {
		id, err := strconv.ParseUint(req.OrderID, 10, 64)
		if err != nil {
			return nil
		}
		return v.orders[id]
	}
	if req.ClientOrderID == "" {
		return nil
	}
	return v.byClient[req.ClientOrderID]
}

// MaxBatch is the largest batch PlaceOrders and CancelOrders take: 5, as Binance.
func (v *Venue) MaxBatch() int { return 5 }

// PlaceOrders places up to MaxBatch orders in one request, in order, and
// returns one result per request. A batch that is empty or too large fails
// as a whole with exchange.ErrInvalidOrder.
func (v *Venue) PlaceOrders(ctx context.Context, reqs []exchange.OrderRequest) ([]exchange.BatchResult, error) {
	return batch(v, ctx, "orders", reqs, v.placeLocked)
}

// CancelOrders cancels up to MaxBatch orders in one request and returns one
// result per request. A batch that is empty or too large fails as a whole
// with exchange.ErrInvalidOrder.
func (v *Venue) CancelOrders(ctx context.Context, reqs []exchange.CancelRequest) ([]exchange.BatchResult, error) {
	return batch(v, ctx, "cancels", reqs, v.cancelLocked)
}

// batch runs one request of up to MaxBatch items under the venue's lock,
// one result per item; an empty or too large batch fails as a whole.
func batch[R any](v *Venue, ctx context.Context, what string, reqs []R, one func(R) (exchange.Order, error)) ([]exchange.BatchResult, error) {
	if len(reqs) == 0 || len(reqs) > v.MaxBatch() {
		return nil, fmt.Errorf("sim: batch of %d %s (1 to %d): %w", len(reqs), what, v.MaxBatch(), exchange.ErrInvalidOrder)
	}
	if err := v.begin(ctx); err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]exchange.BatchResult, len(reqs))
	for i, r := range reqs {
		out[i].Order, out[i].Err = one(r)
	}
	return out, nil
}

// CancelAllOrders cancels every live order of the symbol.
func (v *Venue) CancelAllOrders(ctx context.Context, symbol string) error {
	if err := v.checkSymbol(symbol); err != nil {
		return err
	}
	if err := v.begin(ctx); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return exchange.ErrClosed
	}
	now := v.clock()
	for _, o := range v.core.OpenOrders() {
		if err := v.core.Cancel(now, o.ID); err != nil {
			return err
		}
	}
	v.drain(now)
	return nil
}
