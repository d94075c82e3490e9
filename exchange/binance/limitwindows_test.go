package binance_test

import (
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/binance"
	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
)

// The adapter declares its limits in the executor's full form, and the
// executor takes them: two ORDERS windows per account and the weight
// window per IP, named as the usage headers are, and the funding-rate
// history's own window (500 per 5 minutes per IP).
func TestLimitWindows(t *testing.T) {
	srv := binancetest.NewServer()
	defer srv.Close()
	c := newTestClient(t, srv)
	defer c.Close()
	ws := c.LimitWindows()
	if len(ws) != 4 {
		t.Fatalf("LimitWindows = %+v", ws)
	}
	byName := map[string]exchange.LimitWindow{}
	for _, w := range ws {
		byName[w.Name] = w
	}
	cost := func(w exchange.LimitWindow, op string) exchange.OpCost {
		for _, c := range w.Costs {
			if c.Op == op {
				return c
			}
		}
		return exchange.OpCost{}
	}
	o10, o1m, rw := byName[binance.WindowOrders10s], byName[binance.WindowOrders1m], byName[binance.WindowRequestWeight]
	if o10.Max != 300 || o10.Interval != 10*time.Second || o10.Per != exchange.PerAccount ||
		cost(o10, exchange.OpPlace) != (exchange.OpCost{Op: exchange.OpPlace, PerOrder: 1}) ||
		cost(o10, exchange.OpBatchPlace) != (exchange.OpCost{Op: exchange.OpBatchPlace, Units: 5}) ||
		cost(o10, exchange.OpCancel) != (exchange.OpCost{}) {
		t.Errorf("ORDERS_10S = %+v", o10)
	}
	if o1m.Max != 1200 || o1m.Interval != time.Minute || cost(o1m, exchange.OpBatchPlace).Units != 1 {
		t.Errorf("ORDERS_1M = %+v", o1m)
	}
	if rw.Max != 2400 || rw.Per != exchange.PerIP || cost(rw, exchange.OpPlace).Units != 0 ||
		cost(rw, exchange.OpPositions).Units != 10 || cost(rw, exchange.OpFills).Units != 5 || cost(rw, "listenKey").Units != 1 {
		t.Errorf("REQUEST_WEIGHT_1M = %+v", rw)
	}
	fr := byName["FUNDING_RATE_5M"]
	if fr.Max != 500 || fr.Interval != 5*time.Minute || fr.Per != exchange.PerIP ||
		cost(fr, exchange.OpFundingRate).Units != 1 || cost(fr, exchange.OpPlace) != (exchange.OpCost{}) {
		t.Errorf("FUNDING_RATE_5M = %+v", fr)
	}
	x, err := exchange.NewExecutor(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := x.LimitWindows(); len(got) != 4 || got[0].Name != ws[0].Name {
		t.Errorf("executor windows = %+v", got)
	}
}
