package grid

import (
	"time"
)

// request tracks the timing of one order request the engine asked for (a
// slot's place or cancel, the initial-position order, a hard stop's close)
// so that one rule, in one place, decides when an order whose outcome is
// unknown can be declared absent (a request of unknown outcome is never
// resent until the order is proven absent, because venues do not reliably
// reject a duplicate client order ID):
//
//   - an order is unsent until the host starts writing it. The engine gives
//     every placement a send deadline ([Intent.SendBy]); the host never
//     starts writing it later (it answers [OrderNotSent] instead), so the
//     latest moment the placement can have left is that deadline, or the
//     send time the host reported ([OrderEvent.SentAt]) when it did;
//   - the venue may still execute it up to a receive window after that;
//   - so a query's "not found" proves the order absent only if the venue
//     looked at or after sendBy plus the receive window. When it looked is
//     the answer's [OrderEvent.AskedAt] (when the host sent the query); an
//     answer without it is taken to be up to a receive window old.
//
// An order the venue has shown (an ack, a fill, a query that found it)
// existed: a "not found" from a look after that means it ended and was
// forgotten, and one from an earlier look (a query answered before the
// order landed) says nothing.
type request struct {
	askedAt int64 // Unix ns the engine asked for the latest place or cancel (the ack timeout counts from it)
	sendBy  int64 // Unix ns by which the placement left the host, at the latest
	queryAt int64 // Unix ns at which the next query is due (while the outcome is unknown)
	seenAt  int64 // Unix ns the engine first learned the order existed; 0: not yet
}

// see notes that the venue has shown the order.
func (r *request) see(now time.Time) {
	if r.seenAt == 0 {
		r.seenAt = now.UnixNano()
	}
}

// seen reports whether the venue has shown the order.
func (r *request) seen() bool { return r.seenAt != 0 }

// placed notes a new placement asked for at now; it returns its send deadline.
func (r *request) placed(now time.Time, sendTimeout time.Duration) time.Time {
	by := now.Add(sendTimeout)
	*r = request{askedAt: now.UnixNano(), sendBy: by.UnixNano()}
	return by
}

// sentAt lowers the send deadline to the send time a host reported.
func (r *request) sentAt(at time.Time) {
	if !at.IsZero() && at.UnixNano() < r.sendBy {
		r.sendBy = at.UnixNano()
	}
}

// landBy is when the placement can no longer reach the venue: its latest
// send time plus the receive window.
func (r *request) landBy(recv time.Duration) int64 { return r.sendBy + int64(recv) }

// absent applies the rule to a "not found" answer received at now: it
// reports whether the order is proven absent, and otherwise schedules the
// query that could prove it.
func (r *request) absent(now time.Time, askedAt time.Time, recv time.Duration) bool {
	looked := now.UnixNano() - int64(recv)
	if !askedAt.IsZero() {
		looked = askedAt.UnixNano()
	}
	if r.seen() {
		return looked >= r.seenAt
	}
	if looked >= r.landBy(recv) {
		return true
	}
	r.queryAt = max(now.UnixNano(), r.landBy(recv))
	return false
}

// queryDue reports whether an unknown outcome should be queried at t, and
// if so schedules the next query an ack timeout later (in case this one's
// answer is lost).
func (r *request) queryDue(t int64, ackTimeout time.Duration) bool {
	if t < r.queryAt {
		return false
	}
	r.queryAt = t + int64(ackTimeout)
	return true
}

// unanswered reports whether the request has gone unanswered for the ack
// timeout at t.
func (r *request) unanswered(t int64, ackTimeout time.Duration) bool {
	return t >= r.askedAt+int64(ackTimeout)
}

// timerQueryDue reports whether the timer should query an order the engine
// tracks outside the slot table (the initial-position and closing orders)
// at t: once its request has gone unanswered for the ack timeout, then
// again as queryDue schedules.
func (r *request) timerQueryDue(t int64, ackTimeout time.Duration) bool {
	if r.queryAt == 0 {
		if !r.unanswered(t, ackTimeout) {
			return false
		}
		r.queryAt = t
	}
	return r.queryDue(t, ackTimeout)
}
