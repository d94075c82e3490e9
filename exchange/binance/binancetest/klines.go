package binancetest

// This file: kline intervals, the candle history (seeded and live), its
// aggregation to higher intervals and GET /fapi/v1/klines.

import (
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// interval is one kline interval of the sheet (§4.3): 1m 3m 5m 15m 30m 1h
// 2h 4h 6h 8h 12h 1d 3d 1w 1M. Buckets of fixed length up to 3d are
// aligned to the Unix epoch (assumption for 3d, which Binance does not
// document; 1d and shorter are epoch-aligned on Binance), 1w starts on
// Monday 00:00 UTC (as the sheet's 1w example, 1499040000000, does) and
// 1M on the first day of the month, UTC.
type interval struct {
	name  string
	ms    int64 // fixed length; 0 for 1M
	week  bool
	month bool
}

const (
	minuteMs = int64(60_000)
	dayMs    = 24 * 60 * minuteMs
)

var intervals = []interval{
	{name: "1m", ms: minuteMs}, {name: "3m", ms: 3 * minuteMs}, {name: "5m", ms: 5 * minuteMs},
	{name: "15m", ms: 15 * minuteMs}, {name: "30m", ms: 30 * minuteMs}, {name: "1h", ms: 60 * minuteMs},
	{name: "2h", ms: 120 * minuteMs}, {name: "4h", ms: 240 * minuteMs}, {name: "6h", ms: 360 * minuteMs},
	{name: "8h", ms: 480 * minuteMs}, {name: "12h", ms: 720 * minuteMs}, {name: "1d", ms: dayMs},
	{name: "3d", ms: 3 * dayMs}, {name: "1w", ms: 7 * dayMs, week: true}, {name: "1M", month: true},
}

// parseInterval looks an interval up by its exact name (case matters:
// 1m is a minute, 1M a month).
func parseInterval(name string) (interval, bool) {
	for _, iv := range intervals {
		if iv.name == name {
			return iv, true
		}
	}
	return interval{}, false
}

// open returns the open time of the bucket holding t (ms).
func (iv interval) open(t int64) int64 {
	switch {
	case iv.month:
		u := time.UnixMilli(t).UTC()
		return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	case iv.week:
		const monday = 4 * dayMs // 1970-01-05 was a Monday
		return floorDiv(t-monday, iv.ms)*iv.ms + monday
	}
	return floorDiv(t, iv.ms) * iv.ms
}

// next returns the open time of the bucket after the one opening at open.
func (iv interval) next(open int64) int64 {
	if iv.month {
		return time.UnixMilli(open).UTC().AddDate(0, 1, 0).UnixMilli()
	}
	return open + iv.ms
}

// divides reports whether every bucket of iv is a union of whole buckets
// of base, so iv can be aggregated from base.
func (iv interval) divides(base interval) bool {
	switch {
	case base.month:
		return iv.month
	case iv.month:
		return dayMs%base.ms == 0
	case base.week:
		return iv.week
	}
	if iv.week {
		return dayMs%base.ms == 0
	}
	return iv.ms%base.ms == 0
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// candle is one kline with every field of the REST array.
type candle struct {
	open                          int64
	o, h, l, c                    decimal.Decimal
	vol, quoteVol, takerBase, tkQ decimal.Decimal
	trades                        int64
}

// merge folds the later candle n into k.
func (k *candle) merge(n candle) {
	k.h = decimal.Max(k.h, n.h)
	k.l = decimal.Min(k.l, n.l)
	k.c = n.c
	k.vol = k.vol.Add(n.vol)
	k.quoteVol = k.quoteVol.Add(n.quoteVol)
	k.takerBase = k.takerBase.Add(n.takerBase)
	k.tkQ = k.tkQ.Add(n.tkQ)
	k.trades += n.trades
}

// mergeRun folds a run of consecutive candles, oldest first, into one:
// the first's open, the highest high, the lowest low, the last's close,
// the sums of the volumes and trades, and the first's open time. It
// reports false for an empty run. Every aggregation of the history (a
// higher interval's candles, one candle of it, the 24-hour ticker) is
// this fold over the run it covers.
func mergeRun(run []candle) (candle, bool) {
	if len(run) == 0 {
		return candle{}, false
	}
	out := run[0]
	for _, k := range run[1:] {
		out.merge(k)
	}
	return out, true
}

// span returns the run of b's candles opening in [from, to), oldest first.
// Called with s.mu held.
func (b *book) span(from, to int64) []candle {
	lo := sort.Search(len(b.candles), func(i int) bool { return b.candles[i].open >= from })
	hi := lo + sort.Search(len(b.candles)-lo, func(i int) bool { return b.candles[lo+i].open >= to })
	return b.candles[lo:hi]
}

// aggregate returns b's history at interval iv (nil when iv is finer than
// the history's interval or not a multiple of it). Called with s.mu held.
func (b *book) aggregate(iv interval) []candle {
	if !iv.divides(b.base) {
		return nil
	}
	if iv.name == b.base.name {
		return b.candles
	}
	var out []candle
	for i := 0; i < len(b.candles); {
		open := iv.open(b.candles[i].open)
		next := iv.next(open)
		j := i + 1
		for j < len(b.candles) && b.candles[j].open < next {
			j++
		}
		k, _ := mergeRun(b.candles[i:j])
		k.open = open
		out = append(out, k)
		i = j
	}
	return out
}

// trade records a price move in the candle history as one trade.
func (b *book) recordPrice(now int64, price decimal.Decimal) {
	open := b.base.open(now)
	i := sort.Search(len(b.candles), func(i int) bool { return b.candles[i].open >= open })
	if i == len(b.candles) || b.candles[i].open != open {
		z := decimal.Zero
		b.candles = append(b.candles, candle{})
		copy(b.candles[i+1:], b.candles[i:])
		b.candles[i] = candle{open: open, o: price, h: price, l: price, c: price, vol: z, quoteVol: z, takerBase: z, tkQ: z}
	}
	k := &b.candles[i]
	k.h, k.l, k.c = decimal.Max(k.h, price), decimal.Min(k.l, price), price
	k.trades++
}

// current returns the candle of interval iv holding now, if any.
func (b *book) current(iv interval, now int64) (candle, bool) { return b.candleAt(iv, iv.open(now)) }

// candleAt returns the candle of interval iv opening at open, if any.
func (b *book) candleAt(iv interval, open int64) (candle, bool) {
	if !iv.divides(b.base) {
		return candle{}, false
	}
	out, found := mergeRun(b.span(open, iv.next(open)))
	out.open = open
	return out, found
}

func klineWeight(p url.Values) int {
	n, err := strconv.Atoi(p.Get("limit"))
	if err != nil || n == 0 {
		n = 500
	}
	switch {
	case n < 100:
		return 1
	case n < 500:
		return 2
	case n <= 1000:
		return 5
	}
	return 10
}

// handleKlines serves GET /fapi/v1/klines: symbol and interval required,
// limit 1..1500 (default 500; -1130 outside), startTime and endTime
// optional. With startTime the first limit candles opening at or after it
// (and at or before endTime) are returned; with only endTime, or neither,
// the last limit candles opening at or before it (or now).
func (s *Server) handleKlines(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	name := p.Get("interval")
	if name == "" {
		return nil, errf(400, -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.")
	}
	iv, ok := parseInterval(name)
	if !ok {
		return nil, errf(400, -1120, "Invalid interval.")
	}
	limit := 500
	if v := p.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1500 {
			return nil, errf(400, -1130, "Data sent for parameter 'limit' is not valid.")
		}
		limit = n
	}
	start, end := int64(-1<<62), int64(1<<62)
	for _, f := range []struct {
		name string
		v    *int64
	}{{"startTime", &start}, {"endTime", &end}} {
		if v := p.Get(f.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, errf(400, -1100, "Illegal characters found in parameter '%s'; legal range is '^[0-9]{1,20}$'.", f.name)
			}
			*f.v = n
		}
	}
	if start > end {
		return nil, errf(400, -1023, "Start time is greater than end time.")
	}
	all := b.aggregate(iv)
	lo := sort.Search(len(all), func(i int) bool { return all[i].open >= start })
	hi := sort.Search(len(all), func(i int) bool { return all[i].open > end })
	sel := all[lo:hi]
	if p.Get("startTime") != "" {
		sel = sel[:min(limit, len(sel))]
	} else {
		sel = sel[max(0, len(sel)-limit):]
	}
	out := make([][]any, 0, len(sel))
	for _, k := range sel {
		out = append(out, s.klineRow(b, iv, k))
	}
	return out, nil
}

// klineRow is the REST array of one candle (sheet §4.3).
func (s *Server) klineRow(b *book, iv interval, k candle) []any {
	pf := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.PricePrecision)) }
	qf := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.QuantityPrecision)) }
	return []any{k.open, pf(k.o), pf(k.h), pf(k.l), pf(k.c), qf(k.vol), iv.next(k.open) - 1,
		k.quoteVol.String(), k.trades, qf(k.takerBase), k.tkQ.String(), "0"}
}

// klineEvent is the @kline_<interval> payload of candle k.
func (s *Server) klineEvent(b *book, iv interval, k candle, now int64, closed bool) map[string]any {
	pf := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.PricePrecision)) }
	qf := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.QuantityPrecision)) }
	first, last := int64(100), 100+k.trades-1
	if k.trades == 0 {
		first, last = -1, -1 // no trade yet, as the venue reports it
	}
	return map[string]any{"e": "kline", "E": now, "s": b.spec.Name, "k": map[string]any{
		"t": k.open, "T": iv.next(k.open) - 1, "s": b.spec.Name, "i": iv.name, "f": first, "L": last,
		"o": pf(k.o), "c": pf(k.c), "h": pf(k.h), "l": pf(k.l), "v": qf(k.vol), "n": k.trades,
		"x": closed, "q": k.quoteVol.String(), "V": qf(k.takerBase), "Q": k.tkQ.String(), "B": "0"}}
}
