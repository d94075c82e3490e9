package binancetest

// This file: the matching book: order validation, placement, fills,
// cancels and price moves.

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

type book struct {
	spec     Symbol
	price    decimal.Decimal
	open     []*order
	byID     map[int64]*order
	byClient map[string]*order
	trades   []trade
	aggID    int64
	// fundingRate is the last settled funding rate (premiumIndex,
	// markPrice streams).
	fundingRate decimal.Decimal
	// candles is the kline history at interval base (seeded or built from
	// price moves), oldest first.
	base    interval
	candles []candle
	// seq is the order book's last update ID; depthBids and depthAsks
	// are the book as last compared (ticks → quantity), for @depth diffs.
	seq                  int64
	depthBids, depthAsks map[int64]decimal.Decimal
	bestPushed           bestLevels // as last pushed on bookTicker
	dirty                bool       // changed since the last flush
	// klineOpen is, per kline stream, the open time of the candle last
	// pushed, to push the candle final (x true) when the bucket turns.
	klineOpen map[string]int64
}

type order struct {
	id                           int64
	clientID, symbol, side, ps   string
	typ, tif                     string
	price, qty, filled, cumQuote decimal.Decimal
	status                       string
	reduceOnly                   bool
	created, updated             int64
	amends                       int   // modifications so far
	key                          int64 // price in ticks (LIMIT orders)
}

type trade struct {
	id, orderID               int64
	symbol, side, ps          string
	price, qty, fee, realized decimal.Decimal
	maker                     bool
	time                      int64
}

var clientIDRe = regexp.MustCompile(`^[\.A-Z\:/a-z0-9_-]{1,36}$`)

// orderSpec is a new order's parameters (one POST or one batch element).
type orderSpec map[string]string

func fromValues(p url.Values) orderSpec {
	o := orderSpec{}
	for k := range p {
		o[k] = p.Get(k)
	}
	return o
}

func fracDigits(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// place validates and creates one order. Called with s.mu held.
func (s *Server) place(sp orderSpec) (*order, *apiErr) {
	b, ok := s.books[sp["symbol"]]
	if !ok {
		return nil, errf(400, -1121, "Invalid symbol.")
	}
	spec := b.spec
	side, typ := sp["side"], sp["type"]
	if side != "BUY" && side != "SELL" {
		return nil, errf(400, -1117, "Invalid side.")
	}
	switch typ {
	case "LIMIT", "MARKET":
	case "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET":
		return nil, errf(400, -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
	default:
		return nil, errf(400, -1116, "Invalid orderType.")
	}
	tif := sp["timeInForce"]
	if typ == "LIMIT" {
		switch tif {
		case "GTC", "IOC", "FOK", "GTX":
		case "":
			return nil, errf(400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
		default:
			return nil, errf(400, -1115, "Invalid timeInForce.")
		}
	}
	ps := sp["positionSide"]
	if s.hedge {
		if ps != "LONG" && ps != "SHORT" {
			return nil, errf(400, -4061, "Order's position side does not match user's setting.")
		}
		if _, sent := sp["reduceOnly"]; sent {
			return nil, errf(400, -1106, "Parameter 'reduceOnly' sent when not required.")
		}
	} else {
		if ps == "" {
			ps = "BOTH"
		}
		if ps != "BOTH" {
			return nil, errf(400, -4061, "Order's position side does not match user's setting.")
		}
	}
	reduceOnly := sp["reduceOnly"] == "true"
	cid := sp["newClientOrderId"]
	if cid == "" {
		cid = s.randomID(22)
	} else if !clientIDRe.MatchString(cid) {
		if len(cid) > 36 {
			return nil, errf(400, -4015, "Client order id length should not be more than 36 chars")
		}
		return nil, errf(400, -4015, "Client order id is not valid.")
	}
	if prev, ok := b.byClient[cid]; ok && (prev.status == "NEW" || prev.status == "PARTIALLY_FILLED") {
		return nil, errf(400, -4116, "clientOrderId is duplicated")
	}
	qty, aerr := parseQty(spec, sp["quantity"])
	if aerr != nil {
		return nil, aerr
	}
	price := decimal.Zero
	if typ == "LIMIT" {
		if price, aerr = parsePrice(spec, sp["price"]); aerr != nil {
			return nil, aerr
		}
	}
	notionalPrice := price
	if typ == "MARKET" {
		notionalPrice = b.price
	}
	if !reduceOnly && notionalPrice.Mul(qty).LessThan(spec.MinNotional) {
		return nil, errf(400, -4164, "Order's notional must be no smaller than %s (unless you choose reduce only).", spec.MinNotional)
	}
	if reduceOnly {
		pos := s.pos(spec.Name, "BOTH")
		if pos.amt.IsZero() || (side == "BUY" && pos.amt.IsPositive()) || (side == "SELL" && pos.amt.IsNegative()) {
			return nil, errf(400, -2022, "ReduceOnly Order is rejected.")
		}
	}
	if len(b.open) >= s.o.maxOpenOrders {
		return nil, errf(400, -2025, "Reach max open order limit.")
	}
	marginPrice := price
	if typ == "MARKET" {
		marginPrice = b.price
	}
	if aerr := s.checkMargin(spec.Name, side, ps, qty, marginPrice, reduceOnly); aerr != nil {
		return nil, aerr
	}
	bid, ask := b.bidAsk()
	crosses := typ == "MARKET" || (side == "BUY" && price.GreaterThanOrEqual(ask)) || (side == "SELL" && price.LessThanOrEqual(bid))
	if tif == "GTX" && crosses {
		return nil, errf(400, -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history")
	}
	if tif == "FOK" && !crosses {
		return nil, errf(400, -5021, "Due to the order could not be filled immediately, the FOK order has been rejected. The order will not be recorded in the order history")
	}
	now := s.nowMs()
	s.nextOrderID++
	o := &order{id: s.nextOrderID, clientID: cid, symbol: spec.Name, side: side, ps: ps, typ: typ, tif: tif,
		price: price, qty: qty, filled: decimal.Zero, cumQuote: decimal.Zero, status: "NEW", reduceOnly: reduceOnly, created: now, updated: now}
	if typ == "MARKET" {
		o.tif = "GTC"
	} else {
		o.key = ticksOf(spec, price)
	}
	b.byID[o.id] = o
	b.byClient[cid] = o
	b.open = append(b.open, o)
	s.emitOrder(o, "NEW", nil)
	return o, nil
}

// afterPlace executes what a new order takes at once (crossing GTC/IOC/FOK,
// MARKET) and expires an IOC remainder. Called with s.mu held.
func (s *Server) afterPlace(o *order) {
	b := s.books[o.symbol]
	bid, ask := b.bidAsk()
	switch {
	case o.side == "BUY" && (o.typ == "MARKET" || o.price.GreaterThanOrEqual(ask)):
		s.fill(o, o.qty, ask, false)
	case o.side == "SELL" && (o.typ == "MARKET" || o.price.LessThanOrEqual(bid)):
		s.fill(o, o.qty, bid, false)
	}
	if o.tif == "IOC" && (o.status == "NEW" || o.status == "PARTIALLY_FILLED") {
		s.close(o, "EXPIRED", "2")
	}
}

func (b *book) bidAsk() (decimal.Decimal, decimal.Decimal) {
	return b.price.Sub(b.spec.TickSize), b.price.Add(b.spec.TickSize)
}

func (s *Server) randomID(n int) string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[s.rng.IntN(len(alnum))]
	}
	return string(b)
}

// fill executes qty of o at price. Called with s.mu held.
func (s *Server) fill(o *order, qty, price decimal.Decimal, maker bool) {
	s.fillExec(o, qty, price, maker, "TRADE")
}

// fillExec is fill with the execution type of the ORDER_TRADE_UPDATE
// (TRADE, or CALCULATED for a liquidation). Called with s.mu held.
func (s *Server) fillExec(o *order, qty, price decimal.Decimal, maker bool, exec string) {
	b := s.books[o.symbol]
	now := s.nowMs()
	o.filled = o.filled.Add(qty)
	o.cumQuote = o.cumQuote.Add(qty.Mul(price))
	o.updated = now
	if o.filled.Equal(o.qty) {
		o.status = "FILLED"
		b.removeOpen(o)
	} else {
		o.status = "PARTIALLY_FILLED"
	}
	rate := s.o.takerFee
	if maker {
		rate = s.o.makerFee
	}
	fee := qty.Mul(price).Mul(rate).Round(8)
	signed := qty
	if o.side == "SELL" {
		signed = qty.Neg()
	}
	p := s.pos(o.symbol, o.ps)
	realized := p.apply(signed, price)
	s.wallet = s.wallet.Add(realized).Sub(fee)
	s.nextTradeID++
	t := trade{id: s.nextTradeID, orderID: o.id, symbol: o.symbol, side: o.side, ps: o.ps, price: price, qty: qty,
		fee: fee, realized: realized, maker: maker, time: now}
	b.trades = append(b.trades, t)
	tid := strconv.FormatInt(t.id, 10)
	if !realized.IsZero() {
		s.addIncome(o.symbol, "REALIZED_PNL", realized, tid, now)
	}
	if !fee.IsZero() {
		s.addIncome(o.symbol, "COMMISSION", fee.Neg(), tid, now)
	}
	s.emitOrder(o, exec, &t)
	s.emitAccount(o.symbol, o.ps)
}

func (b *book) removeOpen(o *order) {
	for i, x := range b.open {
		if x == o {
			b.open = append(b.open[:i], b.open[i+1:]...)
			return
		}
	}
}

// close ends a live order with status (CANCELED, EXPIRED). Called with s.mu held.
func (s *Server) close(o *order, status, reason string) {
	o.status = status
	o.updated = s.nowMs()
	s.books[o.symbol].removeOpen(o)
	s.emitOrderReason(o, status, nil, reason)
}

func (s *Server) cancelAllLocked(b *book) {
	for len(b.open) > 0 {
		s.close(b.open[0], "CANCELED", "0")
	}
}

// Order is a snapshot of one order the server holds, for test assertions.
type Order struct {
	OrderID       int64
	ClientOrderID string
	Side          string
	PositionSide  string
	Status        string
	Price         decimal.Decimal
	Quantity      decimal.Decimal
	Filled        decimal.Decimal
}

// OpenOrders returns the symbol's resting orders, oldest first.
func (s *Server) OpenOrders(symbol string) []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.books[symbol]
	if !ok {
		return nil
	}
	out := make([]Order, 0, len(b.open))
	for _, o := range b.open {
		out = append(out, Order{OrderID: o.id, ClientOrderID: o.clientID, Side: o.side, PositionSide: o.ps, Status: o.status,
			Price: o.price, Quantity: o.qty, Filled: o.filled})
	}
	return out
}

// Price returns the symbol's market price.
func (s *Server) Price(symbol string) decimal.Decimal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.books[symbol]; ok {
		return b.price
	}
	return decimal.Zero
}

// SetPrice moves the symbol's market price to price (best bid one tick
// below, best ask one tick above): resting buys at or above it and sells
// at or below it fill as makers at their own price, best price first, each
// in WithFillParts trades; then bookTicker, aggTrade, markPrice and kline
// updates go out on the market streams.
func (s *Server) SetPrice(ctx context.Context, symbol string, price decimal.Decimal) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.books[symbol]
	if !ok {
		return fmt.Errorf("binancetest: SetPrice: symbol %q is not listed", symbol)
	}
	if !price.IsPositive() || !price.Mod(b.spec.TickSize).IsZero() {
		return fmt.Errorf("binancetest: SetPrice: price %s is not a positive multiple of the tick %s", price, b.spec.TickSize)
	}
	b.price = price
	var hit []*order
	for _, o := range b.open {
		if (o.side == "BUY" && o.price.GreaterThanOrEqual(price)) || (o.side == "SELL" && o.price.LessThanOrEqual(price)) {
			hit = append(hit, o)
		}
	}
	sort.SliceStable(hit, func(i, j int) bool {
		if hit[i].side != hit[j].side {
			return hit[i].side == "BUY"
		}
		if hit[i].side == "BUY" {
			return hit[i].price.GreaterThan(hit[j].price)
		}
		return hit[i].price.LessThan(hit[j].price)
	})
	for _, o := range hit {
		s.fillParts(o)
	}
	s.publishMarket(b)
	s.checkRisk()
	s.flushBooks(b)
	return nil
}

// fillParts fills o's remainder as maker in up to WithFillParts trades of
// whole steps. Called with s.mu held.
func (s *Server) fillParts(o *order) {
	step := s.books[o.symbol].spec.StepSize
	rest := o.qty.Sub(o.filled)
	steps := rest.Div(step).IntPart()
	parts := int64(s.o.fillParts)
	if parts > steps {
		parts = steps
	}
	if parts < 1 {
		parts = 1
	}
	for i := int64(0); i < parts; i++ {
		q := step.Mul(decimal.NewFromInt(steps / parts))
		if i == parts-1 {
			q = o.qty.Sub(o.filled)
		}
		s.fill(o, q, o.price, true)
	}
}

// parseQty checks a quantity against LOT_SIZE and the precision.
func parseQty(spec Symbol, qs string) (decimal.Decimal, *apiErr) {
	if qs == "" {
		return decimal.Zero, errf(400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
	}
	qty, err := decimal.NewFromString(qs)
	if err != nil || strings.ContainsAny(qs, "eE") {
		return decimal.Zero, errf(400, -1100, "Illegal characters found in parameter 'quantity'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
	}
	if fracDigits(qs) > spec.QuantityPrecision && !qty.Equal(qty.Truncate(int32(spec.QuantityPrecision))) {
		return decimal.Zero, errf(400, -1111, "Precision is over the maximum defined for this asset.")
	}
	switch {
	case !qty.IsPositive():
		return decimal.Zero, errf(400, -4003, "Quantity less than or equal to zero.")
	case qty.LessThan(spec.MinQty):
		return decimal.Zero, errf(400, -4004, "Quantity less than min quantity.")
	case qty.GreaterThan(spec.MaxQty):
		return decimal.Zero, errf(400, -4005, "Quantity greater than max quantity.")
	case !qty.Sub(spec.MinQty).Mod(spec.StepSize).IsZero():
		return decimal.Zero, errf(400, -4023, "Qty not increased by step size.")
	}
	return qty, nil
}

// parsePrice checks a limit price against PRICE_FILTER and the precision.
func parsePrice(spec Symbol, ps string) (decimal.Decimal, *apiErr) {
	if ps == "" {
		return decimal.Zero, errf(400, -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
	}
	price, err := decimal.NewFromString(ps)
	if err != nil || strings.ContainsAny(ps, "eE") {
		return decimal.Zero, errf(400, -1100, "Illegal characters found in parameter 'price'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
	}
	if fracDigits(ps) > spec.PricePrecision && !price.Equal(price.Truncate(int32(spec.PricePrecision))) {
		return decimal.Zero, errf(400, -1111, "Precision is over the maximum defined for this asset.")
	}
	switch {
	case price.LessThan(spec.MinPrice):
		return decimal.Zero, errf(400, -4013, "Price less than min price.")
	case price.GreaterThan(spec.MaxPrice):
		return decimal.Zero, errf(400, -4002, "Price greater than max price.")
	case !price.Sub(spec.MinPrice).Mod(spec.TickSize).IsZero():
		return decimal.Zero, errf(400, -4014, "Price not increased by tick size.")
	}
	return price, nil
}
