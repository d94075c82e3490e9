package backtest

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/risk"
)

// Checks of the live soak that close gaps the reverted fixes of issue 10
// showed (issue 12, item 5): a grid set for another position mode than the
// account's must refuse to start and place nothing; the risk monitors of a
// running grid must see the grid's books on the runner's timer; the venue
// halting the symbol's trading now and then (a pause of its own owner)
// must not lift a risk pause when trading resumes.

// probeGrid is the ID of the position-mode probe's grid.
const probeGrid = "gx"

// probePositionMode starts a grid set for hedge mode on the soak's one-way
// account, through the shared executor, and requires Run to refuse it
// (grid.ErrPositionModeMismatch) with no order of it sent.
func (s *liveSoak) probePositionMode() {
	lo, hi := btcRules.TicksToPrice(s.price-20*soakLevel), btcRules.TicksToPrice(s.price+20*soakLevel)
	eng, err := grid.New(btcRules, grid.WithGridID(probeGrid), grid.WithMode(s.p.mode), grid.WithStartPrice(btcRules.TicksToPrice(s.price)),
		grid.WithBounds(lo, hi, 40), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1), grid.WithPositionMode(exchange.Hedge), grid.WithSharedSymbol())
	if err != nil {
		s.fail("position-mode probe: %v", err)
		return
	}
	runner, err := grid.NewRunner(eng, s.v, grid.WithExecutor(s.x), grid.WithPriceFeed(s.feed), grid.WithTimerInterval(100*time.Millisecond))
	if err != nil {
		s.fail("position-mode probe: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = runner.Run(ctx)
	switch {
	case errors.Is(err, grid.ErrPositionModeMismatch):
		s.logf("position-mode probe refused: %v", err)
	case errors.Is(err, exchange.ErrRateLimited), errors.Is(err, exchange.ErrUnavailable):
		s.logf("position-mode probe could not read the venue: %v", err) // it placed nothing
	default:
		s.fail("position-mode probe: a hedge-mode grid on a one-way account ran (Run: %v), it must refuse to start", err)
	}
	s.v.mu.Lock()
	defer s.v.mu.Unlock()
	for id := range s.v.used {
		if g, _, err := grid.ParseClientOrderID(id); err == nil && g == probeGrid {
			s.fail("position-mode probe: order %s sent by a grid that had to refuse to start", id)
		}
	}
}

// booksWatch records when a grid's risk monitors last saw its books.
type booksWatch struct{ at atomic.Int64 }

// observe notes an observation the grid's monitor received.
func (w *booksWatch) observe(o risk.Observation) {
	if o.Kind == risk.KindBooks {
		w.at.Store(time.Now().UnixNano())
	}
}

// checkMonitorsSee requires every grid running (past its start) to have
// shown its monitors its books within the last second: the runner's timer
// (every 100 ms here) reports them.
func (s *liveSoak) checkMonitorsSee(where string) {
	for _, g := range s.grids {
		if !g.running || g.stopping || !g.began.Load() {
			continue
		}
		if since := time.Since(time.Unix(0, g.books.at.Load())); since > time.Second {
			s.fail("%s: %s: the risk monitors have not seen the grid's books for %s (the runner's timer reports them)", where, g.id, since)
		}
	}
}

// haltTrading toggles, in the seeds that have the fault, the symbol's
// trading on the venue (its rules then answer exchange.ErrTradingRestricted
// and the runners pause entries as the venue's owner until it trades
// again). It draws from its own source, so the seed's other draws stay.
func (s *liveSoak) haltTrading() {
	if s.halts == nil || s.halts.Float64() >= 0.03 {
		return
	}
	on := !s.v.restricted.Load()
	s.v.restricted.Store(on)
	s.logf("venue: symbol trading halted %v", on)
}

// riskOn reports whether g's risk trigger holds a pause (not a hard stop).
func (s *liveSoak) riskOn(g *soakGrid) bool { return g.trigger.Load() && !g.hardStop }

// checkPauseOwners requires every running grid whose risk trigger is on
// (a pause, not a hard stop) to hold its risk pause: no other owner's
// resume (the venue's, when the symbol trades again) may lift it.
func (s *liveSoak) checkPauseOwners(where string) {
	for _, g := range s.grids {
		if !g.running || g.stopping || !g.began.Load() || !s.riskOn(g) || g.eng.Stats().Halted {
			continue
		}
		if !g.eng.PausedBy(grid.PauseRisk) {
			s.fail("%s: %s: the risk trigger is on but the grid's risk pause is gone (pauses: %v)", where, g.id, g.eng.Stats().Pauses)
		}
	}
}
