package exchange

import (
	"errors"
	"fmt"
	"time"
)

// LimitPer says whose budget a [LimitWindow] counts. The zero value is
// invalid: a declaration must say.
type LimitPer uint8

const (
	// PerAccount: the venue counts the window per account (Binance ORDERS,
	// Bitget per UID, Gate per UID).
	PerAccount LimitPer = iota + 1
	// PerIP: the venue counts the window per client IP (Binance
	// REQUEST_WEIGHT, public endpoints): other programs on the same IP use
	// the same budget, which the venue's usage reports reveal
	// ([ReportUsage]).
	//
	// An executor enforces every window for its own requests alone, per
	// account or per IP alike: what other executors or programs take from
	// a shared budget reaches it through the venue's usage reports.
	PerIP
)

// String returns "account", "ip" or "LimitPer(n)".
func (p LimitPer) String() string {
	switch p {
	case PerAccount:
		return "account"
	case PerIP:
		return "ip"
	}
	return "LimitPer(" + itoa(int64(p)) + ")"
}

// OpMarketData names market-data requests (klines, tickers) an adapter or a
// host sends through [Executor.Do]; a venue may also declare costs for its
// own named endpoints ("listenKey", "leverage", "amend", …) and send them
// the same way.
const OpMarketData = "marketData"

// OpFundingRate names reads of a symbol's funding settlement history sent
// through [Executor.Do] (grid.Runner's, for the grid's funding); Binance
// declares a window of its own for them.
const OpFundingRate = "fundingRate"

// OpCost is what one request of an operation takes from a [LimitWindow]:
// Units per request plus PerOrder for every order it carries (1 for a place
// or cancel, n for a batch of n). Op is one of the executor's operations
// (OpPlace, OpBatchPlace, OpCancel, OpBatchCancel, OpQuery, OpOpenOrders,
// OpFills, OpAccount, OpPositions, OpRules) or a name the venue uses with
// [Executor.Do]. It is a plain value.
type OpCost struct {
	Op       string
	Units    int // per request
	PerOrder int // per order the request carries
}

// LimitWindow is one limit a venue enforces: at most Max units per Interval,
// counted per account or per IP, where each operation listed in Costs takes
// its cost and operations not listed take nothing. A venue declares every
// window it enforces ([LimitDeclarer]); a request is sent only when every
// window it counts in admits it, and no window — over any span of Interval,
// so whatever the venue's alignment — ever sees more than Max.
//
// The form expresses each venue we target; see the package examples
// (ExampleLimitWindow_binance, _bitget, _gate):
//
//   - Binance USDⓈ-M (weights per operation, several windows at once):
//     ORDERS_10S, 300 per 10 s per account — place 1 per order, batchPlace
//     5 per request; ORDERS_1M, 1200 per minute per account — place 1 per
//     order, batchPlace 1 per request; REQUEST_WEIGHT_1M, 2400 per minute
//     per IP — place 0, batchPlace 5, cancel 1, query 1, openOrders 1,
//     fills 5, account 10, positions 10 ….
//   - Bitget USDT-M (one window per endpoint): "place-order" 10 per second
//     per account (place 1); "batch-place-order" 5 per second, counted per
//     call however many orders it carries (batchPlace Units 1);
//     "cancel-order" 10/s; "batch-cancel-orders" 10/s; and 10/s (positions
//     5/s) for each query endpoint, 20/s per IP for market data.
//   - Gate USDT futures (placement and cancellation limited apart): "place",
//     100 per second per account counting every order, batch or not (place
//     and batchPlace PerOrder 1); "cancel", 200 per second (cancel and
//     batchCancel PerOrder 1); 200 per 10 s per endpoint for other private
//     endpoints, and per IP for public ones.
//
// Name identifies the window in errors, statistics and the venue's usage
// reports ([Usage].Window); names are unique within a declaration. The
// zero value is invalid. It is a plain value, safe to copy.
type LimitWindow struct {
	Name     string
	Per      LimitPer
	Interval time.Duration
	Max      int
	Costs    []OpCost
}

// cost returns op's cost in the window and whether op is listed.
func (w LimitWindow) cost(op string) (OpCost, bool) {
	for _, c := range w.Costs {
		if c.Op == op {
			return c, true
		}
	}
	return OpCost{}, false
}

// LimitDeclarer is an optional capability of an adapter: every window the
// venue enforces, in the full form. The executor prefers it to
// [RateLimitDeclarer]; an adapter implementing both keeps older hosts
// working.
type LimitDeclarer interface {
	LimitWindows() []LimitWindow
}

// validateLimitWindows reports every malformed window at once; src names
// where they came from.
func validateLimitWindows(src string, ws []LimitWindow) error {
	var errs []error
	seen := map[string]int{}
	for i, w := range ws {
		at := fmt.Sprintf("%s[%d]", src, i)
		if w.Name == "" {
			errs = append(errs, fmt.Errorf("%s.Name: empty: every window needs a name", at))
		} else if j, dup := seen[w.Name]; dup {
			errs = append(errs, fmt.Errorf("%s.Name %q: already used by window %d", at, w.Name, j))
		} else {
			seen[w.Name] = i
		}
		if w.Per != PerAccount && w.Per != PerIP {
			errs = append(errs, fmt.Errorf("%s.Per %s: must be PerAccount or PerIP", at, w.Per))
		}
		if w.Interval <= 0 {
			errs = append(errs, fmt.Errorf("%s.Interval %s: must be positive", at, w.Interval))
		}
		if w.Max <= 0 {
			errs = append(errs, fmt.Errorf("%s.Max %d: must be positive", at, w.Max))
		}
		ops := map[string]bool{}
		counted := false
		for k, c := range w.Costs {
			if c.Op == "" {
				errs = append(errs, fmt.Errorf("%s.Costs[%d].Op: empty", at, k))
			} else if ops[c.Op] {
				errs = append(errs, fmt.Errorf("%s.Costs[%d].Op %q: listed twice", at, k, c.Op))
			}
			ops[c.Op] = true
			if c.Units < 0 || c.PerOrder < 0 {
				errs = append(errs, fmt.Errorf("%s.Costs[%d] (%s): Units %d, PerOrder %d: must not be negative", at, k, c.Op, c.Units, c.PerOrder))
			}
			if c.Units > 0 || c.PerOrder > 0 {
				counted = true
			}
		}
		if !counted {
			errs = append(errs, fmt.Errorf("%s (%s): no operation counts against it", at, w.Name))
		}
	}
	return errors.Join(errs...)
}

// windowsFromRateLimits converts the legacy declaration: an "order" window
// counts one unit per order of every place and cancel, a "request" window
// the weight of every request. Operations not in the executor's list (named
// ones, sent with Do) weigh weight(op) in request windows.
func windowsFromRateLimits(limits []RateLimit, weight func(string) int) []LimitWindow {
	out := make([]LimitWindow, 0, len(limits))
	for i, l := range limits {
		w := LimitWindow{Name: fmt.Sprintf("%s[%d]", l.Scope, i), Per: PerAccount, Interval: l.Interval, Max: l.Limit}
		switch l.Scope {
		case ScopeOrder:
			for op := range numOps {
				if op.mutating() {
					w.Costs = append(w.Costs, OpCost{Op: op.name(), PerOrder: 1})
				}
			}
		case ScopeRequest:
			w.Per = PerIP
			for op := range numOps {
				n := weight(op.name())
				if op == opAllPositions {
					// An adapter that predates the operation may weigh it as
					// an unknown one: never less than one positions read.
					n = max(n, weight(OpPositions))
				}
				w.Costs = append(w.Costs, OpCost{Op: op.name(), Units: n})
			}
		}
		out = append(out, w)
	}
	return out
}

// rateLimitsFromWindows describes windows in the legacy form, for
// [Executor.RateLimits]: a window none of the executor's reads count in is
// an "order" window; every other is a "request" window.
func rateLimitsFromWindows(ws []LimitWindow) []RateLimit {
	out := make([]RateLimit, 0, len(ws))
	for _, w := range ws {
		scope := ScopeOrder
		for _, c := range w.Costs {
			if op, known := opByName(c.Op); known && !op.mutating() && (c.Units > 0 || c.PerOrder > 0) {
				scope = ScopeRequest
			}
		}
		out = append(out, RateLimit{Scope: scope, Interval: w.Interval, Limit: w.Max})
	}
	return out
}
