package exchangetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
)

// breakage is one way an adapter breaks the contract, as an adapter
// skeleton was found to do.
type breakage int

const (
	sound            breakage = iota
	noFees                    // never sets OrderUpdate.Fee nor FeeAsset
	dropWhenFull              // drops user events when its channel is full, silently
	reportWhenFull            // drops an event when full but reports it (EventDisconnected, EventReady{Reconnected})
	tradeIDIsOrderID          // uses the order ID as the trade ID (one ID for every fill of an order)
	oneTradeID                // uses one trade ID for every fill
	noKlines                  // offers no candles: SubscribeKlines answers ErrUnsupported
	throttled                 // sound, but refuses every third place for rate (as a venue's order limit would)
	closeWaits                // Close waits for a consumer that stopped reading
)

// userBuffer is the broken adapters' user-data channel capacity, far below
// the burst check's event count.
const userBuffer = 16

// brokenVenue wraps a sim.Venue and breaks it in one way. Its forwarding
// goroutines end when the venue's channels close; Close waits for them.
type brokenVenue struct {
	*sim.Venue
	how       breakage
	wg        sync.WaitGroup
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	places    atomic.Int64
}

func (b *brokenVenue) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	if b.how == throttled && b.places.Add(1)%3 == 0 {
		return exchange.Order{}, &exchange.RateLimitError{RetryAfter: time.Millisecond, Err: errors.New("brokenvenue: too many orders")}
	}
	return b.Venue.PlaceOrder(ctx, req)
}

// Close closes the venue and stops the forwarders, even those blocked on a
// consumer that stopped reading, and waits for them.
func (b *brokenVenue) Close() error {
	err := b.Venue.Close()
	b.closeOnce.Do(func() { close(b.done) })
	b.wg.Wait()
	return err
}

// closing is what stops a forwarder blocked on its consumer: Close, except
// for the adapter broken so that Close waits (then only the
// subscription's context, which the suite ends after Close returned).
func (b *brokenVenue) closing() <-chan struct{} {
	if b.how == closeWaits {
		return nil
	}
	return b.done
}

// tradeID rewrites a trade ID the broken way.
func (b *brokenVenue) tradeID(orderID, tradeID string) string {
	switch b.how {
	case tradeIDIsOrderID:
		return orderID
	case oneTradeID:
		return "1"
	}
	return tradeID
}

func (b *brokenVenue) SubscribeKlines(ctx context.Context, symbol, interval string) (<-chan exchange.Kline, error) {
	if b.how == noKlines {
		return nil, fmt.Errorf("brokenvenue: no candles: %w", exchange.ErrUnsupported)
	}
	return b.Venue.SubscribeKlines(ctx, symbol, interval)
}

func (b *brokenVenue) Fills(ctx context.Context, symbol string, since time.Time) ([]exchange.Fill, error) {
	fs, err := b.Venue.Fills(ctx, symbol, since)
	for i := range fs {
		fs[i].TradeID = b.tradeID(fs[i].OrderID, fs[i].TradeID)
	}
	return fs, err
}

func (b *brokenVenue) SubscribeUserData(ctx context.Context) (<-chan exchange.UserEvent, error) {
	in, err := b.Venue.SubscribeUserData(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan exchange.UserEvent, userBuffer)
	send := func(ev exchange.UserEvent) {
		select {
		case out <- ev:
		case <-ctx.Done():
		case <-b.closing():
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(out)
		for ev := range in { // closes when ctx ends or the venue closes
			if ev.Kind == exchange.EventOrder {
				if b.how == noFees {
					ev.Order.Fee, ev.Order.FeeAsset = decimal.Zero, ""
				}
				if ev.Order.TradeID != "" {
					ev.Order.TradeID = b.tradeID(ev.Order.OrderID, ev.Order.TradeID)
				}
			}
			switch b.how {
			case dropWhenFull, reportWhenFull:
				select {
				case out <- ev:
				default:
					if b.how == reportWhenFull {
						send(exchange.UserEvent{Kind: exchange.EventDisconnected, Time: time.Now()})
						send(exchange.UserEvent{Kind: exchange.EventReady, Time: time.Now(), Reconnected: true})
					}
				}
			default:
				send(ev)
			}
		}
	}()
	return out, nil
}

// brokenHarness returns a constructor of fresh broken venues. partial makes
// the simulator fill a touched order one step per price move, so that an
// order fills in parts.
func brokenHarness(t *testing.T, how breakage, partial bool) func() Harness {
	return func() Harness {
		rules := exchange.Rules{Symbol: "BTCUSDT", TickSize: decimal.RequireFromString("0.1"), StepSize: decimal.RequireFromString("0.001"),
			MinQty: decimal.RequireFromString("0.001"), MinNotional: decimal.RequireFromString("5")}
		cfg := sim.DefaultCoreConfig(rules)
		cfg.InitialBalance = 1_000_000_000
		if partial {
			cfg.PartialFill = 1
		}
		v, err := sim.NewVenue(sim.VenueConfig{Core: cfg})
		if err != nil {
			t.Fatal(err)
		}
		b := &brokenVenue{Venue: v, how: how, done: make(chan struct{})}
		return Harness{
			Exchange: b, Symbol: "BTCUSDT", Price: decimal.RequireFromString("60000"),
			SetPrice: func(ctx context.Context, p decimal.Decimal) error { return v.SetPrice(ctx, p) },
			Timeout:  2 * time.Second,
		}
	}
}

// TestSuiteCatchesBrokenAdapters runs every check against adapters broken
// in one way each and requires the checks that stand for that part of the
// contract to fail, with a message that names the fault; the sound and the
// honestly lossy adapters pass everything.
func TestSuiteCatchesBrokenAdapters(t *testing.T) {
	cases := []struct {
		name    string
		how     breakage
		partial bool
		fail    map[string]string // check → text its report must contain
		skip    []string
		logs    map[string]string // check → text it must log
	}{
		{name: "sound", how: sound},
		{name: "sound, partial fills", how: sound, partial: true},
		{name: "loss reported", how: reportWhenFull, logs: map[string]string{"FillBurst": "reported a loss"}},
		{name: "rate limited", how: throttled},
		{name: "Close waits for the consumer", how: closeWaits, fail: map[string]string{
			"CloseStopsGoroutines": "Close did not return"}},
		{name: "klines unsupported", how: noKlines, skip: []string{"Klines"}},
		{name: "fees dropped", how: noFees, fail: map[string]string{
			"FillLifecycle": "Fee is zero", "FillBurst": "Fee is zero"}},
		{name: "events dropped when full", how: dropWhenFull, fail: map[string]string{
			"FillBurst": "reported no loss"}},
		{name: "order ID as trade ID", how: tradeIDIsOrderID, partial: true, fail: map[string]string{
			"FillLifecycle": "names two fills", "FillBurst": "names two fills"}},
		{name: "one trade ID", how: oneTradeID, fail: map[string]string{
			"FillLifecycle": "names two fills", "FillBurst": "names two fills"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			newHarness := brokenHarness(t, c.how, c.partial)
			for _, chk := range checks {
				ft := runFake(func(ft *fakeT) { runCheck(ft, newHarness, chk) })
				want, mustFail := c.fail[chk.name]
				switch {
				case mustFail && !ft.failed:
					t.Errorf("%s passed against an adapter broken this way (%s)", chk.name, ft.report())
				case mustFail && !strings.Contains(ft.report(), want):
					t.Errorf("%s failed, but not with %q:\n%s", chk.name, want, ft.report())
				case !mustFail && ft.failed:
					t.Errorf("%s failed:\n%s", chk.name, ft.report())
				}
				if want, ok := c.logs[chk.name]; ok && !slices.ContainsFunc(ft.logs, func(l string) bool { return strings.Contains(l, want) }) {
					t.Errorf("%s did not log %q: %q", chk.name, want, ft.logs)
				}
				if wantSkip := slices.Contains(c.skip, chk.name); ft.skipped != wantSkip {
					t.Errorf("%s skipped = %v, want %v (%s)", chk.name, ft.skipped, wantSkip, ft.report())
				}
			}
		})
	}
}
