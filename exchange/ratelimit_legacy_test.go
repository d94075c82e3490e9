package exchange

import (
	"time"
)

// The limiter tests below were written for the scopes "order" and
// "request" with raw units; this shim builds the same buckets from the
// windows' general form, so they keep checking the arithmetic.

// execBudget says which windows a shim request counts in.
type execBudget uint8

const (
	budgetOrder execBudget = iota + 1 // order windows count the orders, request windows the weight
	budgetQuery                       // request windows and their read share count the weight
)

// legacyParams are the largest units one request takes, per kind of window.
type legacyParams struct {
	maxOrders      int // orders of one request (the batch size)
	maxWeight      int // weight of any request
	maxQueryWeight int // weight of any query
	queryShare     int // percent of each request window that queries may use
}

// legacyLimiter is a limiterSet over legacy windows.
type legacyLimiter struct {
	*limiterSet
	scopes []string
}

func newLegacyLimiter(windows []RateLimit, p legacyParams) *legacyLimiter {
	ws := make([]LimitWindow, len(windows))
	scopes := make([]string, len(windows))
	for i, w := range windows {
		ws[i] = LimitWindow{Name: string(rune('a' + i)), Per: PerAccount, Interval: w.Interval, Max: w.Limit}
		scopes[i] = w.Scope
		if w.Scope == ScopeOrder {
			ws[i].Costs = []OpCost{{Op: OpPlace, PerOrder: 1}, {Op: OpBatchPlace, PerOrder: 1}}
		} else {
			ws[i].Costs = []OpCost{{Op: OpBatchPlace, Units: p.maxWeight}, {Op: OpQuery, Units: max(p.maxQueryWeight, 1)}}
		}
	}
	var lp limiterParams
	lp.queryShare = p.queryShare
	lp.maxOrders[opPlace] = 1
	lp.maxOrders[opBatchPlace] = max(p.maxOrders, 1)
	return &legacyLimiter{limiterSet: newLimiterSet(ws, nil, lp), scopes: scopes}
}

// take admits a request of budget b carrying orders and weighing weight.
func (s *legacyLimiter) take(now time.Time, b execBudget, orders, weight int) (time.Time, bool) {
	d := demand{units: make([]int, len(s.scopes)), read: b == budgetQuery}
	for i, sc := range s.scopes {
		switch {
		case sc == ScopeOrder && b == budgetOrder:
			d.units[i] = orders
		case sc == ScopeRequest:
			d.units[i] = weight
		}
	}
	at, _, ok := s.limiterSet.take(now, d)
	return at, ok
}
