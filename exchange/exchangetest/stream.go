package exchangetest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// retouchEvery is how long a wait for fills stays silent before the suite
// repeats the price move (for venues that fill a touched order in parts
// over several moves).
const retouchEvery = 100 * time.Millisecond

// userStream reads a user-data stream in the test's goroutine, keeping
// every order update it has seen so waits for one order do not lose
// another's.
type userStream struct {
	s    *suite
	ch   <-chan exchange.UserEvent
	seen []exchange.UserEvent
	// touch, when positive, is the price the suite moved the market to in
	// order to fill something: waits repeat the move after retouchEvery of
	// silence.
	touch decimal.Decimal
}

func (s *suite) subscribeUser(t tb, ctx context.Context) *userStream {
	t.Helper()
	ch, err := s.h.Exchange.SubscribeUserData(ctx)
	if err != nil {
		t.Fatalf("SubscribeUserData: %v", err)
	}
	u := &userStream{s: s, ch: ch}
	ev := u.read(t, "EventReady")
	if ev.Kind != exchange.EventReady || ev.Reconnected {
		t.Fatalf("first user-data event = %v (Reconnected %v), want READY (Reconnected false)", ev.Kind, ev.Reconnected)
	}
	return u
}

// moveTo moves the market to price and remembers it for the waits to repeat.
func (u *userStream) moveTo(t tb, price decimal.Decimal) {
	t.Helper()
	if err := u.s.h.SetPrice(u.s.ctx, price); err != nil {
		t.Fatalf("SetPrice(%s): %v", price, err)
	}
	u.touch = price
}

// next returns the next event, or false when none arrived within d. It
// fails the test if the stream closes.
func (u *userStream) next(t tb, d time.Duration, waitingFor string) (exchange.UserEvent, bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return exchange.UserEvent{}, false
		}
		if u.touch.IsPositive() && wait > retouchEvery {
			wait = retouchEvery
		}
		timer := time.NewTimer(wait)
		select {
		case ev, ok := <-u.ch:
			timer.Stop()
			if !ok {
				t.Fatalf("user-data stream closed while waiting for %s; seen: %s", waitingFor, u.describe())
			}
			u.seen = append(u.seen, ev)
			return ev, true
		case <-timer.C:
			if u.touch.IsPositive() && time.Now().Before(deadline) {
				if err := u.s.h.SetPrice(u.s.ctx, u.touch); err != nil {
					t.Fatalf("SetPrice(%s) again: %v", u.touch, err)
				}
			}
		}
	}
}

// read returns the next event, failing the test after the timeout.
func (u *userStream) read(t tb, waitingFor string) exchange.UserEvent {
	t.Helper()
	ev, ok := u.next(t, u.s.timeout, waitingFor)
	if !ok {
		t.Fatalf("no user-data event within %s while waiting for %s; seen: %s", u.s.timeout, waitingFor, u.describe())
	}
	return ev
}

func (u *userStream) describe() string {
	var b strings.Builder
	for i, ev := range u.seen {
		if i == 40 && len(u.seen) > 50 {
			fmt.Fprintf(&b, "… %d more … ", len(u.seen)-50)
			continue
		}
		if i > 40 && i < len(u.seen)-10 {
			continue
		}
		if ev.Kind == exchange.EventOrder {
			fmt.Fprintf(&b, "[%s %s %s filled %s] ", ev.Kind, ev.Order.ClientOrderID, ev.Order.Status, ev.Order.FilledQty)
		} else {
			fmt.Fprintf(&b, "[%s reconnected=%v] ", ev.Kind, ev.Reconnected)
		}
	}
	return b.String()
}

// orderUpdates returns the order updates seen so far for clientID, in order.
func (u *userStream) orderUpdates(clientID string) []exchange.OrderUpdate {
	var out []exchange.OrderUpdate
	for _, ev := range u.seen {
		if ev.Kind == exchange.EventOrder && ev.Order.ClientOrderID == clientID {
			out = append(out, ev.Order)
		}
	}
	return out
}

// lossReported reports whether the stream has said that it may have lost
// events: an EventDisconnected, or an EventReady after the first.
func (u *userStream) lossReported() bool {
	for i, ev := range u.seen {
		if ev.Kind == exchange.EventDisconnected || (ev.Kind == exchange.EventReady && (i > 0 || ev.Reconnected)) {
			return true
		}
	}
	return false
}

// waitTerminal reads until clientID has a terminal update and returns all
// of its updates.
func (u *userStream) waitTerminal(t tb, clientID string) []exchange.OrderUpdate {
	t.Helper()
	for {
		ups := u.orderUpdates(clientID)
		if n := len(ups); n > 0 && ups[n-1].Status.Terminal() {
			return ups
		}
		u.read(t, "a terminal update of "+clientID)
	}
}

// waitStatus reads until clientID has an update with the status.
func (u *userStream) waitStatus(t tb, clientID string, st exchange.OrderStatus) []exchange.OrderUpdate {
	t.Helper()
	for {
		ups := u.orderUpdates(clientID)
		for _, up := range ups {
			if up.Status == st {
				return ups
			}
		}
		u.read(t, st.String()+" of "+clientID)
	}
}

func statuses(ups []exchange.OrderUpdate) []exchange.OrderStatus {
	out := make([]exchange.OrderStatus, len(ups))
	for i, u := range ups {
		out[i] = u.Status
	}
	return out
}

func equalStatuses(a, b []exchange.OrderStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// drainUntilClosed reads ch until it is closed, failing after timeout.
func drainUntilClosed[T any](t tb, name string, ch <-chan T, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("%s channel not closed within %s of its context ending", name, timeout)
		}
	}
}
