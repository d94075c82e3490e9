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

// level is one price level of the book.
type level struct{ price, qty decimal.Decimal }

// symbolNames returns the listed symbols in order. Called with s.mu held.
func (s *Server) symbolNames() []string {
	names := make([]string, 0, len(s.books))
	for n := range s.books {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// levels returns the book: the market makers' quotes (WithDepthLevels
// levels of MinQty × 1000 from the best bid down and the best ask up)
// plus the account's resting limit orders, bids best first, asks best
// first. Called with s.mu held.
func (s *Server) levels(b *book) (bids, asks []level) {
	agg := map[string]*level{}
	var bk, ak []string
	add := func(buy bool, price, qty decimal.Decimal) {
		if !price.IsPositive() || !qty.IsPositive() {
			return
		}
		key := "a" + price.String()
		if buy {
			key = "b" + price.String()
		}
		if l, ok := agg[key]; ok {
			l.qty = l.qty.Add(qty)
			return
		}
		agg[key] = &level{price, qty}
		if buy {
			bk = append(bk, key)
		} else {
			ak = append(ak, key)
		}
	}
	bid, ask := b.bidAsk()
	mm := b.spec.MinQty.Mul(decimal.NewFromInt(1000))
	for i := 0; i < s.o.depthLevels; i++ {
		off := b.spec.TickSize.Mul(decimal.NewFromInt(int64(i)))
		add(true, bid.Sub(off), mm)
		add(false, ask.Add(off), mm)
	}
	for _, o := range b.open {
		if o.typ == "LIMIT" {
			add(o.side == "BUY", o.price, o.qty.Sub(o.filled))
		}
	}
	for _, k := range bk {
		bids = append(bids, *agg[k])
	}
	for _, k := range ak {
		asks = append(asks, *agg[k])
	}
	sort.Slice(bids, func(i, j int) bool { return bids[i].price.GreaterThan(bids[j].price) })
	sort.Slice(asks, func(i, j int) bool { return asks[i].price.LessThan(asks[j].price) })
	return bids, asks
}

// depthNow records the book as published and returns its levels. Called
// with s.mu held.
func (s *Server) depthNow(b *book) (bids, asks []level) {
	bids, asks = s.levels(b)
	b.depth = map[string]decimal.Decimal{}
	for _, l := range bids {
		b.depth["b"+l.price.String()] = l.qty
	}
	for _, l := range asks {
		b.depth["a"+l.price.String()] = l.qty
	}
	return bids, asks
}

// lastUpdateID is the order book update ID a snapshot (GET depth) reports:
// one past the last diff event's u, inside the next event's [U, u], so
// both the futures rule (U ≤ lastUpdateId ≤ u) and the spot rule
// (U ≤ lastUpdateId+1 ≤ u) accept the first diff after it. Diff events
// cover two IDs each: U = previous u + 1, u = U + 1, pu = previous u.
func (b *book) lastUpdateID() int64 { return b.seq + 1 }

// flushBooks publishes the change of every book marked dirty (by an
// order event) since the last flush as one @depth diff event (and
// bookTicker and partial depth); a forced book (a price move) is
// compared even when not dirty, and publishes bookTicker even when
// nothing changed. Called with s.mu held at the end of every request and
// command that can change a book.
func (s *Server) flushBooks(force ...*book) {
	for _, name := range s.symbolNames() {
		b := s.books[name]
		forced := false
		for _, f := range force {
			forced = forced || f == b
		}
		if !b.dirty && !forced {
			continue
		}
		b.dirty = false
		prev := b.depth
		bids, asks := s.depthNow(b)
		var db, da [][2]string
		pf := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.PricePrecision)) }
		qf := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.QuantityPrecision)) }
		for _, side := range []struct {
			ls  []level
			pre string
			out *[][2]string
		}{{bids, "b", &db}, {asks, "a", &da}} {
			for _, l := range side.ls {
				if q, ok := prev[side.pre+l.price.String()]; !ok || !q.Equal(l.qty) {
					*side.out = append(*side.out, [2]string{pf(l.price), qf(l.qty)})
				}
			}
		}
		for k := range prev {
			if _, ok := b.depth[k]; !ok {
				p := decimal.RequireFromString(k[1:])
				if k[0] == 'b' {
					db = append(db, [2]string{pf(p), qf(decimal.Zero)})
				} else {
					da = append(da, [2]string{pf(p), qf(decimal.Zero)})
				}
			}
		}
		changed := len(db)+len(da) > 0
		if !changed && !forced {
			continue
		}
		now := s.nowMs()
		lower := strings.ToLower(name)
		if changed {
			sortLevels(db, true)
			sortLevels(da, false)
			pu := b.seq
			b.seq += 2
			ev := map[string]any{"e": "depthUpdate", "E": now, "T": now, "s": name, "U": pu + 1, "u": b.seq, "pu": pu,
				"b": nonNil(db), "a": nonNil(da)}
			for _, suffix := range []string{"", "@100ms", "@500ms"} {
				s.publish("public", lower+"@depth"+suffix, ev)
			}
			for _, n := range []string{"5", "10", "20"} {
				for _, suffix := range []string{"", "@100ms", "@500ms"} {
					s.publishPartial(b, n, suffix, now)
				}
			}
		}
		s.publishBookTicker(b, bids, asks, now, forced)
	}
}

func sortLevels(ls [][2]string, desc bool) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := decimal.RequireFromString(ls[i][0]), decimal.RequireFromString(ls[j][0])
		if desc {
			return a.GreaterThan(b)
		}
		return a.LessThan(b)
	})
}

func nonNil(ls [][2]string) [][2]string {
	if ls == nil {
		return [][2]string{}
	}
	return ls
}

// wireLevels formats the first n levels as [price, qty] pairs.
func wireLevels(b *book, ls []level, n int) [][2]string {
	out := make([][2]string, 0, min(n, len(ls)))
	for _, l := range ls[:min(n, len(ls))] {
		out = append(out, [2]string{l.price.StringFixed(int32(b.spec.PricePrecision)), l.qty.StringFixed(int32(b.spec.QuantityPrecision))})
	}
	return out
}

// publishPartial sends <symbol>@depth<n><suffix>: the top n levels with
// the last diff event's U, u and pu. Called with s.mu held.
func (s *Server) publishPartial(b *book, n, suffix string, now int64) {
	stream := strings.ToLower(b.spec.Name) + "@depth" + n + suffix
	if !s.subscribed("public", stream) {
		return
	}
	bids, asks := s.levels(b)
	k := map[string]int{"5": 5, "10": 10, "20": 20}[n]
	s.publish("public", stream, map[string]any{"e": "depthUpdate", "E": now, "T": now, "s": b.spec.Name,
		"U": b.seq - 1, "u": b.seq, "pu": b.seq - 2, "b": wireLevels(b, bids, k), "a": wireLevels(b, asks, k)})
}

// publishBookTicker sends <symbol>@bookTicker (and !bookTicker) with the
// best levels when they changed since the last one (or force: a price
// move). Called with s.mu held.
func (s *Server) publishBookTicker(b *book, bids, asks []level, now int64, force bool) {
	lower := strings.ToLower(b.spec.Name)
	if !s.subscribed("public", lower+"@bookTicker") && !s.subscribed("public", "!bookTicker") {
		return
	}
	bt := s.bookTicker(b, bids, asks)
	if bt == b.best && !force {
		return // the venue pushes bookTicker when the best bid or ask changes
	}
	b.best = bt
	ev := map[string]any{"e": "bookTicker", "u": b.seq, "E": now, "T": now, "s": b.spec.Name,
		"b": bt.bidPrice, "B": bt.bidQty, "a": bt.askPrice, "A": bt.askQty}
	s.publish("public", lower+"@bookTicker", ev)
	s.publish("public", "!bookTicker", ev)
}

type bestLevels struct{ bidPrice, bidQty, askPrice, askQty string }

// bookTicker returns the best bid and ask; an empty side shows the
// market's bid or ask with quantity zero.
func (s *Server) bookTicker(b *book, bids, asks []level) bestLevels {
	bid, ask := b.bidAsk()
	bq, aq := decimal.Zero, decimal.Zero
	if len(bids) > 0 {
		bid, bq = bids[0].price, bids[0].qty
	}
	if len(asks) > 0 {
		ask, aq = asks[0].price, asks[0].qty
	}
	pf := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.PricePrecision)) }
	qf := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.QuantityPrecision)) }
	return bestLevels{pf(bid), qf(bq), pf(ask), qf(aq)}
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
		for _, name := range s.symbolNames() {
			b := s.books[name]
			for _, d := range []string{"5", "10", "20"} {
				if n%5 == 0 {
					s.publishPartial(b, d, "", now)
				}
				if n%10 == 0 {
					s.publishPartial(b, d, "@500ms", now)
				}
				if n%2 == 0 {
					s.publishPartial(b, d, "@100ms", now)
				}
			}
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
