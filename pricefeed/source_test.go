package pricefeed_test

import (
	"context"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/shopspring/decimal"
)

func drain(t *testing.T, src pricefeed.Source) []pricefeed.Price {
	t.Helper()
	var out []pricefeed.Price
	for {
		p, err := src.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
}

func TestTradeReplayPacing(t *testing.T) {
	trades := []pricefeed.Trade{
		{Time: 1000, Price: 10}, {Time: 1000, Price: 11}, {Time: 1500, Price: 12}, {Time: 3000, Price: 13},
	}
	clk := newFakeClock(true)
	start := clk.Now()
	rp, err := pricefeed.NewTradeReplay(trades, pricefeed.WithSpeed(2), pricefeed.WithReplayClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	if rp.Len() != 4 {
		t.Errorf("Len = %d, want 4", rp.Len())
	}
	got := drain(t, rp)
	want := []pricefeed.Price{
		{Ticks: 10, Time: time.UnixMilli(1000).UTC()}, {Ticks: 11, Time: time.UnixMilli(1000).UTC()},
		{Ticks: 12, Time: time.UnixMilli(1500).UTC()}, {Ticks: 13, Time: time.UnixMilli(3000).UTC()},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Twice as fast: 500 ms recorded is 250 ms, then 1500 ms is 750 ms.
	if w := clk.Waits(); !reflect.DeepEqual(w, []time.Duration{250 * time.Millisecond, 750 * time.Millisecond}) {
		t.Errorf("waits %v, want [250ms 750ms]", w)
	}
	if d := clk.Now().Sub(start); d != time.Second {
		t.Errorf("replay took %s on the clock, want 1s", d)
	}
	if rp.Len() != 0 {
		t.Errorf("Len after the end = %d", rp.Len())
	}
}

func TestReplayAnchoredToStart(t *testing.T) {
	// Time spent by the consumer between calls is not added to the waits.
	clk := newFakeClock(true)
	rp, err := pricefeed.NewTradeReplay([]pricefeed.Trade{{Time: 0, Price: 1}, {Time: 1000, Price: 2}, {Time: 2000, Price: 3}}, pricefeed.WithReplayClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		if _, err := rp.Next(ctx); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			clk.NewTimer(300 * time.Millisecond) // the consumer is busy for 300 ms
		}
	}
	if w := clk.Waits(); !reflect.DeepEqual(w, []time.Duration{300 * time.Millisecond, 700 * time.Millisecond, time.Second}) {
		t.Errorf("waits %v, want [300ms 700ms 1s]", w)
	}
}

func TestCandleReplay(t *testing.T) {
	candles := []pricefeed.Candle{
		{OpenTime: 60000, Open: 10, High: 15, Low: 8, Close: 12},   // green: 10 8 15 12
		{OpenTime: 120000, Open: 12, High: 13, Low: 9, Close: 11},  // red: 12 13 9 11
		{OpenTime: 300000, Open: 11, High: 11, Low: 11, Close: 11}, // after a gap
	}
	clk := newFakeClock(true)
	rp, err := pricefeed.NewCandleReplay(candles, pricefeed.WithSpeed(60), pricefeed.WithReplayClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, rp)
	wantTicks := []exchange.Ticks{10, 8, 15, 12, 12, 13, 9, 11, 11, 11, 11, 11}
	wantMs := []int64{60000, 75000, 90000, 105000, 120000, 135000, 150000, 165000, 300000, 315000, 330000, 345000}
	if len(got) != len(wantTicks) {
		t.Fatalf("got %d prices, want %d", len(got), len(wantTicks))
	}
	for i, p := range got {
		if p.Ticks != wantTicks[i] || p.Time.UnixMilli() != wantMs[i] {
			t.Errorf("price %d = %d at %d, want %d at %d", i, p.Ticks, p.Time.UnixMilli(), wantTicks[i], wantMs[i])
		}
	}
	// 15 s recorded at 60× is 250 ms; the 135 s gap is 2.25 s.
	want := []time.Duration{250, 250, 250, 250, 250, 250, 250, 2250, 250, 250, 250}
	w := clk.Waits()
	if len(w) != len(want) {
		t.Fatalf("waits %v", w)
	}
	for i := range want {
		if w[i] != want[i]*time.Millisecond {
			t.Errorf("wait %d = %s, want %dms", i, w[i], want[i])
		}
	}
	// A single candle is a one-minute candle.
	one, err := pricefeed.NewCandleReplay(candles[:1], pricefeed.WithSpeed(0))
	if err != nil {
		t.Fatal(err)
	}
	if ps := drain(t, one); len(ps) != 4 || ps[3].Time.UnixMilli() != 105000 {
		t.Errorf("single candle replay: %v", ps)
	}
}

func TestReplayStampNowAndCancel(t *testing.T) {
	clk := newFakeClock(false)
	trades := []pricefeed.Trade{{Time: 0, Price: 1}, {Time: 1000, Price: 2}}
	rp, err := pricefeed.NewTradeReplay(trades, pricefeed.WithReplayClock(clk), pricefeed.WithStampNow())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := rp.Next(ctx)
	if err != nil || p.Ticks != 1 || !p.Time.Equal(clk.Now()) {
		t.Fatalf("first = %v, %v; want 1 at the clock's now", p, err)
	}
	type result struct {
		p   pricefeed.Price
		err error
	}
	res := make(chan result, 1)
	go func() {
		p, err := rp.Next(ctx)
		res <- result{p, err}
	}()
	clk.WaitTimers(1) // the replay waits for the second trade
	cancel()
	if r := <-res; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Next after cancel = %v, %v", r.p, r.err)
	}
	// The canceled price is still there for the next call.
	go func() {
		p, err := rp.Next(context.Background())
		res <- result{p, err}
	}()
	clk.WaitTimers(1)
	clk.Advance(time.Second)
	if r := <-res; r.err != nil || r.p.Ticks != 2 || !r.p.Time.Equal(t0.Add(time.Second)) {
		t.Fatalf("second = %v, %v", r.p, r.err)
	}
	if _, err := rp.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("after the end: %v, want io.EOF", err)
	}
}

func TestReplayOptionErrors(t *testing.T) {
	for _, speed := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, err := pricefeed.NewTradeReplay(nil, pricefeed.WithSpeed(speed)); err == nil || !strings.Contains(err.Error(), "WithSpeed(") {
			t.Errorf("speed %v: error %v", speed, err)
		}
	}
	if _, err := pricefeed.NewCandleReplay(nil, pricefeed.WithReplayClock(nil)); err == nil {
		t.Error("nil clock: no error")
	}
	rp, err := pricefeed.NewTradeReplay(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("empty replay: %v, want io.EOF", err)
	}
}

// fakeExchange serves SubscribePrices from a channel; every other method
// panics through the nil embedded interface.
type fakeExchange struct {
	exchange.IExchange
	ch     chan exchange.PriceUpdate
	err    error
	symbol string
}

func (f *fakeExchange) Name() string { return "fake" }

func (f *fakeExchange) SubscribePrices(_ context.Context, symbol string) (<-chan exchange.PriceUpdate, error) {
	f.symbol = symbol
	return f.ch, f.err
}

func TestExchangeSource(t *testing.T) {
	d := decimal.RequireFromString
	at := t0.Add(time.Second)
	ex := &fakeExchange{ch: make(chan exchange.PriceUpdate, 10)}
	ex.ch <- exchange.PriceUpdate{Symbol: "BTCUSDT", Price: d("61800.3"), Time: at}
	ex.ch <- exchange.PriceUpdate{Symbol: "BTCUSDT", Price: d("61800.25"), Time: at}                      // half a tick: away from zero
	ex.ch <- exchange.PriceUpdate{Symbol: "ETHUSDT", Price: d("2500"), Time: at}                          // another symbol: skipped
	ex.ch <- exchange.PriceUpdate{Symbol: "BTCUSDT", Time: at}                                            // no price: skipped
	ex.ch <- exchange.PriceUpdate{Symbol: "BTCUSDT", Bid: d("61800.2"), Ask: d("61800.5"), Time: at}      // mid 61800.35 → up
	ex.ch <- exchange.PriceUpdate{Symbol: "BTCUSDT", Bid: d("61800.6"), Ask: d("61800.5"), Time: at}      // crossed: skipped
	ex.ch <- exchange.PriceUpdate{Price: d("61801"), Time: at}                                            // no symbol: taken
	ex.ch <- exchange.PriceUpdate{Symbol: "BTCUSDT", Price: d("-1"), Bid: d("1"), Ask: d("-2"), Time: at} // skipped
	close(ex.ch)
	src, err := pricefeed.NewExchangeSource(ex, "BTCUSDT", btcRules)
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, src)
	want := []pricefeed.Price{{Ticks: 618003, Time: at}, {Ticks: 618003, Time: at}, {Ticks: 618004, Time: at}, {Ticks: 618010, Time: at}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if src.Skipped() != 4 || ex.symbol != "BTCUSDT" {
		t.Errorf("Skipped = %d, subscribed %q", src.Skipped(), ex.symbol)
	}
}

func TestExchangeSourceErrors(t *testing.T) {
	_, err := pricefeed.NewExchangeSource(nil, "", exchange.Rules{})
	for _, want := range []string{"exchange is nil", "symbol is empty", "TickSize 0 must be positive"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	refused := &fakeExchange{err: exchange.ErrAuth}
	src, err := pricefeed.NewExchangeSource(refused, "BTCUSDT", btcRules)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Next(context.Background()); !errors.Is(err, exchange.ErrAuth) {
		t.Errorf("Next = %v, want ErrAuth wrapped", err)
	}
	idle := &fakeExchange{ch: make(chan exchange.PriceUpdate)}
	src, err = pricefeed.NewExchangeSource(idle, "BTCUSDT", btcRules)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next on an ended context = %v", err)
	}
}

// TestMonitorFromExchange wires an exchange stream through Run to a
// subscriber.
func TestMonitorFromExchange(t *testing.T) {
	ex := &fakeExchange{ch: make(chan exchange.PriceUpdate)}
	src, err := pricefeed.NewExchangeSource(ex, "BTCUSDT", btcRules)
	if err != nil {
		t.Fatal(err)
	}
	m := newMonitor(t, pricefeed.WithInterval(0))
	ch := m.Subscribe(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(context.Background(), src) }()
	ex.ch <- exchange.PriceUpdate{Symbol: "BTCUSDT", Price: decimal.RequireFromString("61800.3"), Time: t0}
	if got := recv(t, ch); got != 618003 {
		t.Errorf("got %d, want 618003", got)
	}
	close(ex.ch)
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v, want nil at the end of the stream", err)
	}
}
