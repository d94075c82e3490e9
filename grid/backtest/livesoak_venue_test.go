package backtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
)

// The live-path soak's venue and store (see livesoak_test.go).

// soakVenue is a sim.Venue as the live soak's runners see it: it declares
// a receive window, adds the faults the simulator does not draw itself (a
// rate-limit refusal of every request for a while, with a Retry-After; a
// 503; a request that stays on the wire, landing whatever its sender does)
// and watches what must never happen on a venue: a client order ID sent
// twice, and two live orders for one slot.
type soakVenue struct {
	*sim.Venue
	recv time.Duration

	mu         sync.Mutex
	rng        *rand.Rand
	calm       bool
	limitUntil time.Time     // every request is refused with a 429 until then
	wireP      float64       // chance that a placement or cancel stays on the wire
	wireMax    time.Duration // for up to this long (under the receive window)
	busyP      float64       // chance of a 503 before the request takes effect
	lostMarket float64       // chance that a market order (a hard stop's close, an initial position) is lost on its way
	used       map[string]int
	violations []string
	wire       atomic.Int64 // requests on the wire now
	limited    int          // requests refused for rate
	shared     *sharedIP    // a window shared with another program (nil: none)
	restricted atomic.Bool  // the symbol does not trade: its rules answer ErrTradingRestricted
	stale      staleWatch   // how far past its window each grid limit order arrives
	crowd      *crowdWatch  // the crowd profile's watch (nil: none)
}

// Rules answers exchange.ErrTradingRestricted while the symbol's trading
// is halted.
func (v *soakVenue) Rules(ctx context.Context, symbol string) (exchange.Rules, error) {
	if v.restricted.Load() {
		return exchange.Rules{}, fmt.Errorf("soak: %s: trading halted: %w", symbol, exchange.ErrTradingRestricted)
	}
	return v.Venue.Rules(ctx, symbol)
}

func (v *soakVenue) ReceiveWindow() time.Duration { return v.recv }

func (v *soakVenue) violate(format string, a ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.violations = append(v.violations, fmt.Sprintf(time.Now().UTC().Format("15:04:05.000 ")+format, a...))
}

// throttle refuses every request for d from now, each with the time left
// as its Retry-After.
func (v *soakVenue) throttle(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.limitUntil = time.Now().Add(d)
}

func (v *soakVenue) setCalm(on bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calm = on
}

// gate draws the wrapper's faults for one request: a refusal (nil when the
// request goes on) and how long it stays on the wire.
func (v *soakVenue) gate(ctx context.Context, mutating bool) (error, time.Duration) {
	now := time.Now()
	if v.shared != nil {
		if err := v.shared.take(ctx, now); err != nil {
			return err, 0
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.Before(v.limitUntil) {
		v.limited++
		return &exchange.RateLimitError{RetryAfter: v.limitUntil.Sub(now), Err: errors.New("soak: 429 back-pressure")}, 0
	}
	if v.calm {
		return nil, 0
	}
	if v.rng.Float64() < v.busyP {
		return &exchange.VenueError{Venue: "soak", Code: -1001, Msg: "soak: service unavailable", HTTPStatus: 503, Kind: exchange.ErrUnavailable}, 0
	}
	if mutating && v.rng.Float64() < v.wireP {
		return nil, time.Duration(1 + v.rng.Int64N(int64(v.wireMax)))
	}
	return nil, 0
}

// lose draws a fault of probability p (never while calm).
func (v *soakVenue) lose(p float64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return !v.calm && p > 0 && v.rng.Float64() < p
}

// onWire keeps a request on the wire for d: it lands whatever its sender
// does meanwhile (a context that ends only ends the wait for the answer).
func (v *soakVenue) onWire(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	v.wire.Add(1)
	defer v.wire.Add(-1)
	time.Sleep(d)
	return context.WithoutCancel(ctx)
}

func (v *soakVenue) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	v.arrive(req)
	return v.placeOne(ctx, req)
}

// arrive records a placement the executor sent, as it reaches the venue
// (a batch's orders all at once, before any of them meets a fault).
func (v *soakVenue) arrive(req exchange.OrderRequest) {
	if v.crowd != nil {
		v.crowd.arrived(req.ClientOrderID)
	}
	if msg := v.stale.check(req); msg != "" {
		v.violate("%s", msg)
	}
}

// placeOne places one order that has arrived, through the wrapper's faults.
func (v *soakVenue) placeOne(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	refuse, wire := v.gate(ctx, true)
	if refuse != nil {
		return exchange.Order{}, refuse
	}
	ctx = v.onWire(ctx, wire)
	if req.Type == exchange.Market && v.lose(v.lostMarket) {
		// Lost on its way: never executed, its outcome unknown to the sender.
		v.mu.Lock()
		v.used[req.ClientOrderID]++
		v.mu.Unlock()
		return exchange.Order{}, &exchange.UnknownOutcomeError{Op: "place", SentAt: time.Now(), Err: errors.New("soak: request lost")}
	}
	o, err := v.Venue.PlaceOrder(ctx, req)
	var rl *exchange.RateLimitError
	switch {
	case errors.As(err, &rl), errors.Is(err, exchange.ErrUnavailable), errors.Is(err, exchange.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return o, err // refused before it took effect: the ID is not used
	}
	// Taken (or perhaps taken, or refused after the venue saw the ID): the
	// ID is used, whatever the answer.
	v.mu.Lock()
	v.used[req.ClientOrderID]++
	n := v.used[req.ClientOrderID]
	v.mu.Unlock()
	if n > 1 {
		v.violate("client order ID %s sent %d times (this time: %v)", req.ClientOrderID, n, err)
	}
	v.checkSlots()
	return o, err
}

// PlaceOrders places one by one, so that each order meets the faults and
// is recorded.
func (v *soakVenue) PlaceOrders(ctx context.Context, reqs []exchange.OrderRequest) ([]exchange.BatchResult, error) {
	for _, r := range reqs {
		v.arrive(r)
	}
	out := make([]exchange.BatchResult, len(reqs))
	for i, r := range reqs {
		out[i].Order, out[i].Err = v.placeOne(ctx, r)
	}
	return out, nil
}

func (v *soakVenue) CancelOrder(ctx context.Context, req exchange.CancelRequest) (exchange.Order, error) {
	refuse, wire := v.gate(ctx, true)
	if refuse != nil {
		return exchange.Order{}, refuse
	}
	return v.Venue.CancelOrder(v.onWire(ctx, wire), req)
}

func (v *soakVenue) CancelOrders(ctx context.Context, reqs []exchange.CancelRequest) ([]exchange.BatchResult, error) {
	out := make([]exchange.BatchResult, len(reqs))
	for i, r := range reqs {
		out[i].Order, out[i].Err = v.CancelOrder(ctx, r)
	}
	return out, nil
}

func (v *soakVenue) QueryOrder(ctx context.Context, symbol, clientOrderID string) (exchange.Order, error) {
	if refuse, _ := v.gate(ctx, false); refuse != nil {
		return exchange.Order{}, refuse
	}
	return v.Venue.QueryOrder(ctx, symbol, clientOrderID)
}

func (v *soakVenue) OpenOrders(ctx context.Context, symbol string) ([]exchange.Order, error) {
	if refuse, _ := v.gate(ctx, false); refuse != nil {
		return nil, refuse
	}
	return v.Venue.OpenOrders(ctx, symbol)
}

// gridOrders lists the venue's live orders by grid, each grid's by level.
func (v *soakVenue) gridOrders() map[string]map[int64][]exchange.Order {
	open, err := v.Venue.OpenOrders(context.Background(), btcRules.Symbol)
	if err != nil {
		return nil
	}
	by := map[string]map[int64][]exchange.Order{}
	for _, o := range open {
		g, ref, err := grid.ParseClientOrderID(o.ClientOrderID)
		if err != nil {
			continue
		}
		if by[g] == nil {
			by[g] = map[int64][]exchange.Order{}
		}
		by[g][ref.Level] = append(by[g][ref.Level], o)
	}
	return by
}

// checkSlots records a violation for every slot with two live orders
// (checked after every placement: the only way a slot gains one).
func (v *soakVenue) checkSlots() {
	for g, levels := range v.gridOrders() {
		for lvl, os := range levels {
			if len(os) > 1 {
				ids := make([]string, len(os))
				for i, o := range os {
					ids[i] = o.ClientOrderID
				}
				slices.Sort(ids)
				v.violate("grid %s level %d has %d live orders: %v", g, lvl, len(os), ids)
			}
		}
	}
}

func (v *soakVenue) takeViolations() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.violations
	v.violations = nil
	return out
}

// errDiskGone is the error of a frozen soakStore's saves.
var errDiskGone = errors.New("soak: the disk is gone")

// soakStore is a grid's store whose saves start failing at a moment the
// soak picks, as if the process had died just after its last good save;
// the state it keeps is that save's.
type soakStore struct {
	grid.Store
	frozen atomic.Bool
}

func (s *soakStore) Save(ctx context.Context, st grid.StoredState) error {
	if s.frozen.Load() {
		return errDiskGone
	}
	return s.Store.Save(ctx, st)
}
