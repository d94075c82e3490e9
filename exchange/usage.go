package exchange

import (
	"context"
	"time"
)

// Usage is a venue's own count of one of its windows, as a response
// reports it: Binance's X-MBX-USED-WEIGHT-1M (window REQUEST_WEIGHT_1M),
// X-MBX-ORDER-COUNT-10S and -1M (ORDERS_10S, ORDERS_1M); Gate's
// X-Gate-RateLimit-Limit minus -Requests-Remain, with -Reset-Timestamp. It
// is a plain value.
type Usage struct {
	// Window is the Name of the declared [LimitWindow] the count is for.
	Window string
	// Used is the units the venue counts as used in its current window,
	// this request included — by every program on the account or IP, not
	// just this one.
	Used int
	// At is when the venue counted, on the executor's clock; zero means
	// when the report reaches the executor.
	At time.Time
	// Reset is when the venue's current window ends and its count starts
	// again, on the executor's clock; zero means unknown, and the executor
	// then assumes the window may last a full Interval from At. Binance
	// counts in windows aligned to the clock (a minute window resets on the
	// minute), so its adapter passes At truncated to the interval plus the
	// interval, corrected by its server-time offset.
	Reset time.Time
}

// UsageReporter receives a venue's usage reports; [Executor] implements it.
// Safe for concurrent use. ReportUsage must not keep the slice after it
// returns (the Binance adapter reuses its buffer): it copies what it needs.
type UsageReporter interface {
	ReportUsage(...Usage)
}

// usageKey carries a call's UsageReporter in the context the executor
// passes to the adapter.
type usageKey struct{}

// ReportUsage reports the venue's counts from a response to the executor
// that sent the request: an adapter calls it, with the context the executor
// passed to its method (PlaceOrder, QueryOrder, …), after reading each
// response — successful or not, a 429 included — for example, on Binance:
//
//	used, _ := strconv.Atoi(resp.Header.Get("X-Mbx-Used-Weight-1m"))
//	exchange.ReportUsage(ctx, exchange.Usage{Window: "REQUEST_WEIGHT_1M", Used: used, Reset: nextMinute})
//
// naming the windows as its [LimitDeclarer] does, and passing only the
// counts the response carries (Binance sends the order counts on order
// responses only). The executor then holds every request that would take
// a window past its Max until the window's Reset, so it slows down before
// the venue's 429 — also when another program (or this one before a
// restart) used the budget. A context that did not come from an executor
// makes it a no-op, so adapters call it unconditionally. Reports for
// windows the executor does not know, or with a negative count, are
// ignored.
func ReportUsage(ctx context.Context, u ...Usage) {
	if r, ok := ctx.Value(usageKey{}).(UsageReporter); ok {
		r.ReportUsage(u...)
	}
}

// WithUsageReporter returns a context under which [ReportUsage] reaches r.
// The executor sets it on every call to the adapter; hosts that call an
// adapter directly may set it to feed an executor the counts.
func WithUsageReporter(ctx context.Context, r UsageReporter) context.Context {
	return context.WithValue(ctx, usageKey{}, r)
}

// ReportUsage applies the venue's counts: until each report's Reset the
// executor admits no request that would take that window past its Max,
// counting every request it admits after the report on top of the
// venue's figure. A later report for the same venue window raises the
// count and never lowers it; one for a window that has ended is ignored.
//
// When a window whose count held a request back resets, the executor
// sends one request first and the others once it is answered: its answer
// carries the new window's count, which another program may have used up
// as the window opened, and the others then go as far as it leaves room,
// in the lanes' fair order (sent at once, they would race for that room at
// the venue, the losers refused with a rate-limit error).
func (e *Executor) ReportUsage(us ...Usage) {
	e.reportUsage(demand{}, us)
}

// reportUsage applies reports carried by the answer to a request of demand
// self (zero: none).
func (e *Executor) reportUsage(self demand, us []Usage) {
	now := e.clock.Now()
	for _, u := range us {
		if e.limits.report(now, u, self) {
			e.stats.usageReports.Add(1)
		}
	}
	// A report only ever delays admissions: the queue's keeper finds out
	// when it wakes.
}
