package binancetest

// This file: the market streams: bookTicker, depth (partial and diff),
// aggTrade, markPrice and klines, pushed on change and on their cadence.
//
// Stream names are matched exactly, as the venue does: the symbol part
// is lower case (an upper-case symbol subscribes to a stream that never
// carries data: the subscription is accepted and stays silent), and the
// rest is spelled as documented, case included (bookTicker, markPrice,
// kline_1m for a minute and kline_1M for a month).

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// symbolNames returns the listed symbols in order. Called with s.mu held.
func (s *Server) symbolNames() []string {
	names := make([]string, 0, len(s.books))
	for n := range s.books {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// nextFunding is the next 8-hour funding time after now (ms).
func nextFunding(now int64) int64 { return (now/28_800_000 + 1) * 28_800_000 }

// markEvent is the markPriceUpdate payload of b (sheet §5.5); the mark,
// index and settle prices are the market price.
func (s *Server) markEvent(b *book, now int64) map[string]any {
	return map[string]any{"e": "markPriceUpdate", "E": now, "s": b.spec.Name, "p": f8(b.price), "ap": f8(b.price),
		"i": f8(b.price), "P": f8(b.price), "r": f8(b.fundingRate), "T": nextFunding(now)}
}

// publishMark sends <symbol>@markPrice<suffix> for every symbol and
// !markPrice@arr<suffix> with all of them. Called with s.mu held.
func (s *Server) publishMark(suffix string, now int64) {
	var arr []map[string]any
	wantArr := s.subscribed("market", "!markPrice@arr"+suffix)
	for _, name := range s.symbolNames() {
		b := s.books[name]
		ev := s.markEvent(b, now)
		s.publish("market", strings.ToLower(name)+"@markPrice"+suffix, ev)
		if wantArr {
			arr = append(arr, ev)
		}
	}
	if wantArr {
		s.publish("market", "!markPrice@arr"+suffix, arr)
	}
}

// publishMarket sends a price move of b: aggTrade, markPrice and every
// subscribed kline interval (bookTicker and depth go out with the book's
// flush). Called with s.mu held.
func (s *Server) publishMarket(b *book) {
	now := s.nowMs()
	sp := b.spec
	lower := strings.ToLower(sp.Name)
	b.aggID++
	b.recordPrice(now, b.price)
	s.publish("market", lower+"@aggTrade", map[string]any{"e": "aggTrade", "E": now, "s": sp.Name, "a": b.aggID,
		"p": b.price.StringFixed(int32(sp.PricePrecision)), "q": sp.MinQty.String(), "nq": sp.MinQty.String(),
		"f": b.aggID, "l": b.aggID, "T": now, "m": true})
	mark := s.markEvent(b, now)
	s.publish("market", lower+"@markPrice", mark)
	s.publish("market", lower+"@markPrice@1s", mark)
	s.publishKlines(b, now, false)
}

// publishKlines sends every subscribed <symbol>@kline_<interval> with the
// candle of now; on the cadence (every 250 ms, as the venue pushes) an
// interval without a candle yet gets an empty one at the market price.
// Called with s.mu held.
func (s *Server) publishKlines(b *book, now int64, cadence bool) {
	lower := strings.ToLower(b.spec.Name)
	for _, iv := range intervals {
		stream := lower + "@kline_" + iv.name
		if !s.subscribed("market", stream) {
			continue
		}
		open := iv.open(now)
		if prev, ok := b.klineOpen[stream]; ok && prev < open {
			// The bucket turned: the last candle goes out once more, final.
			if k, ok := b.candleAt(iv, prev); ok {
				s.publish("market", stream, s.klineEvent(b, iv, k, now, true))
			}
		}
		b.klineOpen[stream] = open
		k, ok := b.current(iv, now)
		if !ok {
			if !cadence {
				continue
			}
			z := decimal.Zero
			k = candle{open: iv.open(now), o: b.price, h: b.price, l: b.price, c: b.price, vol: z, quoteVol: z, takerBase: z, tkQ: z}
		}
		s.publish("market", stream, s.klineEvent(b, iv, k, now, false))
	}
}

// periodic pushes the timed streams until Close: partial depth and klines
// every 250 ms (@500ms, @100ms depth variants at theirs), markPrice every
// 3 s and @1s every second, as the venue does even when nothing changed.
func (s *Server) periodic() {
	defer s.wg.Done()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		now := s.nowMs()
		var suffixes []string // partial depth: every 250 ms, @500ms, @100ms
		if n%5 == 0 {
			suffixes = append(suffixes, "")
		}
		if n%10 == 0 {
			suffixes = append(suffixes, "@500ms")
		}
		if n%2 == 0 {
			suffixes = append(suffixes, "@100ms")
		}
		for _, name := range s.symbolNames() {
			s.publishPartials(s.books[name], now, suffixes...)
		}
		if n%5 == 0 {
			for _, name := range s.symbolNames() {
				s.publishKlines(s.books[name], now, true)
			}
		}
		if n%60 == 0 {
			s.publishMark("", now)
		}
		if n%20 == 0 {
			s.publishMark("@1s", now)
		}
		s.mu.Unlock()
	}
}

// subscribed reports whether a connection follows stream on route.
// Called with s.mu held.
func (s *Server) subscribed(route, stream string) bool {
	for c := range s.conns {
		if (c.route == route || c.route == "") && c.streams[stream] {
			return true
		}
	}
	return false
}

// publish sends v on a market stream of route to the connections of that
// route (and the legacy unrouted ones) following it. Called with s.mu
// held.
func (s *Server) publish(route, stream string, v any) {
	var raw, wrapped []byte
	for c := range s.conns {
		if (c.route != route && c.route != "") || !c.streams[stream] {
			continue
		}
		if raw == nil {
			var err error
			if raw, err = json.Marshal(v); err != nil {
				return
			}
		}
		if c.combined {
			if wrapped == nil {
				wrapped, _ = json.Marshal(struct {
					Stream string          `json:"stream"`
					Data   json.RawMessage `json:"data"`
				}{stream, raw})
			}
			c.send(wrapped)
			continue
		}
		c.send(raw)
	}
}
