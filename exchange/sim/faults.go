package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// Faults configures deterministic fault injection on a [Venue]. Each field
// but Seed is a probability in [0, 1], drawn from one generator seeded by
// Seed in the order the venue handles requests and events, so the same
// calls in the same order meet the same faults. The zero value injects no
// fault. It is a plain value.
//
// Order-update stream faults apply to every user event (not to the first
// EventReady of a subscription), once, before the fan-out, so every
// subscriber sees the same faulty stream.
type Faults struct {
	// Seed seeds the generator.
	Seed uint64

	// DropUpdate loses a user event.
	DropUpdate float64
	// DuplicateUpdate delivers a user event twice in a row.
	DuplicateUpdate float64
	// DelayUpdate holds a user event back until the next price tick
	// (SetPrice), where it is delivered before the tick's own events.
	DelayUpdate float64
	// ReorderUpdate holds a user event back until the next one has passed
	// (or the next price tick).
	ReorderUpdate float64
	// Disconnect drops the stream at a user event: subscribers get
	// EventDisconnected, every event until the next price tick is lost,
	// and the tick starts with EventReady{Reconnected: true}.
	Disconnect float64

	// RateLimited refuses a request with *exchange.RateLimitError
	// (RetryAfter 1 s) before it takes effect.
	RateLimited float64
	// Unavailable refuses a request with a 503 *exchange.VenueError
	// matching exchange.ErrUnavailable before it takes effect.
	Unavailable float64
	// InsufficientMargin refuses a placement with a *exchange.VenueError
	// matching exchange.ErrInsufficientMargin (Binance -2019).
	InsufficientMargin float64
	// LostResponse executes a placement or cancel but answers with
	// *exchange.UnknownOutcomeError (the response was lost).
	LostResponse float64
	// FailedUnknown does not execute a placement or cancel and answers with
	// *exchange.UnknownOutcomeError (the request was lost).
	FailedUnknown float64

	// ExchangeCancel cancels one live order (chosen by the generator) at a
	// price tick, as a venue's risk engine might; its update is CANCELED
	// with Reason "EXCHANGE_CANCEL".
	ExchangeCancel float64
}

func (f Faults) validate() error {
	var errs []error
	for _, p := range []struct {
		name string
		v    float64
	}{
		{"DropUpdate", f.DropUpdate}, {"DuplicateUpdate", f.DuplicateUpdate}, {"DelayUpdate", f.DelayUpdate},
		{"ReorderUpdate", f.ReorderUpdate}, {"Disconnect", f.Disconnect}, {"RateLimited", f.RateLimited},
		{"Unavailable", f.Unavailable}, {"InsufficientMargin", f.InsufficientMargin},
		{"LostResponse", f.LostResponse}, {"FailedUnknown", f.FailedUnknown}, {"ExchangeCancel", f.ExchangeCancel},
	} {
		if math.IsNaN(p.v) || p.v < 0 || p.v > 1 {
			errs = append(errs, fmt.Errorf("%w: VenueConfig.Faults.%s = %v: must be a probability in [0, 1]", ErrInvalidConfig, p.name, p.v))
		}
	}
	return errors.Join(errs...)
}

type faultOp uint8

const (
	opPlace faultOp = iota + 1
	opCancel
	opQuery
)

func (op faultOp) String() string {
	switch op {
	case opPlace:
		return "place"
	case opCancel:
		return "cancel"
	}
	return "query"
}

// errLost is the cause inside injected unknown outcomes.
var errLost = errors.New("sim: injected fault: connection lost")

// faultState is the injector's state; a nil *faultState injects nothing.
// It is used with the venue's lock held.
type faultState struct {
	cfg          Faults
	rng          *rand.Rand
	held         []exchange.UserEvent
	reordered    []exchange.UserEvent // at most one
	disconnected bool
	views        []OrderView
}

func newFaultState(f Faults) *faultState {
	seedless := f
	seedless.Seed = 0
	if seedless == (Faults{}) {
		return nil
	}
	return &faultState{cfg: f, rng: rand.New(rand.NewPCG(f.Seed, 0x5eed_fa17))}
}

// hit draws once when p > 0.
func (f *faultState) hit(p float64) bool {
	return p > 0 && f.rng.Float64() < p
}

// requestFault is the injected outcome of one request: err nil means none;
// afterEffect means the request takes effect and err replaces its answer.
type requestFault struct {
	err         error
	afterEffect bool
}

func (f *faultState) request(op faultOp, now time.Time) requestFault {
	if f == nil {
		return requestFault{}
	}
	switch {
	case f.hit(f.cfg.RateLimited):
		return requestFault{err: &exchange.RateLimitError{RetryAfter: time.Second, Err: errors.New("sim: injected fault: rate limited")}}
	case f.hit(f.cfg.Unavailable):
		return requestFault{err: &exchange.VenueError{Venue: "sim", Code: -1001, Msg: "injected fault: service unavailable", HTTPStatus: 503, Kind: exchange.ErrUnavailable}}
	}
	if op == opQuery {
		return requestFault{}
	}
	switch {
	case op == opPlace && f.hit(f.cfg.InsufficientMargin):
		return requestFault{err: &exchange.VenueError{Venue: "sim", Code: -2019, Msg: "injected fault: margin is insufficient", Kind: exchange.ErrInsufficientMargin}}
	case f.hit(f.cfg.LostResponse):
		return requestFault{err: &exchange.UnknownOutcomeError{Op: op.String(), SentAt: now, Err: errLost}, afterEffect: true}
	case f.hit(f.cfg.FailedUnknown):
		return requestFault{err: &exchange.UnknownOutcomeError{Op: op.String(), SentAt: now, Err: errLost}}
	}
	return requestFault{}
}

// stream passes one user event through the stream faults.
func (f *faultState) stream(v *Venue, e exchange.UserEvent) {
	if f.disconnected {
		return
	}
	if f.hit(f.cfg.Disconnect) {
		f.disconnected = true
		v.fanOut(exchange.UserEvent{Kind: exchange.EventDisconnected, Time: e.Time, Reason: "injected fault"})
		return
	}
	if f.hit(f.cfg.DropUpdate) {
		return
	}
	if f.hit(f.cfg.DelayUpdate) {
		f.held = append(f.held, e)
		return
	}
	if len(f.reordered) == 0 && f.hit(f.cfg.ReorderUpdate) {
		f.reordered = append(f.reordered, e)
		return
	}
	v.fanOut(e)
	if f.hit(f.cfg.DuplicateUpdate) {
		v.fanOut(e)
	}
	f.flushReordered(v)
}

func (f *faultState) flushReordered(v *Venue) {
	for _, e := range f.reordered {
		v.fanOut(e)
	}
	clear(f.reordered)
	f.reordered = f.reordered[:0]
}

// beforeTick reconnects, releases held events and maybe cancels an order
// on the exchange's side, before a price tick.
func (f *faultState) beforeTick(v *Venue, now time.Time) {
	if f == nil {
		return
	}
	if f.disconnected {
		f.disconnected = false
		v.fanOut(exchange.UserEvent{Kind: exchange.EventReady, Time: now, Reconnected: true})
	}
	f.flushReordered(v)
	for _, e := range f.held {
		v.fanOut(e)
	}
	clear(f.held)
	f.held = f.held[:0]
	if !f.hit(f.cfg.ExchangeCancel) {
		return
	}
	f.views = v.core.AppendOpenOrders(f.views[:0])
	if len(f.views) == 0 {
		return
	}
	id := f.views[f.rng.IntN(len(f.views))].ID
	if vo := v.orders[id]; vo != nil {
		vo.reason = "EXCHANGE_CANCEL"
	}
	if err := v.core.Cancel(now, id); err != nil {
		v.log.Error("sim: injected exchange cancel", "orderId", id, "err", err)
		return
	}
	v.drain(now)
}

// SetFaults replaces the venue's fault configuration from now on. On a
// venue built with faults, Seed is ignored: the generator carries on where
// it was, so the same calls in the same order still meet the same faults. Events the faults
// already hold back are released at the next price tick, and a dropped
// stream reconnects there, whatever the new configuration; the zero value
// injects no new fault. A soak uses it to calm the venue before comparing
// books at a quiet point. It fails, changing nothing, when a probability is
// out of [0, 1].
func (v *Venue) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.faults == nil {
		v.faults = newFaultState(f)
		return nil
	}
	f.Seed = v.faults.cfg.Seed
	v.faults.cfg = f
	return nil
}
