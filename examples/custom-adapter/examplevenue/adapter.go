package examplevenue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// VenueName is what [Adapter.Name] returns and what every [exchange.VenueError]
// of this adapter names.
const VenueName = "examplevenue"

// OrderRateLimit is the venue's documented limit of order requests (places
// and cancels) per second. Start a [Server] with it as its OrderRate to have
// the venue enforce it.
const OrderRateLimit = 20

// Config configures an [Adapter]. The zero value is valid.
type Config struct {
	// Logger receives the adapter's logs (dropped connections, skipped
	// messages); nil discards them.
	Logger *slog.Logger
}

// Adapter is the [exchange.IExchange] of the example venue: it translates
// every call into the venue's protocol and every answer and push back into
// gridmesh's types, maps the venue's error codes onto the exchange
// package's sentinels, and runs one goroutine per open stream.
//
// Build one with [New]; the zero value is not usable. An Adapter is safe
// for concurrent use. Close stops its streams and waits for them; it does
// not stop the venue (the [Server]), which is not the adapter's to stop.
type Adapter struct {
	srv *Server
	log *slog.Logger

	// stop ends when Close is called; every stream goroutine watches it.
	stop     context.Context
	stopFunc context.CancelFunc

	mu     sync.Mutex // guards closed and the wg.Add that starts a stream
	closed bool
	wg     sync.WaitGroup // the stream goroutines

	malformed atomic.Uint64
}

// Step 1 of an adapter: say what it implements, so the compiler checks it.
// The optional capabilities are found by the executor by type assertion.
var (
	_ exchange.IExchange         = (*Adapter)(nil)
	_ exchange.RateLimitDeclarer = (*Adapter)(nil)
)

// New returns an adapter that talks to srv. It starts no goroutine.
func New(srv *Server, cfg Config) (*Adapter, error) {
	if srv == nil {
		return nil, errors.New("examplevenue: New: server is nil")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a := &Adapter{srv: srv, log: log}
	a.stop, a.stopFunc = context.WithCancel(context.Background())
	return a, nil
}

// Name returns [VenueName].
func (a *Adapter) Name() string { return VenueName }

// Malformed returns how many pushed messages were skipped because they
// could not be read (a malformed message is counted and skipped, never a
// crash).
func (a *Adapter) Malformed() uint64 { return a.malformed.Load() }

// Close stops every stream and waits for its goroutine to end; their
// channels close. Later calls fail with exchange.ErrClosed. Close is
// idempotent and returns nil.
func (a *Adapter) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.stopFunc()
	a.wg.Wait()
	return nil
}

// begin refuses calls after Close.
func (a *Adapter) begin() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return exchange.ErrClosed
	}
	return nil
}

// RateLimits declares the venue's documented limits to the executor, which
// then paces orders so that no second of the venue's count sees more (an
// adapter that declares nothing gets a conservative 10 orders a second).
// Requests other than orders are unlimited here; a generous window keeps
// the executor from inventing one.
func (a *Adapter) RateLimits() []exchange.RateLimit {
	return []exchange.RateLimit{
		{Scope: exchange.ScopeOrder, Interval: time.Second, Limit: OrderRateLimit},
		{Scope: exchange.ScopeRequest, Interval: time.Minute, Limit: 60_000},
	}
}

// Weight is 1 for every operation.
func (a *Adapter) Weight(string) int { return 1 }

// Rules returns the symbol's rules, converted from the venue's instrument.
func (a *Adapter) Rules(ctx context.Context, symbol string) (exchange.Rules, error) {
	if err := a.begin(); err != nil {
		return exchange.Rules{}, err
	}
	in, err := a.srv.GetInstrument(ctx, symbol)
	if err != nil {
		return exchange.Rules{}, queryError("rules", err)
	}
	var p parser
	r := exchange.Rules{
		Symbol: in.Symbol, TickSize: p.dec("TickSz", in.TickSz), StepSize: p.dec("LotSz", in.LotSz),
		MinQty: p.dec("MinSz", in.MinSz), MinNotional: p.dec("MinNotional", in.MinNotional),
	}
	if p.err != nil {
		return exchange.Rules{}, fmt.Errorf("examplevenue: instrument %s: %w", symbol, p.err)
	}
	if err := r.Validate(); err != nil {
		return exchange.Rules{}, fmt.Errorf("examplevenue: instrument %s: %w", symbol, err)
	}
	return r, nil
}

// PlaceOrder places one order. A post-only order that would cross is
// accepted by this venue and then canceled: it arrives on the order stream
// as EXPIRED, which the engine treats as a synchronous rejection.
func (a *Adapter) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	if err := a.begin(); err != nil {
		return exchange.Order{}, err
	}
	nreq, err := placeRequest(req)
	if err != nil {
		return exchange.Order{}, fmt.Errorf("examplevenue: place %q: %w", req.ClientOrderID, err)
	}
	sent := time.Now()
	n, err := a.srv.Place(ctx, nreq)
	if err != nil {
		return exchange.Order{}, orderError("place", sent, err)
	}
	return toOrder(n)
}

// placeRequest translates an order request into the venue's. It refuses
// what the venue cannot express: a position side (the venue has one-way
// accounts only) and a time in force on a market order.
func placeRequest(req exchange.OrderRequest) (PlaceRequest, error) {
	n := PlaceRequest{Symbol: req.Symbol, ClientID: req.ClientOrderID, Sz: req.Quantity.String(), ReduceOnly: req.ReduceOnly}
	if req.PositionSide != exchange.PositionBoth {
		return n, fmt.Errorf("position side %s (the venue has one-way accounts only): %w", req.PositionSide, exchange.ErrPositionMode)
	}
	switch req.Side {
	case exchange.Buy:
		n.Side = "buy"
	case exchange.Sell:
		n.Side = "sell"
	default:
		return n, fmt.Errorf("side %s: %w", req.Side, exchange.ErrInvalidOrder)
	}
	switch {
	case req.Type == exchange.Market && req.TimeInForce == exchange.GTC:
		n.Type = "market"
	case req.Type == exchange.Limit && req.TimeInForce == exchange.GTC:
		n.Type, n.Px = "limit", req.Price.String()
	case req.Type == exchange.Limit && req.TimeInForce == exchange.PostOnly:
		n.Type, n.Px = "post_only", req.Price.String()
	case req.Type == exchange.Limit && req.TimeInForce == exchange.IOC:
		n.Type, n.Px = "ioc", req.Price.String()
	default:
		return n, fmt.Errorf("%s order with time in force %s: %w", req.Type, req.TimeInForce, exchange.ErrInvalidOrder)
	}
	return n, nil
}

// CancelOrder cancels one order by its ID, or by its client order ID when
// the ID is empty. An unknown or already closed order is
// exchange.ErrOrderNotFound.
func (a *Adapter) CancelOrder(ctx context.Context, req exchange.CancelRequest) (exchange.Order, error) {
	if err := a.begin(); err != nil {
		return exchange.Order{}, err
	}
	var id uint64
	switch {
	case req.OrderID != "":
		var err error
		if id, err = strconv.ParseUint(req.OrderID, 10, 64); err != nil || id == 0 {
			// Not an ID this venue hands out, so no order of it has this ID.
			return exchange.Order{}, fmt.Errorf("examplevenue: cancel order %q: %w", req.OrderID, exchange.ErrOrderNotFound)
		}
	case req.ClientOrderID == "":
		return exchange.Order{}, fmt.Errorf("examplevenue: cancel: OrderID or ClientOrderID is required: %w", exchange.ErrInvalidOrder)
	}
	sent := time.Now()
	n, err := a.srv.Cancel(ctx, req.Symbol, id, req.ClientOrderID)
	if err != nil {
		return exchange.Order{}, orderError("cancel", sent, err)
	}
	return toOrder(n)
}

// QueryOrder looks an order up by its client order ID, live or closed.
func (a *Adapter) QueryOrder(ctx context.Context, symbol, clientOrderID string) (exchange.Order, error) {
	if err := a.begin(); err != nil {
		return exchange.Order{}, err
	}
	if clientOrderID == "" {
		return exchange.Order{}, fmt.Errorf("examplevenue: query: empty client order ID: %w", exchange.ErrOrderNotFound)
	}
	n, err := a.srv.GetOrder(ctx, symbol, 0, clientOrderID)
	if err != nil {
		return exchange.Order{}, queryError("query", err)
	}
	return toOrder(n)
}

// OpenOrders lists the symbol's live orders, oldest first.
func (a *Adapter) OpenOrders(ctx context.Context, symbol string) ([]exchange.Order, error) {
	if err := a.begin(); err != nil {
		return nil, err
	}
	ns, err := a.srv.PendingOrders(ctx, symbol)
	if err != nil {
		return nil, queryError("open orders", err)
	}
	out := make([]exchange.Order, 0, len(ns))
	for _, n := range ns {
		o, err := toOrder(n)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// Fills lists the symbol's trades at or after since, oldest first.
func (a *Adapter) Fills(ctx context.Context, symbol string, since time.Time) ([]exchange.Fill, error) {
	if err := a.begin(); err != nil {
		return nil, err
	}
	ms := since.UnixMilli() // the venue counts milliseconds: round up, never include an earlier trade
	if time.UnixMilli(ms).Before(since) {
		ms++
	}
	ts, err := a.srv.Trades(ctx, symbol, ms)
	if err != nil {
		return nil, queryError("fills", err)
	}
	out := make([]exchange.Fill, 0, len(ts))
	for _, t := range ts {
		f, err := toFill(t)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Account returns the account's USDT balance. The venue's accounts are
// one-way and always allowed to trade.
func (a *Adapter) Account(ctx context.Context) (exchange.Account, error) {
	if err := a.begin(); err != nil {
		return exchange.Account{}, err
	}
	b, err := a.srv.Balance(ctx)
	if err != nil {
		return exchange.Account{}, queryError("account", err)
	}
	var p parser
	bal := exchange.Balance{Asset: b.Ccy, WalletBalance: p.dec("Wallet", b.Wallet), AvailableBalance: p.dec("Available", b.Available), UnrealizedPnL: p.dec("Upl", b.Upl)}
	if p.err != nil {
		return exchange.Account{}, fmt.Errorf("examplevenue: balance: %w", p.err)
	}
	return exchange.Account{
		Balances: []exchange.Balance{bal}, TotalWallet: bal.WalletBalance, TotalMargin: bal.WalletBalance.Add(bal.UnrealizedPnL),
		AvailableBalance: bal.AvailableBalance, PositionMode: exchange.OneWay, CanTrade: true,
	}, nil
}

// Positions returns the symbol's net position as one PositionBoth entry.
func (a *Adapter) Positions(ctx context.Context, symbol string) ([]exchange.Position, error) {
	if err := a.begin(); err != nil {
		return nil, err
	}
	n, err := a.srv.Position(ctx, symbol)
	if err != nil {
		return nil, queryError("positions", err)
	}
	var p parser
	pos := exchange.Position{
		Symbol: n.Symbol, PositionSide: exchange.PositionBoth, Quantity: p.dec("Pos", n.Pos), EntryPrice: p.optional("AvgPx", n.AvgPx),
		MarkPrice: p.dec("MarkPx", n.MarkPx), UnrealizedPnL: p.dec("Upl", n.Upl), Leverage: n.Lever, MarginMode: exchange.Cross,
	}
	if p.err != nil {
		return nil, fmt.Errorf("examplevenue: position: %w", p.err)
	}
	return []exchange.Position{pos}, nil
}

// parser reads the venue's decimal strings, keeping the first error.
type parser struct{ err error }

func (p *parser) dec(field, s string) decimal.Decimal {
	d, err := decimal.NewFromString(s)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("field %s = %q: not a decimal number", field, s)
	}
	return d
}

// optional reads a field the venue leaves empty when it has no value.
func (p *parser) optional(field, s string) decimal.Decimal {
	if s == "" {
		return decimal.Zero
	}
	return p.dec(field, s)
}

// toOrder translates the venue's order.
func toOrder(n NativeOrder) (exchange.Order, error) {
	var p parser
	o := exchange.Order{
		Symbol: n.Symbol, OrderID: strconv.FormatUint(n.ID, 10), ClientOrderID: n.ClientID,
		Price: p.optional("Px", n.Px), Quantity: p.dec("Sz", n.Sz), FilledQty: p.dec("FilledSz", n.FilledSz),
		AvgPrice: p.optional("AvgPx", n.AvgPx), ReduceOnly: n.ReduceOnly, UpdateTime: time.UnixMilli(n.UpdatedMs).UTC(),
	}
	side, err := toSide(n.Side)
	if err != nil && p.err == nil {
		p.err = err
	}
	o.Side = side
	switch n.Type {
	case "market":
		o.Type = exchange.Market
	case "limit":
	case "post_only":
		o.TimeInForce = exchange.PostOnly
	case "ioc":
		o.TimeInForce = exchange.IOC
	default:
		if p.err == nil {
			p.err = fmt.Errorf("field Type = %q: unknown order type", n.Type)
		}
	}
	o.Status, _, err = toStatus(n)
	if err != nil && p.err == nil {
		p.err = err
	}
	if p.err != nil {
		return exchange.Order{}, fmt.Errorf("examplevenue: order %d: %w", n.ID, p.err)
	}
	return o, nil
}

func toSide(s string) (exchange.Side, error) {
	switch s {
	case "buy":
		return exchange.Buy, nil
	case "sell":
		return exchange.Sell, nil
	}
	return 0, fmt.Errorf("field Side = %q: want buy or sell", s)
}

// toStatus maps the venue's state. The venue reports every end but a fill
// as "canceled" with a source; the contract tells the canceler apart: a
// cancel someone asked for is CANCELED, one the venue decided on (a
// post-only order that would have crossed, an IOC remainder, a reduce-only
// order with nothing to reduce) is EXPIRED, with the source as its reason,
// as Binance reports them.
func toStatus(n NativeOrder) (exchange.OrderStatus, string, error) {
	switch n.State {
	case StateLive:
		return exchange.StatusNew, "", nil
	case StatePartiallyFilled:
		return exchange.StatusPartiallyFilled, "", nil
	case StateFilled:
		return exchange.StatusFilled, "", nil
	case StateCanceled:
		switch n.CancelSource {
		case SourcePostOnly, SourceIOC, SourceReduceOnly:
			return exchange.StatusExpired, n.CancelSource, nil
		}
		return exchange.StatusCanceled, n.CancelSource, nil
	}
	return exchange.StatusUnknown, "", fmt.Errorf("field State = %q: unknown order state", n.State)
}

// toFill translates the venue's trade. The venue reports a charged fee as
// a negative number and a rebate as a positive one; gridmesh's convention
// is the opposite (positive paid), so the sign flips here, in the adapter,
// and nowhere else.
func toFill(t NativeTrade) (exchange.Fill, error) {
	var p parser
	f := exchange.Fill{
		Symbol: t.Symbol, OrderID: strconv.FormatUint(t.OrderID, 10), ClientOrderID: t.ClientID,
		TradeID: strconv.FormatUint(t.TradeID, 10), PositionSide: exchange.PositionBoth,
		Price: p.dec("Px", t.Px), Quantity: p.dec("Sz", t.Sz), Fee: p.dec("Fee", t.Fee).Neg(), FeeAsset: t.FeeCcy,
		Maker: t.Liquidity == "maker", RealizedPnL: p.optional("PnL", t.PnL), Time: time.UnixMilli(t.Ms).UTC(),
	}
	side, err := toSide(t.Side)
	if err != nil && p.err == nil {
		p.err = err
	}
	f.Side = side
	if p.err == nil && (!f.Price.IsPositive() || !f.Quantity.IsPositive()) {
		p.err = fmt.Errorf("trade at %s of %s: price and size must be positive", t.Px, t.Sz)
	}
	if p.err != nil {
		return exchange.Fill{}, fmt.Errorf("examplevenue: trade %d: %w", t.TradeID, p.err)
	}
	return f, nil
}

// toUpdate translates one push of the orders channel: the order after the
// change and, when a trade caused it, the trade. FilledQty is always the
// cumulative quantity, so a consumer can discard duplicates.
func toUpdate(m Message) (exchange.OrderUpdate, error) {
	o, err := toOrder(m.Order)
	if err != nil {
		return exchange.OrderUpdate{}, err
	}
	_, reason, _ := toStatus(m.Order)
	u := exchange.OrderUpdate{
		Symbol: o.Symbol, OrderID: o.OrderID, ClientOrderID: o.ClientOrderID, Side: o.Side, PositionSide: o.PositionSide,
		Status: o.Status, Price: o.Price, Quantity: o.Quantity, FilledQty: o.FilledQty, ReduceOnly: o.ReduceOnly,
		LastFillQty: decimal.Zero, LastFillPrice: decimal.Zero, Fee: decimal.Zero, Time: o.UpdateTime,
	}
	if o.Status == exchange.StatusExpired {
		u.Reason = reason
	}
	if m.Trade != nil {
		f, err := toFill(*m.Trade)
		if err != nil {
			return exchange.OrderUpdate{}, err
		}
		if f.OrderID != o.OrderID {
			return exchange.OrderUpdate{}, fmt.Errorf("examplevenue: trade %s of order %s pushed with order %s", f.TradeID, f.OrderID, o.OrderID)
		}
		u.LastFillQty, u.LastFillPrice, u.Fee, u.FeeAsset = f.Quantity, f.Price, f.Fee, f.FeeAsset
		u.Maker, u.TradeID, u.Time = f.Maker, f.TradeID, f.Time
	}
	return u, nil
}
