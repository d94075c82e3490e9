package binancetest

// This file: the market streams.

import (
	"encoding/json"
	"strings"

	"github.com/shopspring/decimal"
)

// publishMarket sends the book's price on every market stream. Called
// with s.mu held.
func (s *Server) publishMarket(b *book) {
	now := s.nowMs()
	sp := b.spec
	pf := func(d decimal.Decimal) string { return d.StringFixed(int32(sp.PricePrecision)) }
	lower := strings.ToLower(sp.Name)
	bid, ask := b.bidAsk()
	b.aggID++
	s.publish("public", lower+"@bookTicker", map[string]any{"e": "bookTicker", "u": b.aggID, "E": now, "T": now, "s": sp.Name,
		"b": pf(bid), "B": "1.000", "a": pf(ask), "A": "1.000"})
	s.publish("market", lower+"@aggTrade", map[string]any{"e": "aggTrade", "E": now, "s": sp.Name, "a": b.aggID, "p": pf(b.price),
		"q": "0.001", "nq": "0.001", "f": b.aggID, "l": b.aggID, "T": now, "m": true})
	mark := map[string]any{"e": "markPriceUpdate", "E": now, "s": sp.Name, "p": f8(b.price), "ap": f8(b.price), "i": f8(b.price),
		"P": f8(b.price), "r": "0.00010000", "T": (now/28800000 + 1) * 28800000}
	s.publish("market", lower+"@markPrice", mark)
	s.publish("market", lower+"@markPrice@1s", mark)
	open := now / 60000 * 60000
	if n := len(b.klines); n == 0 || b.klines[n-1].open != open {
		b.klines = append(b.klines, kline{open: open, o: b.price, h: b.price, l: b.price, c: b.price, v: decimal.Zero})
	}
	k := &b.klines[len(b.klines)-1]
	k.h, k.l, k.c = decimal.Max(k.h, b.price), decimal.Min(k.l, b.price), b.price
	k.trades++
	s.publish("market", lower+"@kline_1m", map[string]any{"e": "kline", "E": now, "s": sp.Name, "k": map[string]any{
		"t": k.open, "T": k.open + 59999, "s": sp.Name, "i": "1m", "f": 100, "L": 200, "o": pf(k.o), "c": pf(k.c), "h": pf(k.h),
		"l": pf(k.l), "v": k.v.String(), "n": k.trades, "x": false, "q": "0", "V": "0", "Q": "0", "B": "0"}})
}

// publish sends v on a market stream. Called with s.mu held.
func (s *Server) publish(route, stream string, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	var wrapped []byte
	for c := range s.conns {
		if c.route != route || !c.streams[stream] {
			continue
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
