package binance

// This file: the venue's usage headers, kept for Client.Usage and reported
// to the executor that sent the request (exchange.ReportUsage).

import (
	"context"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// Usage is the rate-limit usage the venue last reported in response
// headers. The zero value means no header has been seen.
type Usage struct {
	UsedWeight1m  int       // X-MBX-USED-WEIGHT-1M: IP weight used this minute
	OrderCount10s int       // X-MBX-ORDER-COUNT-10S
	OrderCount1m  int       // X-MBX-ORDER-COUNT-1M
	At            time.Time // when the last header arrived (local clock)
}

// Usage returns the last reported rate-limit usage.
func (c *Client) Usage() Usage {
	u := Usage{UsedWeight1m: int(c.usedWeight.Load()), OrderCount10s: int(c.orders10s.Load()), OrderCount1m: int(c.orders1m.Load())}
	if ms := c.usageAt.Load(); ms != 0 {
		u.At = time.UnixMilli(ms)
	}
	return u
}

// maxUsed bounds a count read from a header: a larger figure still means
// "the window is full", and sums with it cannot overflow.
const maxUsed = math.MaxInt32

// The prefixes of the usage headers and of the windows they count.
const (
	hdrWeightPrefix   = "X-Mbx-Used-Weight-"
	hdrOrderPrefix    = "X-Mbx-Order-Count-"
	windowOrderPrefix = "ORDERS_"
	windowWeightPfx   = "REQUEST_WEIGHT_"
)

// usageCount is one usage header read: the window it counts (named as
// [Client.LimitWindows] names it), the window's length and the count.
type usageCount struct {
	window   string
	interval time.Duration
	used     int
}

// usageHeaders is the rate-limit usage one response reported: every usage
// header it carried with a well-formed interval and count (rejected orders
// may lack the order counts, sheet §3.2). At most 4 are kept without
// allocating; a response carries 3 at most from Binance.
type usageHeaders struct {
	n      int
	counts [4]usageCount
	more   []usageCount
}

// all returns the counts read.
func (u *usageHeaders) all() []usageCount {
	if u.more != nil {
		return u.more
	}
	return u.counts[:u.n]
}

// set records window's count, keeping the higher of two for one window.
func (u *usageHeaders) set(window string, iv time.Duration, used int) {
	cs := u.all()
	for i := range cs {
		if cs[i].window == window {
			cs[i].used = max(cs[i].used, used)
			return
		}
	}
	u.add(usageCount{window: window, interval: iv, used: used})
}

func (u *usageHeaders) add(c usageCount) {
	if u.more == nil && u.n < len(u.counts) {
		u.counts[u.n] = c
		u.n++
		return
	}
	if u.more == nil {
		u.more = append(make([]usageCount, 0, 2*len(u.counts)), u.counts[:u.n]...)
	}
	u.more = append(u.more, c)
}

// get returns the count of window, if the response carried it.
func (u *usageHeaders) get(window string) (int, bool) {
	for _, c := range u.all() {
		if c.window == window {
			return c.used, true
		}
	}
	return 0, false
}

// parseUsage reads X-MBX-USED-WEIGHT-<interval> and
// X-MBX-ORDER-COUNT-<interval> from a response's header, in any case, the
// interval spelled as 10S, 1M, 1H, 1D (sheet §3.2; Binance's spot API also
// sends X-MBX-ORDER-COUNT-1D, and a window exchangeInfo declares has the
// header of its interval). A header whose value is not a non-negative
// decimal integer, or whose interval is malformed, is ignored; a count
// above 2³¹−1 is read as 2³¹−1. Of a repeated header, or one sent under
// two spellings, the highest count is kept.
func parseUsage(h http.Header) usageHeaders {
	var u usageHeaders
	for key, vs := range h {
		var rest, window string
		switch {
		case len(key) > len(hdrWeightPrefix) && strings.EqualFold(key[:len(hdrWeightPrefix)], hdrWeightPrefix):
			rest, window = key[len(hdrWeightPrefix):], windowWeightPfx
		case len(key) > len(hdrOrderPrefix) && strings.EqualFold(key[:len(hdrOrderPrefix)], hdrOrderPrefix):
			rest, window = key[len(hdrOrderPrefix):], windowOrderPrefix
		default:
			continue
		}
		iv, ok := parseHeaderInterval(rest)
		if !ok {
			continue
		}
		n, ok := parseCount(vs)
		if !ok {
			continue
		}
		u.set(windowName(window, iv), iv, n)
	}
	return u
}

// windowName is the name [Client.LimitWindows] gives the window of prefix
// and interval iv, without allocating for Binance's three.
func windowName(prefix string, iv time.Duration) string {
	switch {
	case prefix == windowWeightPfx && iv == time.Minute:
		return WindowRequestWeight
	case prefix == windowOrderPrefix && iv == 10*time.Second:
		return WindowOrders10s
	case prefix == windowOrderPrefix && iv == time.Minute:
		return WindowOrders1m
	}
	return prefix + intervalSuffix(iv)
}

// parseCount reads a header's values as a count: decimal digits only, the
// highest of the well-formed values when the header is repeated.
func parseCount(vs []string) (int, bool) {
	best, found := 0, false
	for _, v := range vs {
		if n, ok := parseDigits(v); ok {
			best, found = max(best, n), true
		}
	}
	return best, found
}

// parseDigits reads a non-empty run of decimal digits, saturating at maxUsed.
func parseDigits(v string) (int, bool) {
	if v == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(v); i++ {
		d := v[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if n <= maxUsed {
			n = n*10 + int(d-'0')
		}
	}
	return min(n, maxUsed), true
}

// parseHeaderInterval reads a usage header's interval, "<n><unit>" with a
// unit of S, M, H or D in any case and n from 1 to 9999999 without a
// leading zero, of at most maxHeaderInterval.
func parseHeaderInterval(s string) (time.Duration, bool) {
	if len(s) < 2 || len(s) > 8 {
		return 0, false
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 's', 'S':
		unit = time.Second
	case 'm', 'M':
		unit = time.Minute
	case 'h', 'H':
		unit = time.Hour
	case 'd', 'D':
		unit = 24 * time.Hour
	default:
		return 0, false
	}
	n := 0
	for i := 0; i < len(s)-1; i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int(d-'0')
	}
	if n <= 0 || s[0] == '0' || time.Duration(n) > maxHeaderInterval/unit {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// maxHeaderInterval bounds a usage header's interval: Binance's longest
// window is a day; a year is already nonsense, and longer could overflow.
const maxHeaderInterval = 366 * 24 * time.Hour

// reportUsage keeps the usage a response reported (see [Client.Usage]) and
// passes every count to the executor that sent the request
// ([exchange.ReportUsage]; a no-op for a context that did not come from
// one). sentAt is when the request left, on the local clock.
//
// Binance counts in windows aligned to its clock (a minute window resets
// on the minute): a count belongs to the window that held the server's
// time when the request was sent, which ends at that time truncated to the
// interval plus the interval. Reset is that end moved to the local clock
// by the clock offset, and later by the offset's uncertainty, so the
// executor never trusts a window to have reset before the venue's has.
// Before the clock has been synchronised (public calls, and the sync's
// own answer) the offset is unknown and Reset is left zero: the executor
// then holds the count for a whole interval from sentAt. A count whose
// window had ended before the answer came is dropped by the executor.
// The adapter assumes that the executor's clock is [Config.Clock].
func (c *Client) reportUsage(ctx context.Context, h http.Header, sentAt time.Time) {
	u := parseUsage(h)
	counts := u.all()
	if len(counts) == 0 {
		return
	}
	if n, ok := u.get(WindowRequestWeight); ok {
		c.usedWeight.Store(int64(n))
	}
	if n, ok := u.get(WindowOrders10s); ok {
		c.orders10s.Store(int64(n))
	}
	if n, ok := u.get(WindowOrders1m); ok {
		c.orders1m.Store(int64(n))
	}
	c.usageAt.Store(c.now().UnixMilli())
	buf := usageBufs.Get().(*[4]exchange.Usage)
	defer usageBufs.Put(buf)
	reports := buf[:0]
	offset := time.Duration(c.offsetMs.Load()) * time.Millisecond
	slack := time.Duration(c.syncErr.Load())
	synced := c.synced.Load()
	for _, k := range counts {
		u := exchange.Usage{Window: k.window, Used: k.used, At: sentAt}
		if synced {
			u.Reset = windowEnd(sentAt, offset, k.interval).Add(slack)
		}
		reports = append(reports, u)
	}
	exchange.ReportUsage(ctx, reports...)
	clear(buf[:])
}

// usageBufs holds the reports of one answer while they are handed over: a
// slice passed to an interface escapes, and every answer has reports.
// Reporters read the slice during the call and do not keep it (the
// executor copies what it needs), as a variadic callee should.
var usageBufs = sync.Pool{New: func() any { return new([4]exchange.Usage) }}

// windowEnd returns when the venue's window of length iv that holds local
// time t ends, on the local clock: the venue's windows are aligned to its
// own clock, offset ahead of the local one (and to the Unix epoch, so a
// day window ends at 00:00 UTC).
func windowEnd(t time.Time, offset, iv time.Duration) time.Time {
	server := t.Add(offset).UnixNano()
	n := int64(iv)
	end := (server/n + 1) * n
	if server < 0 && server%n != 0 {
		end -= n
	}
	return t.Add(time.Duration(end - server))
}
