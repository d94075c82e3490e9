package binance

import (
	"context"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// TestParseUsage: the usage headers in every spelling and interval, and
// every malformed value or name, which is ignored.
func TestParseUsage(t *testing.T) {
	type want = map[string]int // window → count
	cases := []struct {
		name string
		h    http.Header // set as a raw map, as a transport may deliver it
		want want
	}{
		{"Binance's three, canonical", http.Header{"X-Mbx-Used-Weight-1m": {"43"}, "X-Mbx-Order-Count-10s": {"2"}, "X-Mbx-Order-Count-1m": {"7"}},
			want{WindowRequestWeight: 43, WindowOrders10s: 2, WindowOrders1m: 7}},
		{"lower case, as servers often send", http.Header{"x-mbx-used-weight-1m": {"43"}}, want{WindowRequestWeight: 43}},
		{"upper case, as the docs write", http.Header{"X-MBX-ORDER-COUNT-10S": {"300"}}, want{WindowOrders10s: 300}},
		{"weight only (no order counts on a read)", http.Header{"X-Mbx-Used-Weight-1m": {"1"}, "Content-Type": {"application/json"}}, want{WindowRequestWeight: 1}},
		{"zero", http.Header{"X-Mbx-Used-Weight-1m": {"0"}}, want{WindowRequestWeight: 0}},
		{"a day window (spot's X-MBX-ORDER-COUNT-1D)", http.Header{"X-Mbx-Order-Count-1d": {"1234"}}, want{"ORDERS_1D": 1234}},
		{"an hour weight window", http.Header{"X-Mbx-Used-Weight-1h": {"5"}}, want{"REQUEST_WEIGHT_1H": 5}},
		{"60S is the minute window", http.Header{"X-Mbx-Used-Weight-60s": {"9"}}, want{WindowRequestWeight: 9}},
		{"two spellings: the higher count", http.Header{"X-Mbx-Used-Weight-1m": {"10"}, "x-mbx-used-weight-1m": {"12"}}, want{WindowRequestWeight: 12}},
		{"repeated: the higher well-formed value", http.Header{"X-Mbx-Used-Weight-1m": {"7", "x", "9"}}, want{WindowRequestWeight: 9}},
		{"beyond 2^31-1: saturated", http.Header{"X-Mbx-Used-Weight-1m": {"99999999999999999999999999"}}, want{WindowRequestWeight: math.MaxInt32}},
		{"2^31-1 exactly", http.Header{"X-Mbx-Used-Weight-1m": {"2147483647"}}, want{WindowRequestWeight: math.MaxInt32}},
		{"negative", http.Header{"X-Mbx-Used-Weight-1m": {"-1"}}, want{}},
		{"plus sign", http.Header{"X-Mbx-Used-Weight-1m": {"+5"}}, want{}},
		{"space inside", http.Header{"X-Mbx-Used-Weight-1m": {"4 3"}}, want{}},
		{"leading space", http.Header{"X-Mbx-Used-Weight-1m": {" 43"}}, want{}},
		{"empty", http.Header{"X-Mbx-Used-Weight-1m": {""}}, want{}},
		{"no value", http.Header{"X-Mbx-Used-Weight-1m": {}}, want{}},
		{"decimal", http.Header{"X-Mbx-Used-Weight-1m": {"4.0"}}, want{}},
		{"hex", http.Header{"X-Mbx-Used-Weight-1m": {"0x10"}}, want{}},
		{"exponent", http.Header{"X-Mbx-Used-Weight-1m": {"1e3"}}, want{}},
		{"no interval (spot's legacy X-MBX-USED-WEIGHT)", http.Header{"X-Mbx-Used-Weight": {"5"}}, want{}},
		{"empty interval", http.Header{"X-Mbx-Used-Weight-": {"5"}}, want{}},
		{"zero interval", http.Header{"X-Mbx-Used-Weight-0m": {"5"}}, want{}},
		{"leading zero in the interval", http.Header{"X-Mbx-Used-Weight-01m": {"5"}}, want{}},
		{"unknown unit", http.Header{"X-Mbx-Used-Weight-1w": {"5"}}, want{}},
		{"unit only", http.Header{"X-Mbx-Order-Count-m": {"5"}}, want{}},
		{"interval too long", http.Header{"X-Mbx-Order-Count-123456789s": {"5"}}, want{}},
		{"interval of 27,000 years (would overflow)", http.Header{"X-Mbx-Order-Count-9999999d": {"5"}}, want{}},
		{"interval of 366 days: the longest read", http.Header{"X-Mbx-Order-Count-366d": {"5"}, "X-Mbx-Order-Count-367d": {"6"}}, want{"ORDERS_366D": 5}},
		{"other X-MBX headers", http.Header{"X-Mbx-Uuid": {"5"}, "X-Mbx-Used-Weightx1m": {"5"}}, want{}},
		{"five windows (beyond the inline room)", http.Header{"X-Mbx-Used-Weight-1m": {"1"}, "X-Mbx-Used-Weight-1h": {"2"},
			"X-Mbx-Order-Count-10s": {"3"}, "X-Mbx-Order-Count-1m": {"4"}, "X-Mbx-Order-Count-1d": {"5"}},
			want{WindowRequestWeight: 1, "REQUEST_WEIGHT_1H": 2, WindowOrders10s: 3, WindowOrders1m: 4, "ORDERS_1D": 5}},
		{"none", http.Header{}, want{}},
		{"nil", nil, want{}},
	}
	for _, tc := range cases {
		u := parseUsage(tc.h)
		got := want{}
		for _, k := range u.all() {
			if _, dup := got[k.window]; dup {
				t.Errorf("%s: window %s read twice", tc.name, k.window)
			}
			got[k.window] = k.used
			wantIv := map[string]time.Duration{"1M": time.Minute, "10S": 10 * time.Second, "1D": 24 * time.Hour, "1H": time.Hour, "366D": 366 * 24 * time.Hour}[k.window[strings.LastIndexByte(k.window, '_')+1:]]
			if k.interval != wantIv {
				t.Errorf("%s: %s interval %s, want %s", tc.name, k.window, k.interval, wantIv)
			}
		}
		if !sameCounts(got, tc.want) {
			t.Errorf("%s: parseUsage = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestWindowEnd: the venue's windows are aligned to its own clock; the
// end is moved to the local clock by the offset.
func TestWindowEnd(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		local  string
		offset time.Duration
		iv     time.Duration
		want   string
	}{
		{"2026-12-03T12:00:30Z", 0, time.Minute, "2026-12-03T12:01:00Z"},
		{"2026-12-03T12:00:00Z", 0, time.Minute, "2026-12-03T12:01:00Z"}, // a window starting now ends an interval later
		{"2026-12-03T12:00:59.999Z", 0, time.Minute, "2026-12-03T12:01:00Z"},
		{"2026-12-03T12:00:33Z", 0, 10 * time.Second, "2026-12-03T12:00:40Z"},
		// The server 2.5 s ahead: its minute ends at local 12:01:57.5.
		{"2026-12-03T12:00:58Z", 2500 * time.Millisecond, time.Minute, "2026-12-03T12:01:57.5Z"},
		// The server 1.2 s behind: at local 12:01:00.5 it is still 12:00:59.3 there.
		{"2026-12-03T12:01:00.5Z", -1200 * time.Millisecond, time.Minute, "2026-12-03T12:01:01.2Z"},
		{"2026-12-03T13:30:00Z", 0, 24 * time.Hour, "2026-12-04T00:00:00Z"}, // day windows end at 00:00 UTC
		{"1969-12-31T23:59:30Z", 0, time.Minute, "1970-01-01T00:00:00Z"},    // before the epoch
		{"1969-12-31T23:59:00Z", 0, time.Minute, "1970-01-01T00:00:00Z"},
	} {
		if got := windowEnd(at(tc.local), tc.offset, tc.iv); !got.Equal(at(tc.want)) {
			t.Errorf("windowEnd(%s, %s, %s) = %s, want %s", tc.local, tc.offset, tc.iv, got.UTC().Format(time.RFC3339Nano), tc.want)
		}
	}
}

// TestUsageBeforeClockSync: before the offset is known the adapter cannot
// say when the venue's window ends, and leaves Reset zero (the executor
// then holds the count for a whole interval).
func TestUsageBeforeClockSync(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 30, 0, time.UTC)
	c := vectorClient(t, Config{RESTURL: "http://127.0.0.1:1", Clock: func() time.Time { return now }})
	rec := &usageRecorder{}
	ctx := exchange.WithUsageReporter(context.Background(), rec)
	h := http.Header{"X-Mbx-Used-Weight-1m": {"2301"}}
	c.reportUsage(ctx, h, now)
	got := rec.take()
	if len(got) != 1 || got[0] != (exchange.Usage{Window: WindowRequestWeight, Used: 2301, At: now}) {
		t.Errorf("before sync: %+v", got)
	}
	c.offsetMs.Store(2500)
	c.syncErr.Store(int64(3 * time.Millisecond))
	c.synced.Store(true)
	c.reportUsage(ctx, h, now)
	// The server's 12:01:00 is local 12:00:57.5, and the sync may be 3 ms off.
	want := time.Date(2026, 12, 3, 12, 0, 57, 503e6, time.UTC)
	if got := rec.take(); len(got) != 1 || !got[0].Reset.Equal(want) {
		t.Errorf("after sync: %+v, want Reset %s", got, want)
	}
	if u := c.Usage(); u.UsedWeight1m != 2301 || !u.At.Equal(now) {
		t.Errorf("Usage = %+v", u)
	}
	// An answer with no usage header reports nothing and keeps the last.
	c.reportUsage(ctx, http.Header{"Content-Type": {"application/json"}}, now)
	if got := rec.take(); len(got) != 0 || c.Usage().UsedWeight1m != 2301 {
		t.Errorf("an answer without headers: reports %+v, Usage %+v", got, c.Usage())
	}
}

// TestRetryAfter: the wait of a rate-limit answer, from Retry-After in
// both its forms, the ban's end, or the window the message names. A huge
// Retry-After once overflowed into a negative or wrapped wait.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 30, 0, time.UTC)
	hdr := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	weightMsg := "Too many requests; current limit is 2400 requests per minute."
	for _, tc := range []struct {
		name string
		h    http.Header
		msg  string
		code int
		want time.Duration
	}{
		{"seconds", hdr("7"), weightMsg, -1003, 7 * time.Second},
		{"zero seconds", hdr("0"), weightMsg, -1003, 0},
		{"padded", hdr(" 7 "), weightMsg, -1003, 7 * time.Second},
		{"huge seconds: capped, not overflowed", hdr("99999999999999"), weightMsg, -1003, 3 * 24 * time.Hour},
		{"beyond uint64: capped", hdr("999999999999999999999999999"), weightMsg, -1003, 3 * 24 * time.Hour},
		{"HTTP date", hdr("Thu, 03 Dec 2026 12:00:45 GMT"), weightMsg, -1003, 15 * time.Second},
		{"HTTP date past", hdr("Thu, 03 Dec 2026 11:00:00 GMT"), weightMsg, -1003, 0},
		{"negative: the minute's end", hdr("-5"), weightMsg, -1003, 30 * time.Second},
		{"garbage: the minute's end", hdr("soon"), weightMsg, -1003, 30 * time.Second},
		{"fraction: the minute's end", hdr("1.5"), weightMsg, -1003, 30 * time.Second},
		{"banned until", nil, "Way too many requests; IP banned until 1796299290000. Please use the websocket", -1003, time.UnixMilli(1796299290000).Sub(now)},
		{"banned for years: capped", nil, "IP banned until 9999999999999999", -1003, 3 * 24 * time.Hour},
		{"orders per 10 s", nil, "Too many new orders; current limit is 300 orders per 10 SECOND.", -1015, 10 * time.Second},
		{"orders per minute", nil, "Too many new orders; current limit is 1200 orders per 1 MINUTE.", -1015, 30 * time.Second},
		{"orders per day", nil, "Too many new orders; current limit is 200000 orders per 1 DAY.", -1015, 12*time.Hour - 30*time.Second},
	} {
		if got := retryAfter(tc.h, tc.msg, tc.code, now); got != tc.want {
			t.Errorf("%s: retryAfter = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// FuzzUsageHeaders feeds arbitrary usage and Retry-After headers, as a
// response may carry them, to the parsers: they never panic, every count
// read is within [0, 2³¹−1] and names a window of a positive interval,
// and a rate-limit answer's wait is within [0, 3 days].
func FuzzUsageHeaders(f *testing.F) {
	f.Add("X-MBX-USED-WEIGHT-1M", "2301", "30")
	f.Add("x-mbx-order-count-10s", "300", "Fri, 31 Dec 1999 23:59:59 GMT")
	f.Add("X-Mbx-Order-Count-1d", "99999999999999999999", "99999999999999999999")
	f.Add("X-Mbx-Used-Weight-0m", "-1", "-5")
	f.Add("X-Mbx-Used-Weight-", "", "")
	f.Add("X-Mbx-Order-Count-9999999d", "5", "0")
	now := time.Date(2026, 12, 3, 12, 0, 30, 0, time.UTC)
	f.Fuzz(func(t *testing.T, name, value, retry string) {
		h := http.Header{name: {value}, "X-Mbx-Used-Weight-1m": {value}, "Retry-After": {retry}}
		u := parseUsage(h)
		names := []string{}
		for _, k := range u.all() {
			if k.used < 0 || k.used > math.MaxInt32 || k.interval <= 0 || k.interval > maxHeaderInterval || k.window == "" {
				t.Fatalf("read %+v from %q: %q", k, name, value)
			}
			if !strings.HasPrefix(k.window, windowOrderPrefix) && !strings.HasPrefix(k.window, windowWeightPfx) {
				t.Fatalf("window %q", k.window)
			}
			names = append(names, k.window)
		}
		sort.Strings(names)
		for i := 1; i < len(names); i++ {
			if names[i] == names[i-1] {
				t.Fatalf("window %s read twice", names[i])
			}
		}
		for _, code := range []int{-1003, -1015} {
			if d := retryAfter(h, value, code, now); d < 0 || d > maxRetryAfter {
				t.Fatalf("Retry-After %q: wait %s", retry, d)
			}
		}
		_ = windowEnd(now, time.Duration(len(value))*time.Second, time.Minute)
	})
}

// BenchmarkReportUsage is the work every answer adds: reading Binance's
// three usage headers and reporting them to the executor.
func BenchmarkReportUsage(b *testing.B) {
	now := time.Date(2026, 12, 3, 12, 0, 30, 0, time.UTC)
	c := vectorClient(b, Config{RESTURL: "http://127.0.0.1:1", Clock: func() time.Time { return now }})
	c.synced.Store(true)
	ctx := exchange.WithUsageReporter(context.Background(), nopUsage{})
	h := http.Header{"X-Mbx-Used-Weight-1m": {"2301"}, "X-Mbx-Order-Count-10s": {"12"}, "X-Mbx-Order-Count-1m": {"40"},
		"Content-Type": {"application/json"}, "Date": {"Thu, 03 Dec 2026 12:00:30 GMT"}, "Content-Length": {"400"}}
	b.ReportAllocs()
	for b.Loop() {
		c.reportUsage(ctx, h, now)
	}
}

type nopUsage struct{}

func (nopUsage) ReportUsage(...exchange.Usage) {}
