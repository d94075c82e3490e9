package backtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing/synctest"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/slot"
)

// The live soak's run: the price walk, the faults and actions it draws,
// stops and restarts, and the checks (see livesoak_test.go).

func (s *liveSoak) run() {
	for _, g := range s.grids {
		s.startGrid(g)
	}
	s.tick(s.price)
	if s.p.seed%4 == 0 && s.crowd == nil { // apart from the seed's draws, which stay as they were
		s.probePositionMode()
	}
	for step := 0; step < s.p.steps && len(s.violations) == 0; step++ {
		s.reap()
		s.act()
		s.haltTrading()
		s.price += exchange.Ticks((s.r.Int64N(7) - 3) * soakLevel / 2)
		s.price = min(max(s.price, 1_000_000-25*soakLevel), 1_000_000+25*soakLevel)
		s.tick(s.price)
		time.Sleep(time.Duration(20+s.r.IntN(800)) * time.Millisecond)
		s.collect()
	}
	if len(s.violations) == 0 {
		s.quiet("the end")
	}
	if w := s.v.shared; w != nil {
		over, burst := w.overLimit()
		if over > 0 {
			s.fail("%d requests came past the maximum of a window shared with another program: the executor did not heed the venue's usage reports", over)
		}
		s.logf("shared window: %d requests past its maximum as a window opened", burst)
	}
	s.logf("placements: %s", s.v.stale.summary())
	if s.crowd != nil {
		s.logf("crowd: %s", s.crowd.summary())
		if v := s.crowd.shares(); v != "" {
			s.fail("%s", v)
		}
	}
	s.logf("restarts from a stale store: %d, with no books stored: %d", s.stale, s.noState)
	for _, g := range s.grids {
		if g.running && !g.stopping {
			s.stopGrid(g, false)
		}
	}
	for _, g := range s.grids {
		if g.running {
			s.awaitStop(g)
		}
	}
	s.collect()
	s.feed.Close()
	s.v.Close()
	synctest.Wait()
}

// tick moves the venue's market and the grids' feed to p.
func (s *liveSoak) tick(p exchange.Ticks) {
	if err := s.v.SetPriceTicks(context.Background(), p); err != nil {
		s.fail("set price: %v", err)
	}
	s.v.stale.setMarket(p)
	s.feed.Publish(p, time.Now())
}

// act draws the soak's actions for one step.
func (s *liveSoak) act() {
	r := s.r
	if s.p.profile == "hardstops" && r.Float64() < 0.05 {
		g := s.grids[r.IntN(len(s.grids))]
		g.trigger.Store(!g.trigger.Load())
		s.logf("%s: risk trigger %v (hard stop, close)", g.id, g.trigger.Load())
	}
	switch x := r.Float64(); {
	case x < 0.02 && s.crowd != nil:
		// The crowd's grids wait for the declared limits, not for a 429.
	case x < 0.02: // rate-limit back-pressure longer than the ack timeout
		d := s.p.ack + time.Duration(r.Int64N(int64(s.p.ack+s.p.recv+3*time.Second)))
		s.v.throttle(d)
		s.logf("429 for %s", d)
	case x < 0.035: // a crash: the store stops saving now, the process dies a little later
		g := s.grids[r.IntN(len(s.grids))]
		if g.running && !g.stopping {
			g.store.frozen.Store(true)
			s.logf("%s: store frozen (crash coming)", g.id)
		}
	case x < 0.05: // a stop at a random moment (after a crash's frozen store, or a clean one)
		g := s.grids[r.IntN(len(s.grids))]
		if g.running && !g.stopping {
			s.stopGrid(g, true)
		}
	case x < 0.07: // a stopped grid comes back
		for _, g := range s.grids {
			if !g.running {
				s.startGrid(g)
				break
			}
		}
	case x < 0.09: // the risk monitor triggers or clears
		g := s.grids[r.IntN(len(s.grids))]
		on := !g.trigger.Load()
		g.trigger.Store(on)
		s.logf("%s: risk trigger %v (hard stop %v, close %v, pause cancels %v)", g.id, on, g.hardStop, g.closePos, g.pauseCancels)
	case x < 0.095:
		s.quiet("mid-run")
	}
}

// stopGrid ends g's runner (its context), in the background; reap and
// awaitStop take the result.
func (s *liveSoak) stopGrid(g *soakGrid, background bool) {
	s.logf("%s: stop (store frozen %v, requests on the wire %d)", g.id, g.store.frozen.Load(), s.v.wire.Load())
	g.stopping = true
	g.cancel()
	if !background {
		s.awaitStop(g)
	}
}

// reap takes the result of the runs that have ended (stopped, or failed
// to start).
func (s *liveSoak) reap() {
	for _, g := range s.grids {
		if g.running {
			select {
			case err := <-g.done:
				s.stopped(g, err)
			default:
			}
		}
	}
}

func (s *liveSoak) awaitStop(g *soakGrid) {
	select {
	case err := <-g.done:
		s.stopped(g, err)
	case <-time.After(5 * time.Minute):
		s.fail("%s: the runner did not stop within 5 minutes", g.id)
		g.running = false
	}
}

// stopped checks what a stop left on the venue: with WithCancelOnStop, no
// entry of the grid (an order its slot does not hold as an exit).
func (s *liveSoak) stopped(g *soakGrid, err error) {
	g.running, g.stopping = false, false
	g.restarts++
	if g.store.frozen.Load() {
		s.stale++
	}
	var unsettled []string
	var se *grid.StopError
	switch {
	case err == nil:
	case errors.As(err, &se):
		unsettled = se.ClientOrderIDs
		s.fail("%s: stop left entries unsettled after 30 s: %v", g.id, err)
	case errors.Is(err, exchange.ErrRateLimited), errors.Is(err, exchange.ErrUnavailable):
		// It could not read the venue to start (a 429 or a 503 that
		// outlasted the retries): it placed nothing; the host starts it again.
	case errors.Is(err, errDiskGone):
		// The crash came while it started: it could not store its first
		// reservation of generations, so it placed nothing.
	default:
		s.fail("%s: run ended with %v", g.id, err)
	}
	s.logf("%s: stopped: %v", g.id, err)
	if !g.cancelOnStop || !g.began.Load() {
		return // a run stopped while starting placed nothing and took over nothing
	}
	exits := map[grid.OrderRef]bool{}
	g.eng.Slots(func(v grid.SlotView) {
		if v.Slot.Live() && v.Slot.Role == slot.RoleExit {
			exits[grid.OrderRef{Level: v.Level, Gen: v.Slot.Gen}] = true
		}
	})
	for _, os := range s.v.gridOrders()[g.id] {
		for _, o := range os {
			_, ref, _ := grid.ParseClientOrderID(o.ClientOrderID)
			if !exits[ref] && !slices.Contains(unsettled, o.ClientOrderID) {
				s.fail("%s: %s (%s %s) left live after a stop that cancels entries", g.id, o.ClientOrderID, o.Side, o.Price)
			}
		}
	}
}

// collect takes the venue's violations.
func (s *liveSoak) collect() {
	for _, v := range s.v.takeViolations() {
		s.fail("%s", v)
	}
	if s.crowd != nil {
		for _, v := range s.crowd.check() {
			s.fail("%s", v)
		}
	}
}

// quiet calms the venue, lets every grid settle (every grid running, every
// request answered, every update delivered and a reconciliation since) and
// compares the books with the venue's; then the faults resume.
func (s *liveSoak) quiet(where string) {
	s.logf("quiet point (%s)", where)
	if err := s.v.SetFaults(sim.Faults{}); err != nil {
		s.fail("calm: %v", err)
	}
	s.v.setCalm(true)
	defer func() {
		s.v.setCalm(false)
		if err := s.v.SetFaults(s.p.faults); err != nil {
			s.fail("faults: %v", err)
		}
	}()
	s.reap()
	for _, g := range s.grids {
		if g.running && !g.stopping && g.store.frozen.Load() {
			// The crash that was coming comes now: a grid that cannot
			// save cannot reserve generations, so it places nothing (by
			// design) and would never settle.
			s.stopGrid(g, true)
		}
	}
	for _, g := range s.grids {
		if g.stopping {
			s.awaitStop(g)
		}
		if !g.running {
			s.startGrid(g)
		}
	}
	settle := s.p.ack + 2*s.p.recv + s.p.reconcile + 10*time.Second // past the 429s, ack timeouts, queries and a reconciliation
	for round := 0; ; round++ {
		s.tick(s.price) // reconnects the stream and releases held updates
		time.Sleep(settle)
		synctest.Wait()
		s.collect()
		s.reap()
		restarted := false
		for _, g := range s.grids {
			if !g.running {
				s.startGrid(g)
				restarted = true
			}
		}
		busy := s.busy()
		if restarted {
			busy = "a grid started again"
		}
		if busy == "" {
			break
		}
		if round == 5 {
			s.fail("%s: not settled %s after the faults stopped: %s", where, 6*settle, busy)
			return
		}
	}
	s.agree(where)
}

// busy names a grid that has something in flight ("" when none).
func (s *liveSoak) busy() string {
	if s.v.wire.Load() > 0 {
		return "requests on the wire"
	}
	for _, g := range s.grids {
		live, why := 0, ""
		g.eng.Slots(func(v grid.SlotView) {
			switch st := v.Slot; {
			case st.Unknown || st.State == slot.EntryPending || st.State == slot.ExitPending || st.State == slot.Canceling:
				why = fmt.Sprintf("%s level %d: %s unknown=%v", g.id, v.Level, st.State, st.Unknown)
			case st.Live():
				live++
			}
		})
		if why != "" {
			return why
		}
		b := g.eng.Books()
		if b.OpenOrders != live {
			return fmt.Sprintf("%s: %d open orders, %d live slots (a hard stop's close or the initial order)", g.id, b.OpenOrders, live)
		}
		st := g.eng.Stats()
		switch {
		case !st.Halted || !g.closePos || b.LongHeld == 0 && b.ShortHeld == 0:
		case !s.closeDust(b):
			return fmt.Sprintf("%s: hard-stopped, still closing long %d short %d", g.id, b.LongHeld, b.ShortHeld)
		case st.CloseDustLong.IsZero() && st.CloseDustShort.IsZero():
			// Dust no order can close must be given up and reported,
			// not retried for ever.
			return fmt.Sprintf("%s: hard-stopped with dust long %d short %d not reported (Stats.CloseDustLong/Short): still retrying", g.id, b.LongHeld, b.ShortHeld)
		}
	}
	return ""
}

// agree compares every grid's slots with the venue's orders, and the books
// with the venue's position and equity.
func (s *liveSoak) agree(where string) {
	s.checkMonitorsSee(where)
	s.checkPauseOwners(where)
	orders := s.v.gridOrders()
	var pos exchange.Steps
	var gross, fees exchange.Money
	for _, g := range s.grids {
		venue := map[grid.OrderRef]exchange.Order{}
		for _, os := range orders[g.id] {
			for _, o := range os {
				_, ref, _ := grid.ParseClientOrderID(o.ClientOrderID)
				venue[ref] = o
			}
		}
		st := g.eng.Stats()
		g.eng.Slots(func(v grid.SlotView) {
			if !v.Slot.Live() {
				return
			}
			ref := grid.OrderRef{Level: v.Level, Gen: v.Slot.Gen}
			o, ok := venue[ref]
			switch {
			case !ok:
				s.fail("%s: %s: slot %d has order %s live (%s), the venue does not", where, g.id, v.Level, ref, v.Slot.State)
			case s.steps(o.FilledQty) != v.Slot.Filled:
				s.fail("%s: %s: order %s filled %s on the venue, %d steps in its slot", where, g.id, o.ClientOrderID, o.FilledQty, v.Slot.Filled)
			case v.Slot.Role == slot.RoleEntry && (st.Paused || s.riskOn(g)) && g.pauseCancels && !st.Halted:
				s.fail("%s: %s: entry %s live while a risk pause cancels entries", where, g.id, o.ClientOrderID)
			}
			delete(venue, ref)
		})
		for ref, o := range venue {
			s.fail("%s: %s: venue order %s (%s) belongs to no live slot", where, g.id, ref, o.ClientOrderID)
		}
		b := g.eng.Books()
		if st.Halted && g.closePos && !s.closeDust(b) {
			s.fail("%s: %s: hard-stopped with close, still holds long %d short %d", where, g.id, b.LongHeld, b.ShortHeld)
		}
		pos += b.Position
		if g.eng.Baseline() != 0 || g.eng.Drift() != 0 {
			s.logf("%s: %s: baseline %d, drift %d, position %d", where, g.id, g.eng.Baseline(), g.eng.Drift(), b.Position)
		}
		gross += b.Realized + b.Unrealized(s.price)
		fees += b.Fees
	}
	var venuePos exchange.Steps
	ps, err := s.v.Venue.Positions(context.Background(), btcRules.Symbol)
	if err != nil {
		s.fail("positions: %v", err)
		return
	}
	for _, p := range ps {
		venuePos += exchange.Steps(s.steps(p.Quantity))
	}
	// A restart from a stale store books, from the venue's recent fills,
	// what the grid did after the save (grid's supersede): the books are
	// compared after it as after any other restart. A restart from a
	// store that holds no books is one without a store: it knows nothing
	// of the last run's PnL, and what it found on the venue is baseline.
	if s.noState > 0 {
		s.logf("%s: books not compared: a grid restarted with no books stored", where)
		return
	}
	if pos != venuePos {
		s.fail("%s: position: grids %d, venue %d", where, pos, venuePos)
	}
	acct, err := s.v.Venue.Account(context.Background())
	if err != nil {
		s.fail("account: %v", err)
		return
	}
	equity, err := btcRules.DecimalToMoney(acct.TotalMargin)
	if err != nil {
		s.fail("equity: %v", err)
		return
	}
	venueFees := s.v.Stats().FeesPaid
	if venueGross := equity - s.initial + venueFees; venueGross != gross {
		s.fail("%s: gross equity change at %d: grids %d, venue %d", where, s.price, gross, venueGross)
	}
	// A fill the engine first learns from a query or a reconciliation (the
	// venue's order carries no fee) is booked without its fee, and the
	// stream's update, arriving after, is stale: the engine's fees may fall
	// short of the venue's, never exceed them (the maker fee is positive).
	if fees > venueFees {
		s.fail("%s: fees: grids %d exceed the venue's %d", where, fees, venueFees)
	}
	s.logf("%s: agreed: position %d, gross %d, fees %d of %d", where, pos, gross, fees, venueFees)
}

// closeDust reports whether what a hard-stopped grid still holds is
// nothing, or a remainder no market order may trade (below the minimum
// quantity or notional: the close is refused, and retried, for ever; a
// one-way neutral grid closes the net of its sides).
func (s *liveSoak) closeDust(b grid.Books) bool {
	if b.LongHeld == 0 && b.ShortHeld == 0 {
		return true
	}
	net := b.LongHeld - b.ShortHeld
	if s.p.mode != grid.Neutral {
		net = b.LongHeld + b.ShortHeld
	}
	net = max(net, -net)
	qty := btcRules.StepsToQty(net)
	return qty.LessThan(btcRules.MinQty) || btcRules.TicksToPrice(s.price).Mul(qty).LessThan(btcRules.MinNotional)
}

func (s *liveSoak) steps(q decimal.Decimal) int64 {
	return q.Div(btcRules.StepSize).Round(0).IntPart()
}
