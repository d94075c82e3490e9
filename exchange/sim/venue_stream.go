package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// queueSub is a subscription that never drops: the venue appends to an
// unbounded queue under the subscription's lock, and the subscription's
// goroutine moves the queue to the channel, blocking on the consumer until
// the subscription's context ends or the venue closes.
type queueSub[T any] struct {
	ch    chan T
	mu    sync.Mutex
	queue []T
	wake  chan struct{} // capacity 1
}

func newQueueSub[T any]() *queueSub[T] {
	return &queueSub[T]{ch: make(chan T), wake: make(chan struct{}, 1)}
}

func (s *queueSub[T]) push(e T) {
	s.mu.Lock()
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run delivers until ctx ends or done closes, then calls unregister and
// closes the channel.
func (s *queueSub[T]) run(ctx context.Context, done <-chan struct{}, unregister func()) {
	defer close(s.ch)
	defer unregister()
	var batch []T
	for {
		s.mu.Lock()
		batch, s.queue = s.queue, batch[:0]
		s.mu.Unlock()
		for _, e := range batch {
			select {
			case s.ch <- e:
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
		if len(batch) > 0 {
			clear(batch)
			continue
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return
		case <-done:
			return
		}
	}
}

// priceSub is a latest-wins subscription: a channel of capacity 1 whose
// stale value the writer replaces, so the writer never blocks. Sends and
// the close happen under the venue's lock.
type priceSub struct {
	ch chan exchange.PriceUpdate
}

func (s *priceSub) offer(u exchange.PriceUpdate) {
	select {
	case s.ch <- u:
		return
	default:
	}
	select { // full: replace the stale price
	case <-s.ch:
	default:
	}
	select {
	case s.ch <- u:
	default:
	}
}

// SubscribePrices streams the symbol's price: every SetPrice, latest wins.
// A slow consumer skips intermediate prices but always receives the newest;
// the writer never blocks. The latest price, if any, is delivered at once.
// The channel closes when ctx ends or the venue closes.
func (v *Venue) SubscribePrices(ctx context.Context, symbol string) (<-chan exchange.PriceUpdate, error) {
	if err := v.checkSymbol(symbol); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &priceSub{ch: make(chan exchange.PriceUpdate, 1)}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, exchange.ErrClosed
	}
	v.priceSubs[s] = struct{}{}
	if v.hasPrice {
		s.offer(v.lastPrice)
	}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		select {
		case <-ctx.Done():
		case <-v.done:
		}
		v.mu.Lock()
		delete(v.priceSubs, s)
		close(s.ch)
		v.mu.Unlock()
	}()
	return s.ch, nil
}

// SubscribeUserData streams order and account events. The first event is
// EventReady; then every order change as EventOrder (NEW on acceptance,
// PARTIALLY_FILLED and FILLED with the cumulative FilledQty and the fill's
// signed fee in the quote asset, CANCELED, EXPIRED; liquidation fills with
// Kind ExecLiquidation), and EventAccount after every batch of fills
// (Reason "ORDER", as Binance's ACCOUNT_UPDATE), funding ("FUNDING_FEE")
// and liquidations ("LIQUIDATION"), carrying the balance and the
// symbol's positions with their mark and liquidation prices, so position
// and liquidation monitors see their data in paper trading.
// Events are never dropped (unless fault injection says so): each
// subscriber has an unbounded queue. The channel closes when ctx ends or
// the venue closes.
func (v *Venue) SubscribeUserData(ctx context.Context) (<-chan exchange.UserEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := newQueueSub[exchange.UserEvent]()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, exchange.ErrClosed
	}
	s.push(exchange.UserEvent{Kind: exchange.EventReady, Time: v.clock()})
	v.userSubs[s] = struct{}{}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		s.run(ctx, v.done, func() {
			v.mu.Lock()
			delete(v.userSubs, s)
			v.mu.Unlock()
		})
	}()
	return s.ch, nil
}

// SubscribeKlines streams 1-minute candles built from the prices given to
// SetPrice: an update (Closed false) after every price, and the final
// candle (Closed true) when the first price of the next minute arrives.
// Volume is zero: the feed carries no volume. Only interval "1m" is
// offered; others fail with exchange.ErrUnsupported. Candles are never
// dropped. The channel closes when ctx ends or the venue closes.
func (v *Venue) SubscribeKlines(ctx context.Context, symbol, interval string) (<-chan exchange.Kline, error) {
	if err := v.checkSymbol(symbol); err != nil {
		return nil, err
	}
	if interval != "1m" {
		return nil, fmt.Errorf("sim: kline interval %q (only \"1m\"): %w", interval, exchange.ErrUnsupported)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := newQueueSub[exchange.Kline]()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, exchange.ErrClosed
	}
	v.klineSubs[s] = struct{}{}
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		s.run(ctx, v.done, func() {
			v.mu.Lock()
			delete(v.klineSubs, s)
			v.mu.Unlock()
		})
	}()
	return s.ch, nil
}

// klineState is the 1-minute candle being built.
type klineState struct {
	open       time.Time
	o, h, l, c exchange.Ticks
	started    bool
}

// updateKline folds a price into the current candle and publishes. Called
// with v.mu held.
func (v *Venue) updateKline(now time.Time, p exchange.Ticks) {
	k := &v.kline
	minute := now.Truncate(time.Minute)
	if k.started && minute.After(k.open) {
		v.publishKline(true)
		k.started = false
	}
	if !k.started {
		*k = klineState{open: minute, o: p, h: p, l: p, c: p, started: true}
	} else {
		k.h, k.l, k.c = max(k.h, p), min(k.l, p), p
	}
	v.publishKline(false)
}

func (v *Venue) publishKline(closed bool) {
	if len(v.klineSubs) == 0 {
		return
	}
	k := v.kline
	kl := exchange.Kline{
		Symbol: v.rules.Symbol, Interval: "1m", OpenTime: k.open, CloseTime: k.open.Add(time.Minute - time.Millisecond),
		Open: v.rules.TicksToPrice(k.o), High: v.rules.TicksToPrice(k.h), Low: v.rules.TicksToPrice(k.l), Close: v.rules.TicksToPrice(k.c),
		Closed: closed,
	}
	for s := range v.klineSubs {
		s.push(kl)
	}
}
