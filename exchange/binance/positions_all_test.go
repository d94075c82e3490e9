package binance_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
)

// twoSymbols starts a server listing BTCUSDT and ETHUSDT (BTCUSDT's
// filters), with a long of 0.01 BTCUSDT at leverage 20 (the default) and a
// short of 0.02 ETHUSDT at leverage 7; SOLUSDT is not listed.
func twoSymbols(t *testing.T) (*binancetest.Server, *binance.Client) {
	t.Helper()
	eth := binancetest.BTCUSDT()
	eth.Name = "ETHUSDT"
	srv, c := setup(t, []binancetest.Option{binancetest.WithSymbol(binancetest.BTCUSDT()), binancetest.WithSymbol(eth)})
	ctx := context.Background()
	_, err := c.SetLeverage(ctx, "ETHUSDT", 7)
	require.NoError(t, err)
	_, err = c.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "b", Side: exchange.Buy, Type: exchange.Market, Quantity: dec("0.01")})
	require.NoError(t, err)
	_, err = c.PlaceOrder(ctx, exchange.OrderRequest{Symbol: "ETHUSDT", ClientOrderID: "e", Side: exchange.Sell, Type: exchange.Market, Quantity: dec("0.02")})
	require.NoError(t, err)
	return srv, c
}

// AllPositions reads every symbol with one positionRisk and one
// symbolConfig request (weight 5 each), with each symbol's own leverage.
func TestAllPositions(t *testing.T) {
	srv, c := twoSymbols(t)
	ctx := context.Background()
	all, err := c.AllPositions(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	bySym := map[string]exchange.Position{}
	for _, p := range all {
		bySym[p.Symbol] = p
	}
	assert.Equal(t, "0.01", bySym["BTCUSDT"].Quantity.String())
	assert.Equal(t, 20, bySym["BTCUSDT"].Leverage)
	assert.Equal(t, "-0.02", bySym["ETHUSDT"].Quantity.String())
	assert.Equal(t, 7, bySym["ETHUSDT"].Leverage)
	assert.Equal(t, exchange.PositionBoth, bySym["ETHUSDT"].PositionSide)
	assert.Equal(t, 1, srv.Requests("GET", "/fapi/v3/positionRisk"))
	assert.Equal(t, 1, srv.Requests("GET", "/fapi/v1/symbolConfig"))
	assert.Equal(t, binance.Charge{Requests: 2, Weight: 10}, c.Charges()[exchange.OpAllPositions])
	assert.Equal(t, 10, c.Weight(exchange.OpAllPositions))

	// The same rows as Positions, symbol by symbol.
	for _, sym := range []string{"BTCUSDT", "ETHUSDT"} {
		one, err := c.Positions(ctx, sym)
		require.NoError(t, err)
		assert.Equal(t, []exchange.Position{bySym[sym]}, one, sym)
	}
}

// A flat account answers no row, after one positionRisk request only.
func TestAllPositionsFlat(t *testing.T) {
	srv, c := setup(t, nil)
	all, err := c.AllPositions(context.Background())
	require.NoError(t, err)
	assert.Empty(t, all)
	assert.Equal(t, 1, srv.Requests("GET", "/fapi/v3/positionRisk"))
	assert.Zero(t, srv.Requests("GET", "/fapi/v1/symbolConfig"))
}

// The adapter declares "allPositions" at weight 10 on REQUEST_WEIGHT_1M.
func TestAllPositionsDeclared(t *testing.T) {
	_, c := setup(t, nil)
	for _, w := range c.LimitWindows() {
		if w.Name != binance.WindowRequestWeight {
			continue
		}
		for _, cost := range w.Costs {
			if cost.Op == exchange.OpAllPositions {
				assert.Equal(t, 10, cost.Units)
				return
			}
		}
	}
	t.Fatal("allPositions not declared on REQUEST_WEIGHT_1M")
}

// Through an executor, Positions calls of three symbols waiting at once
// are one AllPositions read; each lane gets its own symbol's row, and the
// unlisted SOLUSDT none.
func TestExecutorCoalescesPositionsOnBinance(t *testing.T) {
	srv, c := twoSymbols(t)
	// A tight window so that the calls queue: 20 per second, positions 10.
	x, err := exchange.NewExecutor(c, exchange.WithLimits(exchange.LimitWindow{
		Name: binance.WindowRequestWeight, Per: exchange.PerIP, Interval: time.Second, Max: 20,
		Costs: []exchange.OpCost{{Op: exchange.OpPositions, Units: 10}, {Op: exchange.OpAllPositions, Units: 10}, {Op: exchange.OpRules, Units: 10}},
	}))
	require.NoError(t, err)
	ctx := context.Background()
	err = x.Do(ctx, exchange.OpRules, func(context.Context) error { return nil }) // spends the burst
	require.NoError(t, err)
	before := srv.Requests("GET", "/fapi/v3/positionRisk")

	syms := []string{"BTCUSDT", "ETHUSDT", "SOLUSDT"}
	got := make([][]exchange.Position, len(syms))
	errs := make([]error, len(syms))
	var wg sync.WaitGroup
	for i, sym := range syms {
		l, err := x.Lane(sym)
		require.NoError(t, err)
		defer l.Close()
		wg.Add(1)
		go func() { defer wg.Done(); got[i], errs[i] = l.Positions(ctx, sym) }()
		require.Eventually(t, func() bool { return l.Stats().Queued == 1 }, 5*time.Second, time.Millisecond)
	}
	wg.Wait()
	for i := range syms {
		require.NoError(t, errs[i], syms[i])
	}
	assert.Equal(t, 1, srv.Requests("GET", "/fapi/v3/positionRisk")-before, "one positionRisk for three calls")
	require.Len(t, got[0], 1)
	assert.Equal(t, "0.01", got[0][0].Quantity.String())
	require.Len(t, got[1], 1)
	assert.Equal(t, 7, got[1][0].Leverage)
	assert.Empty(t, got[2])
	assert.Equal(t, uint64(1), x.Stats().Requests[exchange.OpAllPositions])
	assert.Equal(t, uint64(2), x.Stats().Coalesced)
}
