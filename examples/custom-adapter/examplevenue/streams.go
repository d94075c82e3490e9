package examplevenue

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// The streams. Each Subscribe call opens one push connection to the venue
// and starts one goroutine that reads it, translates each message and
// delivers it on the returned channel. The rules every stream keeps:
//
//   - The goroutine stops when the caller's context ends or the adapter
//     closes, whichever is first, even while it is blocked delivering to a
//     consumer that stopped reading. It then closes the connection and the
//     channel. Close waits for it (a sync.WaitGroup).
//   - A price stream never blocks on a slow consumer: it keeps only the
//     newest price. The order stream never drops anything: it waits for
//     the consumer (the venue queues meanwhile, so the venue never waits).
//   - A message that cannot be read is counted ([Adapter.Malformed]),
//     logged and skipped.

// stream opens a connection to channel and reads it on a goroutine the
// adapter owns, calling handle with each message until handle returns
// false, ctx ends, the adapter closes or the connection drops; then it
// closes the connection and calls done (which closes the channel).
func (a *Adapter) stream(ctx context.Context, channel, symbol string, handle func(ctx context.Context, m Message) bool, done func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := a.srv.Subscribe(ctx, channel, symbol)
	if err != nil {
		return queryError("subscribe "+channel, err)
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		conn.Close()
		return exchange.ErrClosed
	}
	a.wg.Add(1) // under mu: Close cannot be waiting yet
	a.mu.Unlock()

	sctx, cancel := context.WithCancel(ctx)
	unlink := context.AfterFunc(a.stop, cancel) // Close ends the stream too
	go func() {
		defer a.wg.Done()
		defer done()
		defer conn.Close()
		defer unlink()
		defer cancel()
		for {
			m, err := conn.Read(sctx)
			if err != nil {
				if sctx.Err() == nil {
					// A real adapter reconnects here, with backoff, and then
					// sends EventReady{Reconnected: true} on the order stream
					// so that the engine reconciles what it missed. This
					// venue drops connections only when it shuts down, so
					// the stream simply ends.
					a.log.Warn("examplevenue: connection dropped", "channel", channel, "err", err)
				}
				return
			}
			if !handle(sctx, m) {
				return
			}
		}
	}()
	return nil
}

// skip counts and logs a message that could not be read.
func (a *Adapter) skip(channel string, err error) {
	a.malformed.Add(1)
	a.log.Warn("examplevenue: skipped a malformed message", "channel", channel, "err", err)
}

// SubscribePrices streams the symbol's last price. The newest price wins:
// a consumer that falls behind skips prices, never the latest one.
func (a *Adapter) SubscribePrices(ctx context.Context, symbol string) (<-chan exchange.PriceUpdate, error) {
	if err := a.begin(); err != nil {
		return nil, err
	}
	out := make(chan exchange.PriceUpdate, 1)
	err := a.stream(ctx, ChannelTicker, symbol, func(_ context.Context, m Message) bool {
		u, err := toPrice(m.Ticker)
		if err != nil {
			a.skip(ChannelTicker, err)
			return true
		}
		select { // replace an unread older price; only this goroutine sends
		case <-out:
		default:
		}
		out <- u
		return true
	}, func() { close(out) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

func toPrice(t NativeTicker) (exchange.PriceUpdate, error) {
	p, err := decimal.NewFromString(t.Last)
	if err != nil || !p.IsPositive() {
		return exchange.PriceUpdate{}, fmt.Errorf("examplevenue: ticker %s: field Last = %q: not a positive decimal", t.Symbol, t.Last)
	}
	return exchange.PriceUpdate{Symbol: t.Symbol, Price: p, Time: time.UnixMilli(t.Ms).UTC()}, nil
}

// SubscribeKlines streams 1-minute candles. The venue has no candle
// channel, so the adapter builds them from the ticker: an update (Closed
// false) after every price, and the final candle (Closed true) when the
// first price of the next minute arrives. Volume is zero (the ticker has
// none). Other intervals are exchange.ErrUnsupported. Candles are never
// dropped.
func (a *Adapter) SubscribeKlines(ctx context.Context, symbol, interval string) (<-chan exchange.Kline, error) {
	if err := a.begin(); err != nil {
		return nil, err
	}
	if interval != "1m" {
		return nil, fmt.Errorf("examplevenue: kline interval %q (only 1m): %w", interval, exchange.ErrUnsupported)
	}
	out := make(chan exchange.Kline)
	var k exchange.Kline // the candle being built
	send := func(ctx context.Context, k exchange.Kline) bool {
		select {
		case out <- k:
			return true
		case <-ctx.Done():
			return false
		}
	}
	err := a.stream(ctx, ChannelTicker, symbol, func(ctx context.Context, m Message) bool {
		u, err := toPrice(m.Ticker)
		if err != nil {
			a.skip(ChannelTicker, err)
			return true
		}
		minute := u.Time.Truncate(time.Minute)
		if !k.OpenTime.IsZero() && minute.After(k.OpenTime) {
			k.Closed = true
			if !send(ctx, k) {
				return false
			}
			k = exchange.Kline{}
		}
		if k.OpenTime.IsZero() {
			k = exchange.Kline{Symbol: symbol, Interval: "1m", OpenTime: minute, CloseTime: minute.Add(time.Minute - time.Millisecond),
				Open: u.Price, High: u.Price, Low: u.Price, Volume: decimal.Zero}
		}
		k.High, k.Low, k.Close = decimal.Max(k.High, u.Price), decimal.Min(k.Low, u.Price), u.Price
		return send(ctx, k)
	}, func() { close(out) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SubscribeUserData streams the account's order changes. Its first event
// is EventReady: the connection is subscribed before it is queued, so no
// change after it can be missed — the engine places nothing before it.
func (a *Adapter) SubscribeUserData(ctx context.Context) (<-chan exchange.UserEvent, error) {
	if err := a.begin(); err != nil {
		return nil, err
	}
	out := make(chan exchange.UserEvent, 1)
	out <- exchange.UserEvent{Kind: exchange.EventReady, Time: time.Now()}
	err := a.stream(ctx, ChannelOrders, "", func(ctx context.Context, m Message) bool {
		u, err := toUpdate(m)
		if err != nil {
			a.skip(ChannelOrders, err)
			return true
		}
		select {
		case out <- exchange.UserEvent{Kind: exchange.EventOrder, Time: u.Time, Order: u}:
			return true
		case <-ctx.Done():
			return false
		}
	}, func() { close(out) })
	if err != nil {
		return nil, err
	}
	return out, nil
}
