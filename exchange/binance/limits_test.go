package binance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// TestEndpointCosts checks every row of the sheet's §3.4 weight table.
func TestEndpointCosts(t *testing.T) {
	cases := []struct {
		method, path, params string
		want                 cost
	}{
		{"GET", "/fapi/v1/time", "", cost{1, 0, 0}},
		{"GET", "/fapi/v1/exchangeInfo", "", cost{1, 0, 0}},
		{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=1", cost{1, 0, 0}},
		{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=99", cost{1, 0, 0}},
		{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=100", cost{2, 0, 0}},
		{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=499", cost{2, 0, 0}},
		{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=500", cost{5, 0, 0}},
		{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m", cost{5, 0, 0}}, // the venue's default limit 500
		{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=1000", cost{5, 0, 0}},
		{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=1500", cost{10, 0, 0}},
		{"GET", "/fapi/v1/premiumIndex", "symbol=BTCUSDT", cost{1, 0, 0}},
		{"GET", "/fapi/v1/premiumIndex", "", cost{10, 0, 0}},
		{"GET", "/fapi/v1/ticker/bookTicker", "symbol=BTCUSDT", cost{2, 0, 0}},
		{"GET", "/fapi/v1/ticker/bookTicker", "", cost{5, 0, 0}},
		{"POST", "/fapi/v1/order", "symbol=BTCUSDT&signature=ab", cost{0, 1, 1}},
		{"POST", "/fapi/v1/batchOrders", "batchOrders=%5B%5D", cost{5, 5, 1}},
		{"PUT", "/fapi/v1/order", "symbol=BTCUSDT", cost{0, 1, 1}},
		{"PUT", "/fapi/v1/batchOrders", "", cost{5, 5, 1}},
		{"DELETE", "/fapi/v1/order", "symbol=BTCUSDT&orderId=1", cost{1, 0, 0}},
		{"DELETE", "/fapi/v1/batchOrders", "symbol=BTCUSDT", cost{1, 0, 0}},
		{"DELETE", "/fapi/v1/allOpenOrders", "symbol=BTCUSDT", cost{1, 0, 0}},
		{"POST", "/fapi/v1/countdownCancelAll", "symbol=BTCUSDT", cost{10, 0, 0}},
		{"GET", "/fapi/v1/order", "symbol=BTCUSDT&orderId=1", cost{1, 0, 0}},
		{"GET", "/fapi/v1/openOrder", "symbol=BTCUSDT", cost{1, 0, 0}},
		{"GET", "/fapi/v1/openOrders", "symbol=BTCUSDT&timestamp=1", cost{1, 0, 0}},
		{"GET", "/fapi/v1/openOrders", "timestamp=1&signature=ab", cost{40, 0, 0}},
		{"GET", "/fapi/v1/allOrders", "symbol=BTCUSDT", cost{5, 0, 0}},
		{"GET", "/fapi/v1/userTrades", "symbol=BTCUSDT", cost{5, 0, 0}},
		{"GET", "/fapi/v3/account", "", cost{5, 0, 0}},
		{"GET", "/fapi/v2/account", "", cost{10, 0, 0}},
		{"GET", "/fapi/v3/positionRisk", "symbol=BTCUSDT", cost{5, 0, 0}},
		{"GET", "/fapi/v2/positionRisk", "", cost{10, 0, 0}},
		{"GET", "/fapi/v3/balance", "", cost{5, 0, 0}},
		{"GET", "/fapi/v1/symbolConfig", "symbol=BTCUSDT", cost{5, 0, 0}},
		{"GET", "/fapi/v1/accountConfig", "", cost{5, 0, 0}},
		{"GET", "/fapi/v1/positionSide/dual", "", cost{30, 0, 0}},
		{"POST", "/fapi/v1/positionSide/dual", "dualSidePosition=true", cost{1, 0, 0}},
		{"POST", "/fapi/v1/marginType", "", cost{1, 0, 0}},
		{"POST", "/fapi/v1/leverage", "", cost{1, 0, 0}},
		{"GET", "/fapi/v1/commissionRate", "symbol=BTCUSDT", cost{20, 0, 0}},
		{"POST", "/fapi/v1/listenKey", "", cost{1, 0, 0}},
		{"PUT", "/fapi/v1/listenKey", "", cost{1, 0, 0}},
		{"DELETE", "/fapi/v1/listenKey", "", cost{1, 0, 0}},
		{"GET", "/fapi/v1/rateLimit/order", "", cost{1, 0, 0}},
		{"POST", "/fapi/v1/algoOrder", "", cost{0, 0, 0}},
	}
	for _, tc := range cases {
		if got := endpointCost(tc.method, tc.path, []byte(tc.params)); got != tc.want {
			t.Errorf("%s %s?%s = %+v, want %+v", tc.method, tc.path, tc.params, got, tc.want)
		}
	}
	// A key that only ends like the one looked for does not count.
	if _, ok := paramValue([]byte("notsymbol=X&limit=7"), "symbol"); ok {
		t.Error("notsymbol= read as symbol=")
	}
}

// tradeServer serves userTrades windows and order queries, recording every
// request and the weight the sheet gives it.
type tradeServer struct {
	mu     sync.Mutex
	now    int64
	reqs   []string
	trades map[int64]string // orderId → clientOrderId the order query answers
}

func (s *tradeServer) serve(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		q := r.URL.Query()
		s.mu.Lock()
		s.reqs = append(s.reqs, r.Method+" "+r.URL.Path+" "+q.Get("startTime")+"-"+q.Get("endTime")+q.Get("orderId")+q.Get("limit"))
		s.mu.Unlock()
		switch r.URL.Path {
		case "/fapi/v1/time":
			fmt.Fprintf(rw, `{"serverTime":%d}`, s.now)
		case "/fapi/v1/userTrades":
			start, _ := strconv.ParseInt(q.Get("startTime"), 10, 64)
			end, _ := strconv.ParseInt(q.Get("endTime"), 10, 64)
			var items []string
			// Fills of orders 11 (twice) and 12 a day into the window
			// that holds them, of order 13 two days before now.
			for i, f := range []struct {
				order int64
				at    int64
			}{{11, s.now - 19*day}, {11, s.now - 19*day + 1000}, {12, s.now - 18*day}, {13, s.now - 2*day}} {
				if f.at >= start && f.at <= end {
					items = append(items, fmt.Sprintf(`{"symbol":"BTCUSDT","id":%d,"orderId":%d,"side":"BUY","price":"60000","qty":"0.001","commission":"0.01","commissionAsset":"USDT","realizedPnl":"0","maker":true,"buyer":true,"time":%d}`, 100+i, f.order, f.at))
				}
			}
			fmt.Fprintf(rw, "[%s]", strings.Join(items, ","))
		case "/fapi/v1/order":
			id, _ := strconv.ParseInt(q.Get("orderId"), 10, 64)
			fmt.Fprintf(rw, `{"symbol":"BTCUSDT","orderId":%d,"clientOrderId":%q,"status":"FILLED","side":"BUY","type":"LIMIT","timeInForce":"GTC","price":"60000","origQty":"0.001","executedQty":"0.001","updateTime":%d}`, id, s.trades[id], s.now)
		case "/fapi/v1/klines":
			_, _ = rw.Write([]byte(`[]`))
		default:
			rw.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

const day = int64(24 * time.Hour / time.Millisecond)

// TestFillsChargesEachRequest: a Fills call over 20 days sends three
// userTrades windows (7 days at most each) and one order query per order
// it does not know, and charges each at its weight: 3 × 5 + 2 × 1.
func TestFillsChargesEachRequest(t *testing.T) {
	ts := &tradeServer{now: 1_790_000_000_000, trades: map[int64]string{11: "g1-b-11", 12: "g1-b-12", 13: "g1-s-13"}}
	srv := ts.serve(t)
	now := time.UnixMilli(ts.now)
	c := vectorClient(t, Config{RESTURL: srv.URL, WSURL: "ws://127.0.0.1:1", Clock: func() time.Time { return now }})
	c.remember("12", "g1-b-12") // seen on the stream: no query
	fills, err := c.Fills(context.Background(), "BTCUSDT", now.Add(-20*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(fills) != 4 || fills[0].ClientOrderID != "g1-b-11" || fills[1].ClientOrderID != "g1-b-11" ||
		fills[2].ClientOrderID != "g1-b-12" || fills[3].ClientOrderID != "g1-s-13" {
		t.Errorf("fills = %+v", fills)
	}
	w := int64(7*day - 1)
	s0 := ts.now - 20*day
	want := []string{
		"GET /fapi/v1/time -",
		fmt.Sprintf("GET /fapi/v1/userTrades %d-%d1000", s0, s0+w),
		fmt.Sprintf("GET /fapi/v1/userTrades %d-%d1000", s0+w+1, s0+2*w+1),
		fmt.Sprintf("GET /fapi/v1/userTrades %d-%d1000", s0+2*w+2, ts.now+1000),
		"GET /fapi/v1/order -11",
		"GET /fapi/v1/order -13",
	}
	ts.mu.Lock()
	got := append([]string(nil), ts.reqs...)
	ts.mu.Unlock()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ch := c.Charges()
	if ch["fills"] != (Charge{Requests: 5, Weight: 3*5 + 2*1}) || ch["time"] != (Charge{Requests: 1, Weight: 1}) || len(ch) != 2 {
		t.Errorf("charges = %+v, want fills 5 requests of weight 17 and one time request", ch)
	}
}

// TestKlinesChargedByLimit: each Klines call is charged at the weight its
// limit has on the venue, the default 500 at 5.
func TestKlinesChargedByLimit(t *testing.T) {
	ts := &tradeServer{now: 1_790_000_000_000}
	srv := ts.serve(t)
	c := vectorClient(t, Config{RESTURL: srv.URL, WSURL: "ws://127.0.0.1:1"})
	total := 0
	for _, lc := range []struct{ limit, weight int }{{0, 5}, {1, 1}, {99, 1}, {100, 2}, {499, 2}, {500, 5}, {1000, 5}} {
		if _, err := c.Klines(context.Background(), "BTCUSDT", "1m", time.Time{}, lc.limit); err != nil {
			t.Fatal(err)
		}
		total += lc.weight
		if got := c.Charges()["klines"].Weight; got != total {
			t.Errorf("after limit %d: klines weight %d, want %d", lc.limit, got, total)
		}
	}
	ts.mu.Lock()
	last := ts.reqs[len(ts.reqs)-1]
	ts.mu.Unlock()
	if !strings.HasSuffix(last, "1000") {
		t.Errorf("last request %q", last)
	}
	if c.Weight("klines") != 5 {
		t.Errorf("Weight(klines) = %d, want 5 for the default limit 500", c.Weight("klines"))
	}
}

// TestDeclaredWeightsMatchSheet checks the weights the adapter declares to
// the executor (LimitWindows, in the executor's full form) against the
// sheet's §3.4, written out here with the requests each operation sends:
// every declared operation is in the table and every table row declared,
// each weight equals the sum of its requests' costs (endpointCost, checked
// row by row in TestEndpointCosts), and the ORDERS windows count exactly
// the placements.
func TestDeclaredWeightsMatchSheet(t *testing.T) {
	type req struct{ method, path, params string }
	sheet := []struct {
		op     string
		weight int
		reqs   []req // the requests of the operation's usual call
	}{
		{exchange.OpPlace, 0, []req{{"POST", "/fapi/v1/order", "symbol=BTCUSDT"}}},
		{exchange.OpBatchPlace, 5, []req{{"POST", "/fapi/v1/batchOrders", "batchOrders=%5B%5D"}}},
		{"amend", 0, []req{{"PUT", "/fapi/v1/order", "symbol=BTCUSDT"}}},
		{exchange.OpCancel, 1, []req{{"DELETE", "/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=x"}}},
		{exchange.OpBatchCancel, 1, []req{{"DELETE", "/fapi/v1/batchOrders", "symbol=BTCUSDT"}}},
		{"cancelAll", 1, []req{{"DELETE", "/fapi/v1/allOpenOrders", "symbol=BTCUSDT"}}},
		{"armCancelAll", 10, []req{{"POST", "/fapi/v1/countdownCancelAll", "symbol=BTCUSDT"}}},
		{exchange.OpQuery, 1, []req{{"GET", "/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=x"}}},
		{exchange.OpOpenOrders, 1, []req{{"GET", "/fapi/v1/openOrders", "symbol=BTCUSDT"}}},
		{exchange.OpFills, 5, []req{{"GET", "/fapi/v1/userTrades", "symbol=BTCUSDT"}}}, // one 7-day window; more windows and order look-ups are charged per request and reported by the venue
		{exchange.OpAccount, 10, []req{{"GET", "/fapi/v3/account", ""}, {"GET", "/fapi/v1/accountConfig", ""}}},
		{exchange.OpPositions, 10, []req{{"GET", "/fapi/v3/positionRisk", "symbol=BTCUSDT"}, {"GET", "/fapi/v1/symbolConfig", "symbol=BTCUSDT"}}},
		{exchange.OpAllPositions, 10, []req{{"GET", "/fapi/v3/positionRisk", ""}, {"GET", "/fapi/v1/symbolConfig", ""}}},
		{"leverage", 1, []req{{"POST", "/fapi/v1/leverage", "symbol=BTCUSDT&leverage=10"}}},
		{"positionMode", 1, []req{{"POST", "/fapi/v1/positionSide/dual", "dualSidePosition=true"}}},
		{exchange.OpRules, 1, []req{{"GET", "/fapi/v1/exchangeInfo", ""}}},
		{"time", 1, []req{{"GET", "/fapi/v1/time", ""}}},
		{"listenKey", 1, []req{{"POST", "/fapi/v1/listenKey", ""}}},
		{OpKlines, 5, []req{{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=500"}}},
		{"klines/1-99", 1, []req{{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=99"}}},
		{"klines/100-499", 2, []req{{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=100"}}},
		{"klines/1001-1500", 10, []req{{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=1500"}}},
		{exchange.OpMarketData, 5, []req{{"GET", "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m"}}}, // assumption: klines at the default limit
	}
	c := vectorClient(t, Config{})
	var rw, o10, o1m exchange.LimitWindow
	for _, w := range c.LimitWindows() {
		switch w.Name {
		case WindowRequestWeight:
			rw = w
		case WindowOrders10s:
			o10 = w
		case WindowOrders1m:
			o1m = w
		}
	}
	declared := map[string]exchange.OpCost{}
	for _, k := range rw.Costs {
		declared[k.Op] = k
	}
	for _, row := range sheet {
		d, ok := declared[row.op]
		if !ok {
			t.Errorf("%s: not declared on %s", row.op, WindowRequestWeight)
			continue
		}
		delete(declared, row.op)
		if d.Units != row.weight || d.PerOrder != 0 {
			t.Errorf("%s: declared %+v, the sheet says %d per request", row.op, d, row.weight)
		}
		if c.Weight(row.op) != row.weight {
			t.Errorf("Weight(%s) = %d, the sheet says %d", row.op, c.Weight(row.op), row.weight)
		}
		sum := 0
		for _, r := range row.reqs {
			sum += endpointCost(r.method, r.path, []byte(r.params)).weight
		}
		if sum != row.weight {
			t.Errorf("%s: its requests cost %d, declared %d", row.op, sum, row.weight)
		}
	}
	for op := range declared {
		t.Errorf("%s: declared but not in the sheet's table", op)
	}
	// ORDERS: a placement or amendment counts 1 on both windows, a batch 5
	// on the 10-second one and 1 on the minute's (sheet §3.4); nothing else.
	wantOrders := func(w exchange.LimitWindow, batch int) {
		got := map[string]exchange.OpCost{}
		for _, k := range w.Costs {
			if k.Units > 0 || k.PerOrder > 0 {
				got[k.Op] = k
			}
		}
		want := map[string]exchange.OpCost{
			exchange.OpPlace:      {Op: exchange.OpPlace, PerOrder: 1},
			exchange.OpBatchPlace: {Op: exchange.OpBatchPlace, Units: batch},
			"amend":               {Op: "amend", PerOrder: 1},
		}
		if len(got) != len(want) {
			t.Errorf("%s counts %v, want %v", w.Name, got, want)
		}
		for op, k := range want {
			if got[op] != k {
				t.Errorf("%s: %s costs %+v, want %+v", w.Name, op, got[op], k)
			}
			per10, per1m := c.OrderCost(op)
			units := per1m
			if w.Interval == 10*time.Second {
				units = per10
			}
			if units != k.Units+k.PerOrder {
				t.Errorf("%s: OrderCost(%s) = %d, declared %+v", w.Name, op, units, k)
			}
		}
	}
	wantOrders(o10, 5)
	wantOrders(o1m, 1)
	// Klines: the operation KlinesOp names for a limit is declared at that
	// limit's weight.
	for limit := 0; limit <= 1500; limit++ {
		want := klineWeight(limit)
		if limit == 0 {
			want = klineWeight(500)
		}
		if got := c.Weight(KlinesOp(limit)); got != want {
			t.Fatalf("KlinesOp(%d) = %q weighs %d, the sheet says %d", limit, KlinesOp(limit), got, want)
		}
	}
}
