package binancetest

// This file: the order book as the market sees it (market makers' quotes
// and the account's resting orders), its update IDs, the @depth diff and
// partial streams and bookTicker.

import (
	"sort"
	"strings"

	"github.com/shopspring/decimal"
)

// level is one price level of the book; key is its price in ticks.
type level struct {
	key int64
	qty decimal.Decimal
}

// ticksOf returns a price in ticks of the symbol (rounded to the nearest).
func ticksOf(spec Symbol, price decimal.Decimal) int64 {
	return price.Div(spec.TickSize).Round(0).IntPart()
}

// levelPrice formats a level's price.
func levelPrice(b *book, key int64) string {
	return b.spec.TickSize.Mul(decimal.NewFromInt(key)).StringFixed(int32(b.spec.PricePrecision))
}

// mmQty is the quantity the market makers quote on each level.
func (b *book) mmQty() decimal.Decimal { return b.spec.MinQty.Mul(decimal.NewFromInt(1000)) }

// levels returns the book: the market makers' quotes (WithDepthLevels
// levels of MinQty × 1000 from the best bid down and the best ask up)
// plus the account's resting limit orders, bids best first, asks best
// first. Called with s.mu held.
func (s *Server) levels(b *book) (bids, asks []level) {
	top := ticksOf(b.spec, b.price)
	mm := b.mmQty()
	bidAt, askAt := map[int64]int{}, map[int64]int{}
	add := func(buy bool, key int64, qty decimal.Decimal) {
		at, ls := askAt, &asks
		if buy {
			at, ls = bidAt, &bids
		}
		if i, ok := at[key]; ok {
			(*ls)[i].qty = (*ls)[i].qty.Add(qty)
			return
		}
		at[key] = len(*ls)
		*ls = append(*ls, level{key, qty})
	}
	for i := int64(0); i < int64(s.o.depthLevels); i++ {
		if top-1-i > 0 {
			add(true, top-1-i, mm)
		}
		add(false, top+1+i, mm)
	}
	for _, o := range b.open {
		if o.typ == "LIMIT" && o.key > 0 {
			add(o.side == "BUY", o.key, o.qty.Sub(o.filled))
		}
	}
	sort.Slice(bids, func(i, j int) bool { return bids[i].key > bids[j].key })
	sort.Slice(asks, func(i, j int) bool { return asks[i].key < asks[j].key })
	return bids, asks
}

// best returns the best bid and ask levels without building the book;
// ok false for an empty side. Called with s.mu held.
func (s *Server) best(b *book) (bid, ask level, bidOK, askOK bool) {
	top := ticksOf(b.spec, b.price)
	if s.o.depthLevels > 0 {
		if top > 1 {
			bid, bidOK = level{top - 1, b.mmQty()}, true
		}
		ask, askOK = level{top + 1, b.mmQty()}, true
	}
	for _, o := range b.open {
		if o.typ != "LIMIT" || o.key <= 0 {
			continue
		}
		rest := o.qty.Sub(o.filled)
		l, ok, better := &ask, &askOK, o.key < ask.key
		if o.side == "BUY" {
			l, ok, better = &bid, &bidOK, o.key > bid.key
		}
		switch {
		case !*ok || better:
			*l, *ok = level{o.key, rest}, true
		case o.key == l.key:
			l.qty = l.qty.Add(rest)
		}
	}
	return bid, ask, bidOK, askOK
}

// lastUpdateID is the order book update ID a snapshot (GET depth) reports:
// one past the last diff event's u, inside the next event's [U, u], so
// both the futures rule (U ≤ lastUpdateId ≤ u) and the spot rule
// (U ≤ lastUpdateId+1 ≤ u) accept the first diff after it. Diff events
// cover two IDs each: U = previous u + 1, u = U + 1, pu = previous u.
func (b *book) lastUpdateID() int64 { return b.seq + 1 }

// setDepth records levels as the published book.
func (b *book) setDepth(bids, asks []level) {
	b.depthBids, b.depthAsks = make(map[int64]decimal.Decimal, len(bids)), make(map[int64]decimal.Decimal, len(asks))
	for _, l := range bids {
		b.depthBids[l.key] = l.qty
	}
	for _, l := range asks {
		b.depthAsks[l.key] = l.qty
	}
}

// diffLevels lists the levels of now that differ from prev, and the levels
// of prev gone from now with quantity zero, best first.
func diffLevels(b *book, prev map[int64]decimal.Decimal, now []level, desc bool) [][2]string {
	var out []level
	seen := make(map[int64]bool, len(now))
	for _, l := range now {
		seen[l.key] = true
		if q, ok := prev[l.key]; !ok || !q.Equal(l.qty) {
			out = append(out, l)
		}
	}
	for k := range prev {
		if !seen[k] {
			out = append(out, level{k, decimal.Zero})
		}
	}
	sort.Slice(out, func(i, j int) bool { return (out[i].key > out[j].key) == desc })
	return wireLevels(b, out, len(out))
}

// flushBooks publishes the change of every book marked dirty (by an order
// event) or forced (a price move) since the last flush: one @depth diff
// event, the partial depth streams and bookTicker (when the best bid or
// ask changed, or always for a forced book). The book is compared only
// when a depth stream has a subscriber; otherwise its update ID advances
// as if it had changed, and a new subscription records the book as it is
// then (see followDepth).
// Called with s.mu held at the end of every request and command that can
// change a book.
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
		now := s.nowMs()
		lower := strings.ToLower(name)
		if !s.subscribedPrefix("public", lower+"@depth") {
			b.seq += 2
			s.publishBookTicker(b, now, forced)
			continue
		}
		bids, asks := s.levels(b)
		db := diffLevels(b, b.depthBids, bids, true)
		da := diffLevels(b, b.depthAsks, asks, false)
		b.setDepth(bids, asks)
		if len(db)+len(da) > 0 {
			pu := b.seq
			b.seq += 2
			ev := map[string]any{"e": "depthUpdate", "E": now, "T": now, "s": name, "U": pu + 1, "u": b.seq, "pu": pu,
				"b": db, "a": da}
			for _, suffix := range []string{"", "@100ms", "@500ms"} {
				s.publish("public", lower+"@depth"+suffix, ev)
			}
			s.publishPartials(b, now, "", "@100ms", "@500ms")
		}
		s.publishBookTicker(b, now, forced)
	}
}

// wireLevels formats the first n levels as [price, qty] pairs.
func wireLevels(b *book, ls []level, n int) [][2]string {
	out := make([][2]string, 0, min(n, len(ls)))
	for _, l := range ls[:min(n, len(ls))] {
		out = append(out, [2]string{levelPrice(b, l.key), l.qty.StringFixed(int32(b.spec.QuantityPrecision))})
	}
	return out
}

// publishPartials sends <symbol>@depth<5|10|20><suffix> for each suffix
// subscribed: the top levels with the last diff event's U, u and pu.
// Called with s.mu held.
func (s *Server) publishPartials(b *book, now int64, suffixes ...string) {
	lower := strings.ToLower(b.spec.Name)
	var bids, asks []level
	built := false
	for _, suffix := range suffixes {
		for _, n := range []int{5, 10, 20} {
			stream := lower + "@depth" + itoa(n) + suffix
			if !s.subscribed("public", stream) {
				continue
			}
			if !built {
				bids, asks = s.levels(b)
				built = true
			}
			s.publish("public", stream, map[string]any{"e": "depthUpdate", "E": now, "T": now, "s": b.spec.Name,
				"U": b.seq - 1, "u": b.seq, "pu": b.seq - 2, "b": wireLevels(b, bids, n), "a": wireLevels(b, asks, n)})
		}
	}
}

type bestLevels struct{ bidPrice, bidQty, askPrice, askQty string }

// bookTicker returns the best bid and ask; an empty side shows the
// market's bid or ask with quantity zero.
func (s *Server) bookTicker(b *book) bestLevels {
	bid, ask, bidOK, askOK := s.best(b)
	top := ticksOf(b.spec, b.price)
	if !bidOK {
		bid = level{top - 1, decimal.Zero}
	}
	if !askOK {
		ask = level{top + 1, decimal.Zero}
	}
	qf := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.QuantityPrecision)) }
	return bestLevels{levelPrice(b, bid.key), qf(bid.qty), levelPrice(b, ask.key), qf(ask.qty)}
}

// publishBookTicker sends <symbol>@bookTicker (and !bookTicker) with the
// best levels when they changed since the last one (or force: a price
// move). Called with s.mu held.
func (s *Server) publishBookTicker(b *book, now int64, force bool) {
	lower := strings.ToLower(b.spec.Name)
	if !s.subscribed("public", lower+"@bookTicker") && !s.subscribed("public", "!bookTicker") {
		return
	}
	bt := s.bookTicker(b)
	if bt == b.bestPushed && !force {
		return // the venue pushes bookTicker when the best bid or ask changes
	}
	b.bestPushed = bt
	ev := map[string]any{"e": "bookTicker", "u": b.seq, "E": now, "T": now, "s": b.spec.Name,
		"b": bt.bidPrice, "B": bt.bidQty, "a": bt.askPrice, "A": bt.askQty}
	s.publish("public", lower+"@bookTicker", ev)
	s.publish("public", "!bookTicker", ev)
}

// followDepth is called when a connection starts following stream: for a
// depth stream, the book as it is now becomes the one the next diff is
// compared with. Flushes run at the end of every request and command, so
// the book now is the book at the current update ID, which a snapshot
// taken after subscribing reports. Called with s.mu held.
func (s *Server) followDepth(stream string) {
	sym, kind, _ := strings.Cut(stream, "@")
	if !strings.HasPrefix(kind, "depth") {
		return
	}
	if b, ok := s.books[strings.ToUpper(sym)]; ok && sym == strings.ToLower(sym) {
		b.setDepth(s.levels(b))
	}
}

// subscribedPrefix reports whether a connection follows a stream of route
// whose name starts with prefix. Called with s.mu held.
func (s *Server) subscribedPrefix(route, prefix string) bool {
	for c := range s.conns {
		if c.route != route && c.route != "" {
			continue
		}
		for n := range c.streams {
			if strings.HasPrefix(n, prefix) {
				return true
			}
		}
	}
	return false
}
