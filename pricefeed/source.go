package pricefeed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// Source is a pull-style stream of one symbol's prices, what
// [Feed.Run] reads. Next blocks until the next price, and returns io.EOF
// when the source has no more (a finished replay, a closed stream), or
// ctx's error promptly once ctx ends. A Source is read by one goroutine;
// push-style feeds call [Feed.Publish] instead.
type Source interface {
	Next(ctx context.Context) (Price, error)
}

var (
	_ Source = (*ExchangeSource)(nil)
	_ Source = (*Replay)(nil)
)

// ExchangeSource is a [Source] over a venue's price stream
// ([exchange.IExchange.SubscribePrices]), converting each decimal price to
// ticks of the symbol's rules, rounded to the nearest tick (half away from
// zero). An update with no positive Price but a positive Bid and Ask gives
// their midpoint (rounded half up, as [BookTick.Mid]); an update with no
// usable price or of another symbol is counted ([ExchangeSource.Skipped])
// and skipped. An update with a zero Time is stamped with the wall clock.
//
// The stream is subscribed on the first Next, with that call's context,
// which must outlive the later calls (Feed.Run passes one context to
// every call). The stream ending gives io.EOF.
//
// Build one with [NewExchangeSource]; the zero value is not usable. Next is
// not safe for concurrent use; Skipped is.
type ExchangeSource struct {
	ex      exchange.IExchange
	symbol  string
	rules   exchange.Rules
	tp      exchange.GridParser // rules' ticks, when fast
	fast    bool                // the tick is within tp's range
	ch      <-chan exchange.PriceUpdate
	skipped atomic.Uint64
}

// NewExchangeSource returns a source of symbol's prices from ex, counted in
// ticks of rules. It reports a nil exchange, an empty symbol and rules
// without a positive tick size.
func NewExchangeSource(ex exchange.IExchange, symbol string, rules exchange.Rules) (*ExchangeSource, error) {
	var errs []error
	if ex == nil {
		errs = append(errs, errors.New("pricefeed: NewExchangeSource: exchange is nil"))
	}
	if symbol == "" {
		errs = append(errs, errors.New("pricefeed: NewExchangeSource: symbol is empty"))
	}
	if !rules.TickSize.IsPositive() {
		errs = append(errs, fmt.Errorf("pricefeed: NewExchangeSource: rules.TickSize %s must be positive", rules.TickSize))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// A tick the parser cannot represent (more than 18 places): the
	// source then divides decimals.
	tp, err := rules.TickParser()
	return &ExchangeSource{ex: ex, symbol: symbol, rules: rules, tp: tp, fast: err == nil}, nil
}

// Skipped returns how many updates were skipped as unusable.
func (s *ExchangeSource) Skipped() uint64 { return s.skipped.Load() }

// Next returns the next usable price of the stream.
func (s *ExchangeSource) Next(ctx context.Context) (Price, error) {
	if s.ch == nil {
		ch, err := s.ex.SubscribePrices(ctx, s.symbol)
		if err != nil {
			return Price{}, fmt.Errorf("pricefeed: subscribe %s prices on %s: %w", s.symbol, s.ex.Name(), err)
		}
		s.ch = ch
	}
	for {
		select {
		case <-ctx.Done():
			return Price{}, ctx.Err()
		case u, ok := <-s.ch:
			if !ok {
				return Price{}, io.EOF
			}
			t, ok := s.ticks(u)
			if !ok {
				s.skipped.Add(1)
				continue
			}
			at := u.Time
			if at.IsZero() {
				at = time.Now()
			}
			return Price{Ticks: t, Time: at}, nil
		}
	}
}

func (s *ExchangeSource) ticks(u exchange.PriceUpdate) (exchange.Ticks, bool) {
	if u.Symbol != "" && u.Symbol != s.symbol {
		return 0, false
	}
	if u.Price.IsPositive() {
		return s.toTicks(u.Price)
	}
	if u.Bid.IsPositive() && u.Ask.IsPositive() && !u.Bid.GreaterThan(u.Ask) {
		b, ok1 := s.toTicks(u.Bid)
		a, ok2 := s.toTicks(u.Ask)
		return midTicks(b, a), ok1 && ok2
	}
	return 0, false
}

// toTicks converts a positive price to the nearest tick: in int64
// arithmetic through the rules' tick parser, with no allocation (the
// decimal division it replaces cost about a dozen per tick on the live
// path), or by dividing decimals when the tick is beyond the parser.
func (s *ExchangeSource) toTicks(p decimal.Decimal) (exchange.Ticks, bool) {
	if !s.fast {
		return toTicks(p, s.rules.TickSize)
	}
	n, err := s.tp.FromDecimal(p)
	if err != nil || n <= 0 {
		return 0, false
	}
	return exchange.Ticks(n), true
}

var maxTicks = decimal.NewFromInt(math.MaxInt64 / 4)

// toTicks converts a positive price to the nearest tick.
func toTicks(p, tick decimal.Decimal) (exchange.Ticks, bool) {
	q := p.Div(tick).Round(0)
	if !q.IsPositive() || q.GreaterThan(maxTicks) {
		return 0, false
	}
	return exchange.Ticks(q.IntPart()), true
}

// Replay is a [Source] that plays recorded trades, or candles expanded into
// their [Candle.Path], paced by their recorded times divided by a speed
// factor (speed 2 plays twice as fast as recorded, 0 as fast as Next is
// called). Pacing is anchored to the first Next: the k-th price is
// returned no earlier than start + (t_k − t_0)/speed on the replay's clock,
// so waits do not drift. The Price's Time is the recorded time (UTC), or
// the clock's time with [WithStampNow].
//
// A candle's four path prices are placed at OpenTime, OpenTime + d/4,
// + d/2 and + 3d/4, where d is the candle interval: the smallest positive
// gap between consecutive open times (one minute for a single candle).
//
// Build one with [NewTradeReplay] or [NewCandleReplay]; the zero value is
// an exhausted replay. A Replay is not safe for concurrent use.
type Replay struct {
	n     int                                 // number of prices
	at    func(i int) (int64, exchange.Ticks) // i-th recorded ms and price
	i     int
	speed float64
	clock Clock
	stamp bool

	started bool
	start   time.Time // clock time of the first Next
	base    int64     // recorded ms of the first price
}

// ReplayOption configures a [Replay].
type ReplayOption interface{ applyReplay(*replayOptions) }

type replayOptions struct {
	speed float64
	clock Clock
	stamp bool
}

type replayOptionFunc func(*replayOptions)

func (f replayOptionFunc) applyReplay(o *replayOptions) { f(o) }

// WithSpeed sets the replay speed factor: 1 (the default) is real time,
// 60 plays a minute a second, 0 does not wait at all. Negative, NaN and
// infinite speeds are errors.
func WithSpeed(f float64) ReplayOption {
	return replayOptionFunc(func(o *replayOptions) { o.speed = f })
}

// WithReplayClock sets the clock the replay waits on. Default [SystemClock].
func WithReplayClock(c Clock) ReplayOption {
	return replayOptionFunc(func(o *replayOptions) { o.clock = c })
}

// WithStampNow makes the replay stamp each Price with the clock's time when
// it is returned instead of its recorded time, for paper trading on a live
// clock.
func WithStampNow() ReplayOption {
	return replayOptionFunc(func(o *replayOptions) { o.stamp = true })
}

func newReplay(n int, at func(int) (int64, exchange.Ticks), opts []ReplayOption) (*Replay, error) {
	o := replayOptions{speed: 1, clock: SystemClock()}
	for _, opt := range opts {
		if opt != nil {
			opt.applyReplay(&o)
		}
	}
	var errs []error
	if o.speed < 0 || math.IsNaN(o.speed) || math.IsInf(o.speed, 0) {
		errs = append(errs, fmt.Errorf("pricefeed: replay: WithSpeed(%v) must be a finite number ≥ 0", o.speed))
	}
	if o.clock == nil {
		errs = append(errs, errors.New("pricefeed: replay: WithReplayClock(nil)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Replay{n: n, at: at, speed: o.speed, clock: o.clock, stamp: o.stamp}, nil
}

// NewTradeReplay returns a replay of trades' prices. The slice is read, not
// copied: do not change it while replaying.
func NewTradeReplay(trades []Trade, opts ...ReplayOption) (*Replay, error) {
	return newReplay(len(trades), func(i int) (int64, exchange.Ticks) {
		return trades[i].Time, trades[i].Price
	}, opts)
}

// NewCandleReplay returns a replay of candles, each as its four-price
// [Candle.Path]. The slice is read, not copied.
func NewCandleReplay(candles []Candle, opts ...ReplayOption) (*Replay, error) {
	d := int64(time.Minute / time.Millisecond)
	found := false
	for i := 1; i < len(candles); i++ {
		if g := candles[i].OpenTime - candles[i-1].OpenTime; g > 0 && (!found || g < d) {
			d, found = g, true
		}
	}
	return newReplay(4*len(candles), func(i int) (int64, exchange.Ticks) {
		c := &candles[i/4]
		k := int64(i % 4)
		return c.OpenTime + k*d/4, c.Path()[k]
	}, opts)
}

// Len returns how many prices the replay has left.
func (r *Replay) Len() int { return r.n - r.i }

// Next returns the next recorded price once its time has come, io.EOF
// after the last, or ctx's error if ctx ends while waiting.
func (r *Replay) Next(ctx context.Context) (Price, error) {
	if r.i >= r.n {
		return Price{}, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return Price{}, err
	}
	ms, ticks := r.at(r.i)
	if r.speed > 0 {
		if !r.started {
			r.started, r.start, r.base = true, r.clock.Now(), ms
		}
		due := r.start.Add(time.Duration(float64(ms-r.base) * float64(time.Millisecond) / r.speed))
		if wait := due.Sub(r.clock.Now()); wait > 0 {
			t := r.clock.NewTimer(wait)
			select {
			case <-t.C():
			case <-ctx.Done():
				t.Stop()
				return Price{}, ctx.Err()
			}
		}
	}
	r.i++
	at := time.UnixMilli(ms).UTC()
	if r.stamp {
		at = r.clock.Now()
	}
	return Price{Ticks: ticks, Time: at}, nil
}
