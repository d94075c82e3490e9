package backtest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/slot"
)

// lagHarness drives an engine against the simulator's core over real
// candles with the engine's view one tick late: the venue's price moves
// first and the engine places with the previous price in view, as a live
// engine does when the book moves before its feed. Entries the move has
// crossed reach the venue post-only and are refused — at once, or (with
// sim.CoreConfig.PostOnlyCancelLater) accepted and canceled unfilled.
type lagHarness struct {
	t       *testing.T
	eng     *grid.Engine
	core    *sim.Core
	ids     map[uint64]uint64 // tag → core id
	levels  map[int64]grid.SlotView
	entries struct{ maker, taker int }
}

func (h *lagHarness) view(level int64) grid.SlotView {
	if v, ok := h.levels[level]; ok {
		return v
	}
	h.eng.Slots(func(v grid.SlotView) { h.levels[v.Level] = v })
	return h.levels[level]
}

// exec carries out intents and everything they cause, failing the test
// on a loop of placements that never ends.
func (h *lagHarness) exec(now time.Time, in []grid.Intent) {
	queue := append([]grid.Intent(nil), in...)
	for n := 0; len(queue) > 0; n++ {
		if n > 10_000 {
			h.t.Fatalf("the engine keeps placing at %s: a loop", now)
		}
		it := queue[0]
		queue = queue[1:]
		tag := it.Ref.Tag()
		switch it.Kind {
		case grid.IntentPlace:
			lv := h.view(it.Ref.Level)
			switch {
			case it.Role == slot.RoleEntry && it.Side == exchange.Buy:
				require.LessOrEqual(h.t, it.Price, lv.Price, "a buy entry never above its level: %s", it)
			case it.Role == slot.RoleExit:
				require.Equal(h.t, lv.Exit, it.Price, "an exit is priced from its level: %s", it)
			}
			id, err := h.core.Place(now, sim.OrderSpec{Tag: tag, Side: it.Side, PositionSide: it.PositionSide, Market: it.Market,
				Price: it.Price, Qty: it.Qty, PostOnly: it.PostOnly, ReduceOnly: it.ReduceOnly})
			if err != nil {
				queue = append(queue, h.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderRejected, Reason: err.Error(), Cause: err})...)
				continue
			}
			h.ids[tag] = id
			queue = append(queue, h.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderAccepted})...)
			queue = append(queue, h.drain(now)...)
		case grid.IntentCancel:
			if id, ok := h.ids[tag]; ok {
				if err := h.core.Cancel(now, id); err != nil && !errors.Is(err, exchange.ErrOrderNotFound) {
					h.t.Fatal(err)
				}
			}
			queue = append(queue, h.drain(now)...)
		case grid.IntentQuery:
			if _, ok := h.ids[tag]; !ok {
				queue = append(queue, h.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderNotFound})...)
			}
		}
	}
}

func (h *lagHarness) apply(now time.Time, ev grid.OrderEvent) []grid.Intent {
	in, err := h.eng.Apply(now, ev)
	require.NoError(h.t, err)
	require.NoError(h.t, h.eng.CheckInvariants())
	return append([]grid.Intent(nil), in...)
}

func (h *lagHarness) drain(now time.Time) []grid.Intent {
	var out []grid.Intent
	for _, ev := range h.core.Events() {
		ref := grid.RefFromTag(ev.Tag)
		switch ev.Kind {
		case sim.EventFill:
			if ev.Side == exchange.Buy { // a long grid's entries buy
				if ev.Maker {
					h.entries.maker++
				} else {
					h.entries.taker++
				}
			}
			if ev.CumQty == ev.OrderQty {
				delete(h.ids, ev.Tag)
			}
			out = append(out, h.apply(now, grid.OrderEvent{Ref: ref, Type: grid.OrderFilled, CumQty: ev.CumQty, Price: ev.Price, Fee: ev.Fee})...)
		case sim.EventLiquidation:
			h.t.Fatalf("liquidated at %s", now)
		case sim.EventCanceled, sim.EventExpired:
			delete(h.ids, ev.Tag)
			typ := grid.OrderCanceled
			if ev.Kind == sim.EventExpired {
				typ = grid.OrderExpired
			}
			out = append(out, h.apply(now, grid.OrderEvent{Ref: ref, Type: typ, CumQty: ev.CumQty, Price: ev.Price})...)
		}
	}
	return out
}

// lagRun replays the NEARUSDT crash days through a bounded long grid
// (3.0–4.4, 70 levels 0.02 apart, 20 USDT each, no initial position)
// with the engine one tick late.
func lagRun(t *testing.T, later bool, opts ...grid.Option) *lagHarness {
	t.Helper()
	candles, err := pricefeed.ReadCandlesFile("../../risk/testdata/NEARUSDT-1m-2025-02-02_03.csv.gz", nearRules)
	require.NoError(t, err)
	cfg := sim.DefaultCoreConfig(nearRules)
	cfg.PostOnlyCancelLater = later
	cfg.InitialBalance, _ = nearRules.DecimalToMoney(dec("10000"))
	core, err := sim.NewCore(cfg)
	require.NoError(t, err)
	open := nearRules.TicksToPrice(candles[0].Open)
	eng, err := grid.New(nearRules, append([]grid.Option{grid.WithStartPrice(open), grid.WithBounds(dec("3.0"), dec("4.4"), 70),
		grid.WithAmount(dec("20")), grid.WithWindows(5, 5, 1), grid.WithInitialPosition(false)}, opts...)...)
	require.NoError(t, err)
	h := &lagHarness{t: t, eng: eng, core: core, ids: map[uint64]uint64{}, levels: map[int64]grid.SlotView{}}
	t0 := time.UnixMilli(candles[0].OpenTime)
	core.Tick(t0, candles[0].Open)
	h.exec(t0, eng.OnPrice(t0, candles[0].Open))
	h.exec(t0, eng.OnStreamReady(t0))
	prev := candles[0].Open
	for i := range candles {
		c := &candles[i]
		for j, p := range pathOf(c) {
			now := time.UnixMilli(c.OpenTime + tickOffsets[j])
			core.Tick(now, p)
			h.exec(now, h.drain(now))
			h.exec(now, eng.OnPrice(now, prev)) // the engine sees the venue's last price, one tick late
			h.exec(now, eng.OnTimer(now))
			prev = p
		}
	}
	return h
}

// TestMakerOnlyRepricesOnRealData: on the NEAR crash days with the engine
// a tick late, the venue refuses post-only entries the move has crossed;
// the engine backs off and re-prices them clear of its last price, every
// entry fills as maker, no buy entry is ever above its level and every
// exit is priced from its level (checked on each placement). A venue that
// refuses later (accepts, then cancels unfilled) gives the engine the
// same rejections: the same re-pricing, fills and profit, to the digit.
func TestMakerOnlyRepricesOnRealData(t *testing.T) {
	now := lagRun(t, false, grid.WithRepricing(10))
	later := lagRun(t, true, grid.WithRepricing(10))
	a, b := now.eng.Stats(), later.eng.Stats()
	t.Logf("immediate: %d post-only rejections, %d re-priced, %d round trips, realized %s", a.PostOnlyRejects, a.Repriced, a.RoundTrips, a.Realized)
	t.Logf("later:     %d post-only rejections, %d re-priced, %d round trips, realized %s", b.PostOnlyRejects, b.Repriced, b.RoundTrips, b.Realized)
	assert.Positive(t, a.PostOnlyRejects)
	assert.Positive(t, a.Repriced)
	assert.Equal(t, a.PostOnlyRejects, a.Rejected, "every immediate refusal was post-only")
	assert.Zero(t, b.Rejected, "the later venue refuses nothing at once")
	assert.Equal(t, a.PostOnlyRejects, b.PostOnlyRejects)
	assert.Equal(t, a.Repriced, b.Repriced)
	assert.Equal(t, a.RoundTrips, b.RoundTrips)
	assert.Equal(t, a.Fills, b.Fills)
	assert.Equal(t, a.Realized.String(), b.Realized.String())
	assert.Positive(t, a.RoundTrips)
	for _, h := range []*lagHarness{now, later} {
		assert.Positive(t, h.entries.maker)
		assert.Zero(t, h.entries.taker, "entries are maker-only")
		assert.Zero(t, h.eng.Stats().MakerFallbacks)
	}
}

// TestMakerFallbackOnRealData: with the fallback after one rejection, the
// slot's next entry is a plain limit; some fill as taker, and each is
// counted.
func TestMakerFallbackOnRealData(t *testing.T) {
	h := lagRun(t, true, grid.WithMakerFallback(true), grid.WithMakerFallbackAfter(1))
	st := h.eng.Stats()
	t.Logf("%d post-only rejections, %d fallbacks, %d taker entries", st.PostOnlyRejects, st.MakerFallbacks, h.entries.taker)
	assert.Positive(t, st.MakerFallbacks)
	assert.Zero(t, st.Repriced, "the fallback comes first")
	assert.Equal(t, st.PostOnlyRejects, st.MakerFallbacks, "one plain limit after each rejection")
	assert.Positive(t, h.entries.taker)
	assert.LessOrEqual(t, h.entries.taker, st.MakerFallbacks, "only the plain limits take")
}
