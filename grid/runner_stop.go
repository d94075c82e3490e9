package grid

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrPositionModeMismatch is matched by the error [Runner.Run] returns
// when the grid's position mode (WithPositionMode) is not the account's:
// every order would be refused, so the grid does not start.
var ErrPositionModeMismatch = errors.New("grid: position mode mismatch")

// ErrStopUnsettled is matched by the error [Runner.Run] returns when its
// stop could not settle every order it had to (see [StopError]).
var ErrStopUnsettled = errors.New("grid: orders left unsettled at stop")

// StopError lists the orders a stop could not settle within its timeout:
// entries that may still be live on the venue although [WithCancelOnStop]
// asked for them to be canceled, and a hard stop's closing orders whose
// outcome is not known yet. Check them by client order ID.
type StopError struct {
	ClientOrderIDs []string
}

// Error names every unsettled order.
func (e *StopError) Error() string {
	return fmt.Sprintf("grid: stop timed out with %d orders that may be live: %s", len(e.ClientOrderIDs), strings.Join(e.ClientOrderIDs, ", "))
}

// Is matches ErrStopUnsettled.
func (e *StopError) Is(target error) bool { return target == ErrStopUnsettled }

// stop ends the run: placements still queued are dropped (they never left;
// those queued in the lane too, and the lane takes no new one: other
// grids' lanes on the same executor are not touched),
// requests in flight finish and are applied, and with WithCancelOnStop
// every entry that may exist is canceled by its client order ID and
// settled (its cancel, fill or absence confirmed) — within the stop
// timeout. The state is saved last, if the run had started (a run stopped
// while starting leaves the store as it found it). cause is why the run ended (nil: its
// context).
func (r *Runner) stop(l *loop, cause error) error {
	l.stopping.Store(true)
	r.stopPlacements()
	places := l.places
	l.places = nil
	for _, j := range places {
		l.notSent(j.intents, "the runner is stopping")
	}
	if r.cfg.cancelOnStop {
		if l.down {
			// The engine cancels and queries nothing while the order
			// stream is down; a stop settles every order by its cancel's
			// or query's answer (by client order ID) and needs no stream.
			// New placements are dropped unsent while stopping.
			l.dispatch(r.eng.OnStreamReady(r.cfg.now()))
		}
		l.dispatch(r.eng.PauseFor(r.cfg.now(), PauseStop, "runner stopping", true))
	}
	deadline := time.NewTimer(r.cfg.stopTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(min(r.cfg.timer, 250*time.Millisecond))
	defer tick.Stop()
	user := l.user
wait:
	for !l.settled() {
		send, next := l.next()
		select {
		case send <- next:
			l.sent()
		case a := <-l.answers:
			l.inflight--
			l.answer(a)
		case ev, ok := <-user:
			if !ok {
				user = nil // the cancels' own answers settle the orders
				continue
			}
			l.userEvent(ev)
		case <-tick.C:
			l.dispatch(r.eng.OnTimer(r.cfg.now()))
		case <-deadline.C:
			break wait
		}
	}
	if r.cfg.store != nil && l.started { // a run stopped while starting keeps the stored state as it was
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.stopTimeout)
		r.save(ctx)
		cancel()
	}
	var errs []error
	if cause != nil {
		errs = append(errs, cause)
	}
	if ids := l.unsettled(); len(ids) > 0 {
		r.log.Error("grid: stopped with entries that may be live", "orders", strings.Join(ids, ","))
		errs = append(errs, &StopError{ClientOrderIDs: ids})
	}
	return errors.Join(errs...)
}

// settled reports whether the stop has nothing left to wait for: no
// request queued or in flight, no hard stop's closing order live and, with
// WithCancelOnStop, no entry that may be live.
func (l *loop) settled() bool {
	// A hard stop's closing order still live (its fill not yet heard of)
	// must be settled too: saved as unsettled, a restart would close the
	// position again.
	if l.inflight > 0 || len(l.urgent) > 0 || l.r.eng.closing.liveOrders() > 0 {
		return false
	}
	return !l.r.cfg.cancelOnStop || len(l.r.eng.liveEntries()) == 0
}

// unsettled lists the client order IDs of the entries that may still be
// live (WithCancelOnStop only), and of a hard stop's closing orders not
// settled.
func (l *loop) unsettled() []string {
	var ids []string
	if l.r.cfg.cancelOnStop {
		for _, ref := range l.r.eng.liveEntries() {
			ids = append(ids, ClientOrderID(l.r.gridID, ref))
		}
	}
	for _, leg := range l.r.eng.closing.legs {
		if leg.live {
			ids = append(ids, ClientOrderID(l.r.gridID, OrderRef{Level: CloseLevel, Gen: leg.gen}))
		}
	}
	return ids
}
