package grid

import (
	"errors"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// refusalEscalation is how many refusals in a row on one slot escalate: a
// warning, the reason in Stats, and a back-off of the whole side.
const refusalEscalation = 3

// configRefusal reports whether a venue's refusal proves the grid is
// misconfigured for the account, so that every order would be refused
// alike: it halts the grid instead of retrying forever.
func configRefusal(cause error) bool {
	return errors.Is(cause, exchange.ErrPositionMode) || errors.Is(cause, exchange.ErrAuth)
}

// refused handles a venue's refusal of a slot's order on side: a
// configuration error halts the grid with its reason; the same refusal
// repeated on one slot backs off every order of that side as long as the
// slot's own back-off, is logged at WARN and shown in Stats.
func (e *Engine) refused(now time.Time, i int64, lv *level, side exchange.Side, ev OrderEvent) {
	if configRefusal(ev.Cause) {
		e.refusal = fmt.Sprintf("%s refused: %s", side, ev.Reason)
		e.Halt(now, "the venue refuses the grid's orders as misconfigured: "+ev.Reason)
		return
	}
	if lv.rejects < refusalEscalation {
		return
	}
	e.sideRetryAt[side] = max(e.sideRetryAt[side], lv.retryAt)
	e.refusal = fmt.Sprintf("%s orders refused %d times in a row at level %d: %s", side, lv.rejects, i, ev.Reason)
	e.log.Warn("grid: orders refused repeatedly; backing off the side", "side", side.String(), "level", i,
		"refusals", lv.rejects, "until", time.Unix(0, lv.retryAt), "reason", ev.Reason)
}

// sideReady reports whether orders of side may be placed at t.
func (e *Engine) sideReady(side exchange.Side, t int64) bool { return t >= e.sideRetryAt[side] }
