package binance

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// defaultLimits are the sheet's §3.1 defaults: ORDERS 300 per 10 s and 1200
// per minute per account, REQUEST_WEIGHT 2400 per minute per IP. The limits
// exchangeInfo reports replace them when rules are loaded.
func defaultLimits() []exchange.RateLimit {
	return []exchange.RateLimit{
		{Scope: "order", Interval: 10 * time.Second, Limit: 300},
		{Scope: "order", Interval: time.Minute, Limit: 1200},
		{Scope: "request", Interval: time.Minute, Limit: 2400},
	}
}

// weights are the IP request weights of the adapter's operations (sheet
// §3.4). Order placement weighs 0 on the IP limiter; it counts on the
// order windows instead.
var weights = map[string]int{
	"place":        0,
	"batchPlace":   5,
	"amend":        0,
	"cancel":       1,
	"batchCancel":  1,
	"cancelAll":    1,
	"armCancelAll": 10,
	"query":        1,
	"openOrders":   1,
	"fills":        5,
	"account":      10, // v3 account (5) + accountConfig (5)
	"positions":    10, // v3 positionRisk (5) + symbolConfig (5)
	// positionRisk without a symbol (5) + symbolConfig (5), every symbol
	// at once ([Client.AllPositions]).
	exchange.OpAllPositions: 10,
	"leverage":              1,
	"positionMode":          1, // POST /fapi/v1/positionSide/dual
	"rules":                 1,
	"time":                  1,
	"listenKey":             1,
	// Klines weigh by their limit (sheet §3.4): KlinesOp names the
	// operation of each limit.
	opKlines1:  1,
	opKlines2:  2,
	OpKlines:   5, // limit 500 to 1000, and the default 500
	opKlines10: 10,
	// exchange.OpMarketData, for a host's market-data request of unstated
	// endpoint: the weight of klines at the default limit. Klines sent
	// through an executor are better named with KlinesOp.
	exchange.OpMarketData: 5,
}

// OpKlines is the operation a host names when it sends [Client.Klines]
// with a limit from 500 to 1000 (or the default, 0) through an executor
// ([exchange.Executor.Do]); [KlinesOp] names the operation of any limit.
const OpKlines = "klines"

// The operations of klines requests of other limits.
const (
	opKlines1  = "klines/1-99"
	opKlines2  = "klines/100-499"
	opKlines10 = "klines/1001-1500"
)

// KlinesOp returns the operation under which a host sends [Client.Klines]
// with limit through an executor, so that the executor charges the
// request's weight (sheet §3.4): "klines/1-99" (weight 1) for a limit
// under 100, "klines/100-499" (2) under 500, [OpKlines] (5) for 500 to
// 1000 and for 0 (the default 500), "klines/1001-1500" (10) above 1000.
// [Client.LimitWindows] declares each.
func KlinesOp(limit int) string {
	switch {
	case limit == 0:
		return OpKlines
	case limit < 100:
		return opKlines1
	case limit < 500:
		return opKlines2
	case limit <= 1000:
		return OpKlines
	}
	return opKlines10
}

// RateLimits returns the venue's windows: the sheet's defaults until
// exchangeInfo has been loaded, then what exchangeInfo reported (an ORDERS
// 10-second window of 300 is kept when exchangeInfo omits it, as its docs
// example does).
func (c *Client) RateLimits() []exchange.RateLimit {
	c.rulesMu.Lock()
	defer c.rulesMu.Unlock()
	return append([]exchange.RateLimit(nil), c.limits...)
}

// Weight returns an operation's IP request weight as the executor charges
// it, once per call: "place" 0, "batchPlace" 5, "cancel" 1, "query" 1,
// "openOrders" 1, "fills" 5, "account" 10, "positions" 10, "armCancelAll"
// 10, "klines" 5 ([KlinesOp] for other limits), "marketData" 5, … and 1
// for an operation it does not know. It is the cost of the call's usual
// requests; a call that needs more (Fills over more than 7 days, or with
// fills of orders it must look up) sends and charges each request at its
// own weight (see [Client.Charges]), and every answer's usage headers
// tell the executor what the venue counted, so the extra requests slow
// the calls after them.
func (c *Client) Weight(op string) int {
	if w, ok := weights[op]; ok {
		return w
	}
	return 1
}

// OrderCost returns how many units an operation counts on the ORDERS
// windows: per10s on the 10-second window and per1m on the minute window
// (a batch of up to 5 counts 5 and 1).
func (c *Client) OrderCost(op string) (per10s, per1m int) {
	switch op {
	case "place", "amend":
		return 1, 1
	case "batchPlace":
		return 5, 1
	}
	return 0, 0
}

// cost is what one REST request counts against the venue's limits: its IP
// request weight and its units on the 10-second and minute ORDERS windows.
type cost struct{ weight, orders10s, orders1m int }

// endpointCost is the cost of one request (sheet §3.4) from its method,
// path and encoded parameters: klines weigh by their limit, openOrders and
// the tickers by whether a symbol is given. An endpoint the sheet does not
// list weighs 1.
func endpointCost(method, path string, p []byte) cost {
	switch path {
	case "/fapi/v1/order":
		switch method {
		case "POST", "PUT":
			return cost{0, 1, 1}
		}
		return cost{weight: 1} // DELETE (cancel), GET (query)
	case "/fapi/v1/batchOrders":
		switch method {
		case "POST", "PUT":
			return cost{5, 5, 1}
		}
		return cost{weight: 1} // DELETE
	case "/fapi/v1/klines":
		limit := 500
		if v, ok := paramValue(p, "limit"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				limit = n
			}
		}
		return cost{weight: klineWeight(limit)}
	case "/fapi/v1/openOrders":
		if _, ok := paramValue(p, "symbol"); ok {
			return cost{weight: 1}
		}
		return cost{weight: 40}
	case "/fapi/v1/premiumIndex":
		if _, ok := paramValue(p, "symbol"); ok {
			return cost{weight: 1}
		}
		return cost{weight: 10}
	case "/fapi/v1/ticker/bookTicker":
		if _, ok := paramValue(p, "symbol"); ok {
			return cost{weight: 2}
		}
		return cost{weight: 5}
	case "/fapi/v1/countdownCancelAll":
		return cost{weight: 10}
	case "/fapi/v1/allOrders", "/fapi/v1/userTrades", "/fapi/v3/account", "/fapi/v3/positionRisk", "/fapi/v3/balance",
		"/fapi/v1/symbolConfig", "/fapi/v1/accountConfig":
		return cost{weight: 5}
	case "/fapi/v2/account", "/fapi/v2/positionRisk":
		return cost{weight: 10} // 5 on the pages, 10 since the 2024-09-03 change (sheet §3.4, §12.6)
	case "/fapi/v1/positionSide/dual":
		if method == "GET" {
			return cost{weight: 30}
		}
		return cost{weight: 1}
	case "/fapi/v1/commissionRate":
		return cost{weight: 20}
	case "/fapi/v1/algoOrder":
		if method == "POST" {
			return cost{}
		}
	}
	return cost{weight: 1} // time, exchangeInfo, leverage, marginType, listenKey, rateLimit/order, …
}

// paramValue returns the (still encoded) value of key in an encoded query.
func paramValue(p []byte, key string) (string, bool) {
	for len(p) > 0 {
		var kv []byte
		if i := bytes.IndexByte(p, '&'); i >= 0 {
			kv, p = p[:i], p[i+1:]
		} else {
			kv, p = p, nil
		}
		if len(kv) > len(key) && kv[len(key)] == '=' && string(kv[:len(key)]) == key {
			return string(kv[len(key)+1:]), true
		}
	}
	return "", false
}

// Charge is what an operation's REST requests have counted against the
// venue's limits: how many were sent, their IP request weight and their
// units on the ORDERS windows.
type Charge struct {
	Requests  int
	Weight    int
	Orders10s int
	Orders1m  int
}

// ledger adds up the cost of every request sent, by operation: lock-free
// counters for the adapter's own operations, a locked map for any other.
// Safe for concurrent use.
type ledger struct {
	ops   map[string]*opCounters // set by New, only read afterwards
	mu    sync.Mutex
	other map[string]Charge
}

// opCounters are one operation's running charges.
type opCounters struct{ requests, weight, orders10s, orders1m atomic.Int64 }

// newLedger returns a ledger with counters for the adapter's operations.
func newLedger() ledger {
	m := map[string]*opCounters{}
	for op := range weights {
		m[op] = new(opCounters)
	}
	return ledger{ops: m}
}

func (l *ledger) add(op string, c cost) {
	if k, ok := l.ops[op]; ok {
		k.requests.Add(1)
		k.weight.Add(int64(c.weight))
		k.orders10s.Add(int64(c.orders10s))
		k.orders1m.Add(int64(c.orders1m))
		return
	}
	l.mu.Lock()
	if l.other == nil {
		l.other = make(map[string]Charge, 4)
	}
	ch := l.other[op]
	ch.Requests++
	ch.Weight += c.weight
	ch.Orders10s += c.orders10s
	ch.Orders1m += c.orders1m
	l.other[op] = ch
	l.mu.Unlock()
}

func (l *ledger) snapshot() map[string]Charge {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]Charge, len(l.other)+4)
	for k, v := range l.other {
		out[k] = v
	}
	for op, k := range l.ops {
		if n := k.requests.Load(); n > 0 {
			out[op] = Charge{Requests: int(n), Weight: int(k.weight.Load()), Orders10s: int(k.orders10s.Load()), Orders1m: int(k.orders1m.Load())}
		}
	}
	return out
}

// Charges returns, by operation, what every REST request the client has
// sent since New counted against the venue's limits, each at its own
// weight (sheet §3.4): a Fills call over 20 days is three userTrades
// requests of weight 5 plus one order query of weight 1 per order it had
// to look up; a Klines call weighs by its limit; a signed request resent
// after a clock resync counts twice, and the clock sync counts under
// "time". The executor charges [Client.Weight] once per call before it;
// Charges is what the calls really cost.
func (c *Client) Charges() map[string]Charge { return c.charges.snapshot() }

// klineWeight is the weight of GET /fapi/v1/klines for a limit.
func klineWeight(limit int) int {
	switch {
	case limit < 100:
		return 1
	case limit < 500:
		return 2
	case limit <= 1000:
		return 5
	}
	return 10
}

// limitsFromInfo converts exchangeInfo.rateLimits.
func limitsFromInfo(in []wireRateLimit) []exchange.RateLimit {
	var out []exchange.RateLimit
	has10s := false
	for _, l := range in {
		var unit time.Duration
		switch l.Interval {
		case "SECOND":
			unit = time.Second
		case "MINUTE":
			unit = time.Minute
		case "HOUR":
			unit = time.Hour
		case "DAY":
			unit = 24 * time.Hour
		default:
			continue
		}
		n := l.IntervalNum
		if n <= 0 {
			n = 1
		}
		var scope string
		switch l.RateLimitType {
		case "ORDERS":
			scope = "order"
		case "REQUEST_WEIGHT":
			scope = "request"
		default:
			continue
		}
		if l.Limit <= 0 {
			continue
		}
		iv := time.Duration(n) * unit
		if scope == "order" && iv == 10*time.Second {
			has10s = true
		}
		out = append(out, exchange.RateLimit{Scope: scope, Interval: iv, Limit: l.Limit})
	}
	if len(out) == 0 {
		return defaultLimits()
	}
	if !has10s {
		out = append([]exchange.RateLimit{{Scope: "order", Interval: 10 * time.Second, Limit: 300}}, out...)
	}
	return out
}

// Names of Binance's windows in [Client.LimitWindows]: the rateLimitType
// and the interval as its usage headers spell it. After every response
// (errors and 429s included) the adapter reports the headers' counts under
// these names, with the context the executor passed to the call:
//
//	exchange.ReportUsage(ctx, exchange.Usage{Window: WindowRequestWeight, Used: <X-MBX-USED-WEIGHT-1M>, Reset: <end of the minute>})
//	exchange.ReportUsage(ctx, exchange.Usage{Window: WindowOrders10s, Used: <X-MBX-ORDER-COUNT-10S>, Reset: <end of the 10 s>})
//	exchange.ReportUsage(ctx, exchange.Usage{Window: WindowOrders1m, Used: <X-MBX-ORDER-COUNT-1M>, Reset: <end of the minute>})
//
// each only when its header is present (order counts come on order
// responses only). Binance's windows are aligned to its clock: the end of
// the current window is the server time truncated to the interval plus the
// interval, moved back to local time by the clock offset.
const (
	WindowOrders10s     = "ORDERS_10S"
	WindowOrders1m      = "ORDERS_1M"
	WindowRequestWeight = "REQUEST_WEIGHT_1M"
)

var _ exchange.LimitDeclarer = (*Client)(nil)

// LimitWindows returns the venue's windows in the executor's full form:
// each ORDERS window per account, counting one per order placed or amended
// and, for a batch, 5 on the 10-second window and 1 on the others (sheet
// §3.4: per request); the REQUEST_WEIGHT window per IP, counting each
// operation's weight ([Client.Weight]; "place" 0). Cancels count on no
// ORDERS window. The limits are the sheet's defaults until exchangeInfo
// has been loaded, then the ones it reported, as [Client.RateLimits].
// Windows are named "<rateLimitType>_<interval>" (ORDERS_10S, ORDERS_1M,
// REQUEST_WEIGHT_1M).
func (c *Client) LimitWindows() []exchange.LimitWindow {
	ops := make([]string, 0, len(weights))
	for op := range weights {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var out []exchange.LimitWindow
	for _, l := range c.RateLimits() {
		switch l.Scope {
		case "order":
			batch := 1
			if l.Interval <= 10*time.Second {
				batch, _ = c.OrderCost("batchPlace")
			}
			out = append(out, exchange.LimitWindow{
				Name: "ORDERS_" + intervalSuffix(l.Interval), Per: exchange.PerAccount, Interval: l.Interval, Max: l.Limit,
				Costs: []exchange.OpCost{
					{Op: exchange.OpPlace, PerOrder: 1}, {Op: exchange.OpBatchPlace, Units: batch}, {Op: "amend", PerOrder: 1},
				},
			})
		case "request":
			w := exchange.LimitWindow{Name: "REQUEST_WEIGHT_" + intervalSuffix(l.Interval), Per: exchange.PerIP, Interval: l.Interval, Max: l.Limit}
			for _, op := range ops {
				w.Costs = append(w.Costs, exchange.OpCost{Op: op, Units: weights[op]})
			}
			out = append(out, w)
		}
	}
	// GET /fapi/v1/fundingRate has a window of its own, shared with
	// fundingInfo: 500 requests per 5 minutes per IP. The sheet is silent;
	// this is Binance's documentation of the endpoint. A runner booking
	// funding ([Client.FundingHistory]) reads it through the executor as
	// exchange.OpFundingRate.
	out = append(out, exchange.LimitWindow{Name: "FUNDING_RATE_5M", Per: exchange.PerIP, Interval: 5 * time.Minute, Max: 500,
		Costs: []exchange.OpCost{{Op: exchange.OpFundingRate, Units: 1}}})
	return out
}

// intervalSuffix spells an interval as Binance's headers do: 10S, 1M, 1H, 1D.
func intervalSuffix(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dD", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dH", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dM", d/time.Minute)
	}
	return fmt.Sprintf("%dS", d/time.Second)
}
