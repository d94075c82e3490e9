package exchangetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// Harness is one venue under test, built afresh for each check by the
// constructor handed to [Run]. The zero value is not usable: Exchange,
// Symbol and Price are required. A Harness is used by one check at a time.
type Harness struct {
	// Exchange is the adapter under test. The suite closes it.
	Exchange exchange.IExchange
	// Symbol is the symbol the checks trade.
	Symbol string
	// Price is the market price the venue starts at. The suite calls
	// SetPrice(Price) before trading and places its resting orders a few
	// percent away from it.
	Price decimal.Decimal
	// SetPrice moves the venue's market price: resting orders the move
	// reaches fill (as makers, at their own price), and later post-only
	// orders that would cross are refused. It should also publish the
	// price on the price and kline streams. A venue that fills a touched
	// order in parts over several moves may do so: the suite repeats the
	// move while it waits for fills. Nil skips the checks that need a
	// price move.
	SetPrice func(ctx context.Context, price decimal.Decimal) error
	// Now is the venue's clock, used for Fills' since argument. Nil means
	// time.Now.
	Now func() time.Time
	// Timeout bounds every wait for a stream event or for goroutines to
	// end. Zero means 10 seconds.
	Timeout time.Duration
	// NoFees says the venue charges no fee on the suite's fills (a
	// zero-fee test venue or promotion). By default the suite requires
	// every fill, on the order stream and in Fills, to carry a nonzero
	// Fee and its FeeAsset, since a maker fill costs something (or earns
	// a rebate) on every real venue; with NoFees it requires a zero Fee.
	NoFees bool
	// BurstOrders is how many resting orders the FillBurst check places
	// (without reading the order stream) and then fills with one price
	// move, so that an adapter that loses events when its consumer falls
	// behind is caught; CloseStopsGoroutines does the same and then
	// closes the adapter with the events unread. Zero means
	// [DefaultBurstOrders]; keep it below the venue's cap on open orders.
	BurstOrders int
	// Cleanup, when not nil, is called after the suite closed Exchange
	// (for example to stop a local server).
	Cleanup func()
}

// DefaultBurstOrders is the FillBurst check's number of orders when
// [Harness.BurstOrders] is zero: below Binance's cap of 200 open orders per
// symbol, and enough for at least 300 order events (a NEW and a fill
// each), more than an adapter's channel buffer usually holds.
const DefaultBurstOrders = 150

var idSeq atomic.Uint64

// tb is the part of *testing.T the checks use.
type tb interface {
	reporter
	Logf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
}

// check is one conformance check.
type check struct {
	name string
	fn   func(t tb, s *suite)
}

// checks are the conformance checks, in the order Run runs them.
var checks = []check{
	{"Rules", testRules},
	{"PlaceQueryCancel", testPlaceQueryCancel},
	{"CancelByClientOrderID", testCancelByClientID},
	{"UnknownOrder", testUnknownOrder},
	{"UnknownSymbol", testUnknownSymbol},
	{"PostOnlyCross", testPostOnlyCross},
	{"OffGrid", testOffGrid},
	{"FillLifecycle", testFillLifecycle},
	{"FillBurst", testFillBurst},
	{"PriceStream", testPriceStream},
	{"Klines", testKlines},
	{"StreamsStopOnCancel", testStreamsStop},
	{"CloseStopsGoroutines", testClose},
}

// Run runs the conformance checks as subtests of t, calling newHarness once
// per check. See the package documentation for what is checked, and the
// documentation of [exchange.IExchange] for the contract the checks stand
// for.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			runCheck(t, func() Harness { return newHarness(t) }, c)
		})
	}
}

// runCheck builds a fresh venue and runs one check on it.
func runCheck(t tb, newHarness func() Harness, c check) {
	s := newSuite(t, newHarness)
	c.fn(t, s)
}

// suite is the per-check state.
type suite struct {
	h       Harness
	ctx     context.Context
	rules   exchange.Rules
	timeout time.Duration
	prefix  string
	mode    exchange.PositionMode
	// closeHung: Close did not return, so the cleanup does not call it.
	closeHung bool
}

func newSuite(t tb, newHarness func() Harness) *suite {
	t.Helper()
	h := newHarness()
	if h.Exchange == nil || h.Symbol == "" || !h.Price.IsPositive() {
		t.Fatalf("exchangetest: harness needs Exchange, Symbol and a positive Price (got %v, %q, %s)", h.Exchange, h.Symbol, h.Price)
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Timeout <= 0 {
		h.Timeout = 10 * time.Second
	}
	if h.BurstOrders <= 0 {
		h.BurstOrders = DefaultBurstOrders
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &suite{h: h, ctx: ctx, timeout: h.Timeout}
	t.Cleanup(func() {
		cancel()
		if !s.closeHung {
			_ = h.Exchange.Close()
		}
		if h.Cleanup != nil {
			h.Cleanup()
		}
	})
	s.prefix = fmt.Sprintf("xt%d", h.Now().UnixNano()%1_000_000_000)
	r, err := h.Exchange.Rules(ctx, h.Symbol)
	if err != nil {
		t.Fatalf("Rules(%q): %v", h.Symbol, err)
	}
	s.rules = r
	acct, err := h.Exchange.Account(ctx)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	s.mode = acct.PositionMode
	if h.SetPrice != nil {
		if err := h.SetPrice(ctx, h.Price); err != nil {
			t.Fatalf("SetPrice(%s): %v", h.Price, err)
		}
	}
	return s
}

// clientID returns a fresh client order ID in [A-Za-z0-9_-], at most 36 chars.
func (s *suite) clientID(tag string) string {
	return fmt.Sprintf("%s-%s-%d", s.prefix, tag, idSeq.Add(1))
}

// level returns the market price moved by pct percent, rounded to the tick.
func (s *suite) level(pct int64) decimal.Decimal {
	p := s.h.Price.Mul(decimal.NewFromInt(100 + pct)).Div(decimal.NewFromInt(100))
	return s.rules.RoundPrice(p)
}

// qty returns a quantity valid at any price from price×0.9 up: at least
// MinQty, at least 1.2×MinNotional, and at least two steps so that a venue
// can fill it in parts.
func (s *suite) qty(price decimal.Decimal) decimal.Decimal {
	r := s.rules
	q := r.MinQty
	if low := price.Mul(decimal.RequireFromString("0.9")); low.IsPositive() && r.MinNotional.IsPositive() {
		need := r.MinNotional.Mul(decimal.RequireFromString("1.2")).Div(low)
		if need.GreaterThan(q) {
			q = need
		}
	}
	q = q.Div(r.StepSize).Ceil().Mul(r.StepSize)
	if two := r.StepSize.Mul(decimal.NewFromInt(2)); q.LessThan(two) {
		q = two
	}
	return q
}

// limit builds an opening limit order: in hedge mode a buy opens the long
// side and a sell the short side.
func (s *suite) limit(tag string, side exchange.Side, price, qty decimal.Decimal, tif exchange.TimeInForce) exchange.OrderRequest {
	req := exchange.OrderRequest{
		Symbol: s.h.Symbol, ClientOrderID: s.clientID(tag), Side: side,
		Type: exchange.Limit, TimeInForce: tif, Price: price, Quantity: qty,
	}
	if s.mode == exchange.Hedge {
		req.PositionSide = exchange.PositionLong
		if side == exchange.Sell {
			req.PositionSide = exchange.PositionShort
		}
	}
	return req
}

// placePaced places req, waiting out rate-limit refusals (the venue's wait,
// or 100 ms when it gives none) within the timeout: a refused request took
// no effect, so it is sent again as it is.
func (s *suite) placePaced(t tb, req exchange.OrderRequest) (exchange.Order, error) {
	t.Helper()
	deadline := time.Now().Add(s.timeout)
	for {
		o, err := s.h.Exchange.PlaceOrder(s.ctx, req)
		var rl *exchange.RateLimitError
		if err == nil || !errors.Is(err, exchange.ErrRateLimited) {
			return o, err
		}
		wait := 100 * time.Millisecond
		if errors.As(err, &rl) && rl.RetryAfter > 0 {
			wait = rl.RetryAfter
		}
		if time.Now().Add(wait).After(deadline) {
			return o, err
		}
		time.Sleep(wait)
	}
}
