package binance

import (
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
	"leverage":     1,
	"rules":        1,
	"klines":       2, // limit 500 (sheet §3.4)
	"time":         1,
	"listenKey":    1,
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

// Weight returns an operation's IP request weight: "place" 0, "batchPlace"
// 5, "cancel" 1, "query" 1, "openOrders" 1, "fills" 5, "account" 10,
// "positions" 10, "armCancelAll" 10, … and 1 for an operation it does not
// know.
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
