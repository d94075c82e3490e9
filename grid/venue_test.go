package grid

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// bookVenue is the tests' minimal venue: it acknowledges every order,
// fills resting limits at their price when the price reaches them and
// crossing ones at once, and tracks the position. It lets the engine's
// tests run without the simulator (grid may not import exchange/sim).
type bookVenue struct {
	t        testing.TB
	e        *Engine
	now      time.Time
	price    exchange.Ticks
	orders   map[OrderRef]Intent
	position exchange.Steps
	log      []string
	queue    []Intent
	// rejectPostOnly refuses post-only orders that would cross.
	rejectPostOnly bool
	checkEvery     bool
	onIntent       func(Intent)
}

func newBookVenue(t testing.TB, e *Engine, start exchange.Ticks) *bookVenue {
	v := &bookVenue{t: t, e: e, now: time.Unix(1_700_000_000, 0), price: start, orders: map[OrderRef]Intent{}, rejectPostOnly: true, checkEvery: true}
	v.run(e.OnPrice(v.now, start))
	v.run(e.OnStreamReady(v.now))
	return v
}

// run carries out intents and everything they cause.
func (v *bookVenue) run(in []Intent) {
	v.queue = append(v.queue, in...)
	for len(v.queue) > 0 {
		it := v.queue[0]
		v.queue = v.queue[1:]
		v.log = append(v.log, it.String())
		if v.onIntent != nil {
			v.onIntent(it)
		}
		switch it.Kind {
		case IntentPlace:
			crosses := it.Market || (it.Side == exchange.Buy && it.Price >= v.price) || (it.Side == exchange.Sell && it.Price <= v.price)
			if crosses && it.PostOnly && v.rejectPostOnly {
				v.apply(OrderEvent{Ref: it.Ref, Type: OrderRejected, Reason: "post-only"})
				continue
			}
			v.apply(OrderEvent{Ref: it.Ref, Type: OrderAccepted})
			if crosses {
				v.fill(it, v.price)
			} else {
				v.orders[it.Ref] = it
			}
		case IntentCancel:
			if o, ok := v.orders[it.Ref]; ok {
				delete(v.orders, it.Ref)
				v.apply(OrderEvent{Ref: o.Ref, Type: OrderCanceled})
			}
		case IntentQuery:
			v.apply(OrderEvent{Ref: it.Ref, Type: OrderNotFound})
		}
	}
}

func (v *bookVenue) fill(it Intent, px exchange.Ticks) {
	if it.Side == exchange.Buy {
		v.position += it.Qty
	} else {
		v.position -= it.Qty
	}
	v.apply(OrderEvent{Ref: it.Ref, Type: OrderFilled, CumQty: it.Qty, Price: px})
}

func (v *bookVenue) apply(ev OrderEvent) {
	in, err := v.e.Apply(v.now, ev)
	if err != nil {
		v.t.Fatalf("apply %+v: %v", ev, err)
	}
	v.queue = append(v.queue, in...)
}

// tick moves the price, fills what it reaches in path order, then tells the engine.
func (v *bookVenue) tick(p exchange.Ticks) {
	v.now = v.now.Add(time.Second)
	old := v.price
	v.price = p
	var hit []Intent
	for _, o := range v.orders {
		if (o.Side == exchange.Buy && p <= o.Price) || (o.Side == exchange.Sell && p >= o.Price) {
			hit = append(hit, o)
		}
	}
	sort.Slice(hit, func(i, j int) bool {
		if p < old {
			return hit[i].Price > hit[j].Price
		}
		return hit[i].Price < hit[j].Price
	})
	for _, o := range hit {
		delete(v.orders, o.Ref)
		v.fill(o, o.Price)
	}
	v.run(nil)
	v.run(v.e.OnPrice(v.now, p))
	if v.checkEvery {
		v.check()
	}
}

// check asserts the engine's invariants, the position against the venue's,
// and that a full re-tend of the window wants nothing the incremental
// sweep missed.
func (v *bookVenue) check() {
	v.t.Helper()
	if err := v.e.CheckInvariants(); err != nil {
		v.t.Fatalf("invariants: %v", err)
	}
	if v.e.Books().Position != v.position {
		v.t.Fatalf("engine position %d, venue %d", v.e.Books().Position, v.position)
	}
	live := 0
	v.e.Slots(func(s SlotView) {
		if s.Slot.Live() {
			live++
		}
	})
	if live != len(v.orders) {
		v.t.Fatalf("engine has %d live orders, venue %d", live, len(v.orders))
	}
	v.e.out = v.e.out[:0]
	v.e.tendAll(v.now)
	if len(v.e.out) > 0 {
		v.t.Fatalf("full re-tend at price %d wants %v: the incremental sweep missed them", v.price, v.e.out)
	}
}

func (v *bookVenue) String() string { return fmt.Sprint(v.log) }
