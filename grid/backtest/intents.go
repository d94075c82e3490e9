package backtest

import (
	"errors"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
)

// exec carries out intents, and everything they cause, in order.
func (r *run) exec(now time.Time, in []grid.Intent) error {
	r.queue = append(r.queue, in...)
	return r.process(now)
}

// process carries out the queued intents; carrying one out may queue more.
func (r *run) process(now time.Time) error {
	for r.head < len(r.queue) {
		it := r.queue[r.head]
		r.head++
		if err := r.do(now, it); err != nil {
			return err
		}
	}
	r.queue, r.head = r.queue[:0], 0
	return nil
}

func (r *run) do(now time.Time, it grid.Intent) error {
	tag := it.Ref.Tag()
	switch it.Kind {
	case grid.IntentPlace:
		id, err := r.core.Place(now, sim.OrderSpec{
			Tag: tag, Side: it.Side, PositionSide: it.PositionSide, Market: it.Market,
			Price: it.Price, Qty: it.Qty, PostOnly: it.PostOnly, ReduceOnly: it.ReduceOnly,
		})
		if err != nil {
			if errors.Is(err, exchange.ErrInsufficientMargin) {
				r.marginRefusals++
			}
			return r.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderRejected, Reason: err.Error(), Cause: err})
		}
		r.ids[tag] = id
		r.rec.placed()
		if err := r.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderAccepted}); err != nil {
			return err
		}
		return r.drain(now)
	case grid.IntentCancel:
		id, ok := r.ids[tag]
		if !ok {
			return nil // already ended: its events told the engine
		}
		if err := r.core.Cancel(now, id); err != nil && !errors.Is(err, exchange.ErrOrderNotFound) {
			return fmt.Errorf("backtest: cancel %s: %w", it.Ref, err)
		}
		return r.drain(now)
	case grid.IntentQuery:
		// The simulator's answers are never lost, so the engine has nothing
		// to query; answer from the venue's books all the same.
		id, ok := r.ids[tag]
		if !ok {
			return r.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderNotFound})
		}
		if v, live := r.core.Order(id); live {
			return r.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderAccepted, CumQty: v.Filled})
		}
		return nil
	case grid.IntentCheckStart:
		return r.checkStart(now)
	case grid.IntentReconcile:
		r.queue = append(r.queue, r.eng.Reconcile(now, r.snapshot(now))...)
		return nil
	}
	return fmt.Errorf("backtest: intent kind %s", it.Kind)
}

// drain feeds the simulator's events to the engine.
func (r *run) drain(now time.Time) error {
	for {
		evs := r.core.Events()
		if len(evs) == 0 {
			return nil
		}
		r.adjDirty = true // fills, funding and liquidations book fees and funding
		filled := false
		for k := range evs {
			ev := &evs[k]
			ref := grid.RefFromTag(ev.Tag)
			filled = filled || ev.Kind == sim.EventFill || ev.Kind == sim.EventLiquidation
			switch ev.Kind {
			case sim.EventFill:
				if ev.CumQty == ev.OrderQty {
					delete(r.ids, ev.Tag)
				}
				before := r.rec.beforeFill(r.eng, ev)
				if err := r.apply(now, grid.OrderEvent{Ref: ref, Type: grid.OrderFilled, CumQty: ev.CumQty, Price: ev.Price, Fee: ev.Fee}); err != nil {
					return err
				}
				r.rec.fill(now, ev, before, r.eng)
				r.observeFill(ev, exchange.ExecNormal)
			case sim.EventCanceled, sim.EventExpired:
				delete(r.ids, ev.Tag)
				r.rec.ended()
				if ev.Tag == 0 {
					continue
				}
				typ := grid.OrderCanceled
				if ev.Kind == sim.EventExpired {
					typ = grid.OrderExpired
				}
				if err := r.apply(now, grid.OrderEvent{Ref: ref, Type: typ, CumQty: ev.CumQty, Price: ev.Price}); err != nil {
					return err
				}
			case sim.EventLiquidation:
				r.observeFill(ev, exchange.ExecLiquidation)
				q := ev.Qty
				if ev.Side == exchange.Sell {
					q = -q
				}
				r.liquidated = append(r.liquidated, Liquidation{Time: now, Price: r.cfg.Rules.TicksToPrice(ev.Price),
					PositionSide: ev.PositionSide, Qty: r.cfg.Rules.StepsToQty(q), Margin: r.cfg.Rules.MoneyToDecimal(ev.Margin)})
				r.rec.liquidation(now, ev)
				if r.liquidatedAt.IsZero() {
					r.liquidatedAt = now
					r.halted = "liquidated at " + r.cfg.Rules.TicksToPrice(ev.Price).String()
					r.queue = append(r.queue, r.eng.Halt(now, r.halted)...)
				}
			case sim.EventFunding:
			}
		}
		if filled && r.eng.HasRiskMonitors() {
			// As the venue's account update after fills: the position and
			// drawdown monitors see what the fills did at once, not at the
			// candle's end.
			now, mark := r.core.Now(), r.core.Price()
			r.queue = append(r.queue, r.eng.ObserveRisk(r.account(now, mark))...)
			r.queue = append(r.queue, r.eng.ObserveRisk(r.books(now, mark))...)
		}
	}
}

func (r *run) apply(now time.Time, ev grid.OrderEvent) error {
	in, err := r.eng.Apply(now, ev)
	if err != nil {
		if r.liquidatedAt.IsZero() {
			return fmt.Errorf("backtest: %s: %w", now.UTC().Format(time.RFC3339), err)
		}
		// After a liquidation the venue has closed the position under the
		// engine; its updates no longer match the slots. The run is over.
		return nil
	}
	r.queue = append(r.queue, in...)
	return nil
}

// snapshot is the simulator's view of the grid, as a runner reads it for
// a reconciliation: its live orders and the position (by side in hedge
// mode).
func (r *run) snapshot(now time.Time) grid.Snapshot {
	snap := grid.Snapshot{HavePosition: true, At: now}
	for _, o := range r.core.OpenOrders() {
		if o.Tag != 0 {
			snap.Orders = append(snap.Orders, grid.VenueOrder{Ref: grid.RefFromTag(o.Tag), Side: o.Side, Price: o.Price, Qty: o.Qty, Filled: o.Filled})
		}
	}
	both, _ := r.core.Position(exchange.PositionBoth)
	long, _ := r.core.Position(exchange.PositionLong)
	short, _ := r.core.Position(exchange.PositionShort)
	snap.Position = both + long + short
	if r.core.Config().PositionMode == exchange.Hedge {
		snap.PositionLong, snap.PositionShort, snap.HaveSides = long, -short, true
	}
	return snap
}
