package examplevenue

import (
	"context"
	"slices"
	"time"

	"github.com/shopspring/decimal"
)

// Place places an order and returns it as it stands after any immediate fill.
func (s *Server) Place(ctx context.Context, req PlaceRequest) (NativeOrder, error) {
	return call(ctx, s, func() (NativeOrder, error) {
		if err := s.spendRate(); err != nil {
			return NativeOrder{}, err
		}
		o, err := s.check(req)
		if err != nil {
			return NativeOrder{}, err
		}
		now := s.clock()
		s.nextOrder++
		o.id, o.state, o.updated = s.nextOrder, StateLive, now
		s.orders[o.id] = o
		if o.clientID != "" {
			s.byClient[o.clientID] = o
		}
		s.publishOrder(o, nil) // "live" first, always
		crosses := o.isMarket || (o.buy && o.px.GreaterThanOrEqual(s.price)) || (!o.buy && o.px.LessThanOrEqual(s.price))
		switch {
		case crosses && o.typ == "post_only":
			s.cancel(now, o, SourcePostOnly)
		case crosses:
			s.fill(now, o, o.sz, s.price, false)
		case o.typ == "ioc":
			s.cancel(now, o, SourceIOC)
		default:
			s.resting = append(s.resting, o)
		}
		return s.native(o), nil
	})
}

// check validates a new order against the instrument and the account.
func (s *Server) check(req PlaceRequest) (*order, error) {
	if req.Symbol != s.inst.Symbol {
		return nil, apiErr(CodeBadSymbol, "instrument %q does not exist", req.Symbol)
	}
	if req.Side != "buy" && req.Side != "sell" {
		return nil, apiErr(CodeBadRequest, "side %q must be buy or sell", req.Side)
	}
	if !slices.Contains([]string{"limit", "market", "post_only", "ioc"}, req.Type) {
		return nil, apiErr(CodeBadRequest, "type %q must be limit, market, post_only or ioc", req.Type)
	}
	if !validClientID(req.ClientID) {
		return nil, apiErr(CodeBadRequest, "client id %q must be 1 to 36 of [A-Za-z0-9_-]", req.ClientID)
	}
	if prev := s.byClient[req.ClientID]; req.ClientID != "" && prev != nil && (prev.state == StateLive || prev.state == StatePartiallyFilled) {
		return nil, apiErr(CodeDuplicateID, "client id %q is live on order %d", req.ClientID, prev.id)
	}
	if s.price.IsZero() {
		return nil, apiErr(CodeNoMarket, "%s has no price yet", s.inst.Symbol)
	}
	o := &order{symbol: req.Symbol, clientID: req.ClientID, side: req.Side, typ: req.Type, reduceOnly: req.ReduceOnly,
		buy: req.Side == "buy", isMarket: req.Type == "market", filled: decimal.Zero, notional: decimal.Zero}
	px := s.price
	if !o.isMarket {
		p, err := decimal.NewFromString(req.Px)
		if err != nil || !p.IsPositive() || !p.Mod(s.tick).IsZero() {
			return nil, apiErr(CodeBadPrice, "price %q must be a positive multiple of %s", req.Px, s.tick)
		}
		o.px, px = p, p
	}
	sz, err := decimal.NewFromString(req.Sz)
	if err != nil || !sz.IsPositive() || !sz.Mod(s.lot).IsZero() || sz.LessThan(s.minSz) {
		return nil, apiErr(CodeBadSize, "size %q must be a multiple of %s of at least %s", req.Sz, s.lot, s.minSz)
	}
	if n := px.Mul(sz); n.LessThan(s.minNtl) {
		return nil, apiErr(CodeBadSize, "notional %s is below %s", n, s.minNtl)
	}
	o.sz = sz
	if len(s.resting) >= s.maxOpen {
		return nil, apiErr(CodeTooManyOrders, "%d open orders is the most", s.maxOpen)
	}
	if o.reduceOnly {
		if s.pos.IsZero() || (o.buy == s.pos.IsPositive()) {
			return nil, apiErr(CodeReduceOnly, "a reduce-only %s would not reduce position %s", o.side, s.pos)
		}
		return o, nil
	}
	if need, free := px.Mul(sz).Div(s.leverage), s.available(); need.GreaterThan(free) {
		return nil, apiErr(CodeInsufficient, "order margin %s exceeds available %s", need.Round(2), free.Round(2))
	}
	return o, nil
}

func validClientID(id string) bool {
	if len(id) > 36 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// spendRate counts an order request against the per-second limit.
func (s *Server) spendRate() error {
	if s.orderRate == 0 {
		return nil
	}
	now := s.clock()
	if sec := now.Unix(); sec != s.rateSec {
		s.rateSec, s.rateUsed = sec, 0
	}
	if s.rateUsed >= s.orderRate {
		e := apiErr(CodeRateLimited, "more than %d order requests per second", s.orderRate)
		e.RetryAfterMs = time.Unix(s.rateSec+1, 0).Sub(now).Milliseconds() + 1
		return e
	}
	s.rateUsed++
	return nil
}

// Cancel cancels a live order by its ID, or by client ID when id is 0.
func (s *Server) Cancel(ctx context.Context, symbol string, id uint64, clientID string) (NativeOrder, error) {
	return call(ctx, s, func() (NativeOrder, error) {
		if err := s.spendRate(); err != nil {
			return NativeOrder{}, err
		}
		o, err := s.lookup(symbol, id, clientID)
		if err != nil {
			return NativeOrder{}, err
		}
		if o.state != StateLive && o.state != StatePartiallyFilled {
			return NativeOrder{}, apiErr(CodeOrderClosed, "order %d is %s", o.id, o.state)
		}
		s.cancel(s.clock(), o, SourceUser)
		return s.native(o), nil
	})
}

// fill executes qty of o at px (capped, for reduce-only orders, to the
// position) and books the position, the fee and the trade.
func (s *Server) fill(now time.Time, o *order, qty, px decimal.Decimal, maker bool) {
	if o.reduceOnly {
		qty = decimal.Min(qty, s.pos.Abs())
		if s.pos.IsZero() || o.buy == s.pos.IsPositive() {
			qty = decimal.Zero
		}
		if !qty.IsPositive() {
			s.cancel(now, o, SourceReduceOnly)
			return
		}
	}
	signed := qty
	if !o.buy {
		signed = qty.Neg()
	}
	pnl := s.book(signed, px)
	rate := s.taker
	liquidity := "taker"
	if maker {
		rate, liquidity = s.maker, "maker"
	}
	fee := px.Mul(qty).Mul(rate).Round(8)
	s.wallet = s.wallet.Add(pnl).Sub(fee)
	o.filled = o.filled.Add(qty)
	o.notional = o.notional.Add(px.Mul(qty))
	o.updated = now
	o.state = StatePartiallyFilled
	if o.filled.Equal(o.sz) {
		o.state = StateFilled
		s.unrest(o)
	}
	s.nextTrade++
	t := NativeTrade{TradeID: s.nextTrade, OrderID: o.id, Symbol: o.symbol, ClientID: o.clientID, Side: o.side,
		Px: px.String(), Sz: qty.String(), Fee: fee.Neg().String(), FeeCcy: "USDT", Liquidity: liquidity,
		PnL: pnl.Round(8).String(), Ms: now.UnixMilli()}
	s.trades = append(s.trades, t)
	s.publishOrder(o, &t)
	if o.reduceOnly && o.state == StatePartiallyFilled && s.pos.IsZero() {
		s.cancel(now, o, SourceReduceOnly) // nothing left to reduce
	}
}

// book applies a signed fill to the net position and returns the PnL it
// realizes: a fill against the position closes part of its cost basis.
func (s *Server) book(qty, px decimal.Decimal) decimal.Decimal {
	realized := decimal.Zero
	if !s.pos.IsZero() && s.pos.Sign() != qty.Sign() {
		closing := qty
		if qty.Abs().GreaterThan(s.pos.Abs()) {
			closing = s.pos.Neg()
		}
		removed := s.cost // the whole basis when the position closes
		if !closing.Equal(s.pos.Neg()) {
			removed = s.cost.Mul(closing.Neg()).Div(s.pos)
		}
		realized = closing.Neg().Mul(px).Sub(removed)
		s.cost = s.cost.Sub(removed)
		s.pos = s.pos.Add(closing)
		qty = qty.Sub(closing)
	}
	s.cost = s.cost.Add(qty.Mul(px))
	s.pos = s.pos.Add(qty)
	return realized
}

func (s *Server) cancel(now time.Time, o *order, source string) {
	o.state, o.source, o.updated = StateCanceled, source, now
	s.unrest(o)
	s.publishOrder(o, nil)
}

func (s *Server) unrest(o *order) {
	s.resting = slices.DeleteFunc(s.resting, func(x *order) bool { return x == o })
}

func (s *Server) native(o *order) NativeOrder {
	n := NativeOrder{ID: o.id, Symbol: o.symbol, ClientID: o.clientID, Side: o.side, Type: o.typ, Px: o.px.String(),
		Sz: o.sz.String(), FilledSz: o.filled.String(), State: o.state, CancelSource: o.source, ReduceOnly: o.reduceOnly,
		UpdatedMs: o.updated.UnixMilli()}
	if o.isMarket {
		n.Px = ""
	}
	if o.filled.IsPositive() {
		n.AvgPx = o.notional.Div(o.filled).Round(8).String()
	}
	return n
}
