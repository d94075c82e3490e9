package binancetest

import (
	"net/url"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestRouteWeightsMatchSheet checks every route's weight against the
// sheet's §3.4 (and, for the routes the sheet does not list, the docs
// figure the handler's comment states), with and without the parameters
// the weight depends on. Every route is in the table, so a new one must
// say its weight here.
func TestRouteWeightsMatchSheet(t *testing.T) {
	type row struct {
		params string
		weight int
	}
	sheet := map[string][]row{
		"GET /fapi/v1/time":                {{"", 1}},
		"GET /fapi/v1/exchangeInfo":        {{"", 1}},
		"GET /fapi/v1/klines":              {{"limit=1", 1}, {"limit=99", 1}, {"limit=100", 2}, {"limit=499", 2}, {"", 5}, {"limit=500", 5}, {"limit=1000", 5}, {"limit=1001", 10}, {"limit=1500", 10}},
		"GET /fapi/v1/premiumIndex":        {{"symbol=BTCUSDT", 1}, {"", 10}},
		"GET /fapi/v1/ticker/bookTicker":   {{"symbol=BTCUSDT", 2}, {"", 5}},
		"POST /fapi/v1/order":              {{"symbol=BTCUSDT", 0}},
		"POST /fapi/v1/batchOrders":        {{"", 5}},
		"PUT /fapi/v1/order":               {{"symbol=BTCUSDT", 0}},
		"DELETE /fapi/v1/order":            {{"symbol=BTCUSDT", 1}},
		"DELETE /fapi/v1/batchOrders":      {{"symbol=BTCUSDT", 1}},
		"DELETE /fapi/v1/allOpenOrders":    {{"symbol=BTCUSDT", 1}},
		"POST /fapi/v1/countdownCancelAll": {{"symbol=BTCUSDT", 10}},
		"GET /fapi/v1/order":               {{"symbol=BTCUSDT", 1}},
		"GET /fapi/v1/openOrder":           {{"symbol=BTCUSDT", 1}},
		"GET /fapi/v1/openOrders":          {{"symbol=BTCUSDT", 1}, {"", 40}},
		"GET /fapi/v1/allOrders":           {{"symbol=BTCUSDT", 5}},
		"GET /fapi/v1/userTrades":          {{"symbol=BTCUSDT", 5}},
		"GET /fapi/v3/account":             {{"", 5}},
		"GET /fapi/v2/account":             {{"", 10}}, // the 2024-09-03 change (sheet §12.6)
		"GET /fapi/v3/positionRisk":        {{"", 5}},
		"GET /fapi/v2/positionRisk":        {{"", 10}},
		"GET /fapi/v3/balance":             {{"", 5}},
		"GET /fapi/v1/symbolConfig":        {{"", 5}},
		"GET /fapi/v1/accountConfig":       {{"", 5}},
		"GET /fapi/v1/positionSide/dual":   {{"", 30}},
		"POST /fapi/v1/positionSide/dual":  {{"", 1}},
		"POST /fapi/v1/marginType":         {{"", 1}},
		"POST /fapi/v1/leverage":           {{"", 1}},
		"GET /fapi/v1/commissionRate":      {{"symbol=BTCUSDT", 20}},
		"POST /fapi/v1/listenKey":          {{"", 1}},
		"PUT /fapi/v1/listenKey":           {{"", 1}},
		"DELETE /fapi/v1/listenKey":        {{"", 1}},
		"GET /fapi/v1/rateLimit/order":     {{"", 1}},
		// Not in the sheet: the docs' figures.
		"GET /fapi/v1/ping":            {{"", 1}},
		"GET /fapi/v1/depth":           {{"limit=5", 2}, {"limit=50", 2}, {"limit=100", 5}, {"limit=500", 10}, {"limit=1000", 20}},
		"GET /fapi/v1/ticker/24hr":     {{"symbol=BTCUSDT", 1}, {"", 40}},
		"GET /fapi/v1/ticker/price":    {{"symbol=BTCUSDT", 1}, {"", 2}},
		"GET /fapi/v2/ticker/price":    {{"symbol=BTCUSDT", 1}, {"", 2}},
		"GET /fapi/v1/fundingRate":     {{"", 1}},
		"GET /fapi/v2/balance":         {{"", 5}},
		"GET /fapi/v1/leverageBracket": {{"", 1}},
		"GET /fapi/v1/income":          {{"", 30}},
	}
	var keys []string
	for k := range routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rows, ok := sheet[k]
		if !ok {
			t.Errorf("%s: served but its weight is not in the table", k)
			continue
		}
		for _, r := range rows {
			p, err := url.ParseQuery(r.params)
			if err != nil {
				t.Fatal(err)
			}
			if got := routes[k].weight(p); got != r.weight {
				t.Errorf("%s?%s weighs %d, the sheet says %d", k, r.params, got, r.weight)
			}
		}
	}
	for k := range sheet {
		if _, ok := routes[k]; !ok {
			t.Errorf("%s: in the table but not served", k)
		}
	}
}

// movingClock is a clock a test sets.
type movingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *movingClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

const placeParams = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price="

// TestUsageWindows: the weight counts per minute and the order counts per
// 10 seconds and per minute, each window aligned to the server's clock;
// the headers carry the running counts, what another program used
// (UseWeight, UseOrders) included; order counts come on order answers
// only, and placements (1 and 1), batches (5 and 1) and modifications (1
// and 1) count as the sheet says.
func TestUsageWindows(t *testing.T) {
	clk := &movingClock{t: time.Date(2026, 12, 3, 12, 0, 59, 500e6, time.UTC)}
	s := newFixed(t, WithClock(clk.now))
	weight := func(a answer) int {
		t.Helper()
		n, err := strconv.Atoi(a.header.Get("X-Mbx-Used-Weight-1m"))
		if err != nil {
			t.Fatalf("weight header %q (status %d %s)", a.header.Get("X-Mbx-Used-Weight-1m"), a.status, a.body)
		}
		return n
	}
	orders := func(a answer) (string, string) {
		return a.header.Get("X-Mbx-Order-Count-10s"), a.header.Get("X-Mbx-Order-Count-1m")
	}
	signed := func(method, path, params string) answer {
		t.Helper()
		return call(t, s, method, path, params, true, clk.now().UnixMilli(), APIKey)
	}
	if w := weight(get(t, s, "/fapi/v1/time", "")); w != 1 {
		t.Errorf("first request: weight %d", w)
	}
	s.UseWeight(100)
	a := get(t, s, "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m&limit=200")
	if w := weight(a); w != 1+100+2 {
		t.Errorf("after another program's 100: weight %d, want 103", w)
	}
	if o10, o1m := orders(a); o10 != "" || o1m != "" {
		t.Errorf("order counts on a read: %q %q", o10, o1m)
	}
	clk.set(time.Date(2026, 12, 3, 12, 1, 0, 0, time.UTC)) // the minute turns
	if w := weight(get(t, s, "/fapi/v1/time", "")); w != 1 {
		t.Errorf("new minute: weight %d, want 1", w)
	}
	clk.set(time.Date(2026, 12, 3, 12, 1, 9, 999e6, time.UTC))
	s.UseOrders(3, 7)
	a = signed("POST", "/fapi/v1/order", placeParams+"50000")
	if o10, o1m := orders(a); a.status != 200 || o10 != "4" || o1m != "8" || weight(a) != 1 {
		t.Errorf("place: %d %s, counts %q %q, weight %d", a.status, a.body, o10, o1m, weight(a))
	}
	clk.set(time.Date(2026, 12, 3, 12, 1, 10, 0, time.UTC)) // the 10 s window turns, not the minute
	batch := url.QueryEscape(`[{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","quantity":"0.002","price":"50001"}]`)
	a = signed("POST", "/fapi/v1/batchOrders", "batchOrders="+batch)
	if o10, o1m := orders(a); a.status != 200 || o10 != "5" || o1m != "9" || weight(a) != 1+5 {
		t.Errorf("batch: %d %s, counts %q %q, weight %d", a.status, a.body, o10, o1m, weight(a))
	}
	var placed struct {
		OrderID int64 `json:"orderId"`
	}
	_ = jsonUnmarshal(a.body[1:len(a.body)-1], &placed)
	a = signed("PUT", "/fapi/v1/order", "symbol=BTCUSDT&orderId="+strconv.FormatInt(placed.OrderID, 10)+"&side=BUY&quantity=0.002&price=50002")
	if o10, o1m := orders(a); a.status != 200 || o10 != "6" || o1m != "10" || weight(a) != 6 {
		t.Errorf("modify: %d %s, counts %q %q, weight %d", a.status, a.body, o10, o1m, weight(a))
	}
	a = signed("DELETE", "/fapi/v1/order", "symbol=BTCUSDT&orderId="+strconv.FormatInt(placed.OrderID, 10))
	if o10, o1m := orders(a); a.status != 200 || o10 != "" || o1m != "" || weight(a) != 7 {
		t.Errorf("cancel: %d %s, counts %q %q, weight %d", a.status, a.body, o10, o1m, weight(a))
	}
	if w, o10, o1m := s.Usage(); w != 7 || o10 != 6 || o1m != 10 {
		t.Errorf("Usage = %d, %d, %d", w, o10, o1m)
	}
	clk.set(time.Date(2026, 12, 3, 12, 2, 0, 0, time.UTC))
	if w, o10, o1m := s.Usage(); w != 0 || o10 != 0 || o1m != 0 {
		t.Errorf("Usage in a new minute = %d, %d, %d", w, o10, o1m)
	}
}

// TestLimitRefusals: a request over a limit is refused with 429 and
// counts nothing; the weight refusal carries the weight header and
// Retry-After to the minute's end, the order refusal no order count and
// Retry-After to the end of the window that is full.
func TestLimitRefusals(t *testing.T) {
	clk := &movingClock{t: time.Date(2026, 12, 3, 12, 0, 57, 500e6, time.UTC)}
	s := newFixed(t, WithClock(clk.now), WithWeightLimit(10), WithOrderLimits(3, 5))
	s.UseWeight(8)
	a := get(t, s, "/fapi/v1/klines", "symbol=BTCUSDT&interval=1m") // weight 5
	if a.status != 429 || code(t, a) != -1003 || weightOf(a) != "8" || a.header.Get("Retry-After") != "3" {
		t.Errorf("over the weight: %d %s, weight %q, Retry-After %q", a.status, a.body, weightOf(a), a.header.Get("Retry-After"))
	}
	if a := get(t, s, "/fapi/v1/time", ""); a.status != 200 || weightOf(a) != "9" {
		t.Errorf("the refused request counted: %d, weight %q", a.status, weightOf(a))
	}
	clk.set(time.Date(2026, 12, 3, 12, 1, 3, 200e6, time.UTC))
	s.UseOrders(3, 3)
	place := func(price string) answer {
		return call(t, s, "POST", "/fapi/v1/order", placeParams+price, true, clk.now().UnixMilli(), APIKey)
	}
	a = place("50000")
	if a.status != 429 || code(t, a) != -1015 || a.header.Get("Retry-After") != "7" || a.header.Get("X-Mbx-Order-Count-10s") != "" {
		t.Errorf("over the 10 s orders: %d %s, Retry-After %q, count %q", a.status, a.body, a.header.Get("Retry-After"), a.header.Get("X-Mbx-Order-Count-10s"))
	}
	clk.set(time.Date(2026, 12, 3, 12, 1, 10, 0, time.UTC))
	if a := place("50001"); a.status != 200 || a.header.Get("X-Mbx-Order-Count-10s") != "1" || a.header.Get("X-Mbx-Order-Count-1m") != "4" {
		t.Errorf("next 10 s: %d %s, counts %v", a.status, a.body, a.header)
	}
	if a := place("50002"); a.status != 200 || a.header.Get("X-Mbx-Order-Count-1m") != "5" {
		t.Errorf("fifth of the minute: %d %s", a.status, a.body)
	}
	a = place("50003")
	if a.status != 429 || code(t, a) != -1015 || a.header.Get("Retry-After") != "50" {
		t.Errorf("over the minute's orders: %d %s, Retry-After %q", a.status, a.body, a.header.Get("Retry-After"))
	}
	if n := s.RateLimitRefusals(); n != 3 {
		t.Errorf("RateLimitRefusals = %d, want 3", n)
	}
	if _, o10, o1m := s.Usage(); o10 != 2 || o1m != 5 {
		t.Errorf("refused orders counted: %d %d", o10, o1m)
	}
	if n := len(s.OpenOrders("BTCUSDT")); n != 2 {
		t.Errorf("%d orders rest, want 2", n)
	}
}
