package backtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
)

// Issue 12, without the runner: the backtest's host answers the engine's
// IntentReconcile from the simulator's core, so a hard stop whose
// reduce-only close sim.Core refuses (the position was closed by an order
// that is not the grid's) settles it from the core's position, once,
// instead of refusing an unknown intent or retrying the close on every
// timer.
func TestBacktestHostSettlesARefusedCloseFromTheCore(t *testing.T) {
	sc := sim.DefaultCoreConfig(btcRules)
	sc.InitialBalance, _ = btcRules.DecimalToMoney(dec("10000"))
	candles := []pricefeed.Candle{{OpenTime: 1_700_000_000_000, Open: 1_000_000, High: 1_000_000, Low: 1_000_000, Close: 1_000_000}}
	r, err := newRun(candles, Config{Rules: btcRules, Sim: sc, NoRecord: true,
		Grid: []grid.Option{grid.WithBounds(dec("90000"), dec("110000"), 20), grid.WithAmount(dec("500")), grid.WithWindows(3, 3, 1)}})
	require.NoError(t, err)
	t0 := time.UnixMilli(candles[0].OpenTime)
	r.core.Tick(t0, candles[0].Open)
	require.NoError(t, r.exec(t0, r.eng.OnPrice(t0, candles[0].Open)))
	require.NoError(t, r.exec(t0, r.eng.OnStreamReady(t0)))
	held, _ := r.core.Position(exchange.PositionBoth)
	require.Positive(t, held, "the initial position")
	require.Equal(t, held, r.eng.Books().LongHeld)

	// Closed by hand: an order of no grid (tag 0), its events not the grid's.
	_, err = r.core.Place(t0, sim.OrderSpec{Side: exchange.Sell, Market: true, Qty: held, ReduceOnly: true})
	require.NoError(t, err)
	r.core.Events()

	require.NoError(t, r.exec(t0, r.eng.HardStop(t0, "test", true)))
	for s := 1; s <= 60; s++ {
		now := t0.Add(time.Duration(s) * time.Second)
		require.NoError(t, r.exec(now, r.eng.OnTimer(now)))
	}
	st := r.eng.Stats()
	assert.True(t, st.Position.IsZero())
	assert.Equal(t, btcRules.StepsToQty(held).String(), st.ClosedElsewhereLong.String())
	assert.Equal(t, 1, st.Rejected, "the close refused once, not retried")
	assert.Zero(t, st.OpenOrders)
	assert.Zero(t, r.eng.Drift())
	assert.Empty(t, r.core.OpenOrders())
}
