package backtest

import (
	"context"
	"fmt"
	"sync"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
)

// klineVenue is a sim.Venue whose candle streams the test drives: the
// venue's own candles carry no volume (its feed has none), and the basket's
// symbols are not its own. Each SubscribeKlines gets a channel that
// lockstep.kline feeds, closed when the subscription's context ends.
type klineVenue struct {
	*sim.Venue
	mu  sync.Mutex
	chs map[string]chan exchange.Kline
}

func newKlineVenue(v *sim.Venue) *klineVenue {
	return &klineVenue{Venue: v, chs: map[string]chan exchange.Kline{}}
}

func (v *klineVenue) SubscribeKlines(ctx context.Context, symbol, interval string) (<-chan exchange.Kline, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, dup := v.chs[symbol]; dup {
		return nil, fmt.Errorf("klineVenue: %s subscribed twice", symbol)
	}
	ch := make(chan exchange.Kline)
	v.chs[symbol] = ch
	go func() {
		<-ctx.Done()
		v.mu.Lock()
		defer v.mu.Unlock()
		close(ch)
		delete(v.chs, symbol)
	}()
	return ch, nil
}

// channel returns symbol's subscription, nil if there is none.
func (v *klineVenue) channel(symbol string) chan exchange.Kline {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.chs[symbol]
}
