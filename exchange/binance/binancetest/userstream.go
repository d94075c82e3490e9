package binancetest

// This file: listen keys and the user-data events.

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/shopspring/decimal"
)

func (s *Server) keyValid() bool {
	return s.listenKey != "" && s.now().Before(s.keyExpiry)
}

func (s *Server) handleListenKeyPost(url.Values) (any, *apiErr) {
	if !s.keyValid() {
		s.listenKey = s.randomID(64)
	}
	s.keyExpiry = s.now().Add(s.o.listenKeyTTL)
	return map[string]string{"listenKey": s.listenKey}, nil
}

func (s *Server) handleListenKeyPut(url.Values) (any, *apiErr) {
	if !s.keyValid() {
		return nil, errf(400, -1125, "This listenKey does not exist.")
	}
	s.keyExpiry = s.now().Add(s.o.listenKeyTTL)
	return map[string]string{"listenKey": s.listenKey}, nil
}

func (s *Server) handleListenKeyDelete(url.Values) (any, *apiErr) {
	s.listenKey = ""
	return struct{}{}, nil
}

// ExpireListenKey ends the current listen key: connections using it get
// listenKeyExpired (their sockets stay open, as Binance's may), keepalive
// answers -1125 and POST creates a new key.
func (s *Server) ExpireListenKey() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listenKey == "" {
		return
	}
	msg, _ := json.Marshal(map[string]any{"e": "listenKeyExpired", "E": s.nowMs(), "listenKey": s.listenKey})
	s.emitUserRaw("listenKeyExpired", msg)
	s.listenKey = ""
}

// ListenKey returns the current listen key ("" when none is valid).
func (s *Server) ListenKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.keyValid() {
		return ""
	}
	return s.listenKey
}

// otuFields is the o object of ORDER_TRADE_UPDATE with the sheet's field set.
type otuFields struct {
	S   string `json:"s"`
	C   string `json:"c"`
	Sd  string `json:"S"`
	O   string `json:"o"`
	F   string `json:"f"`
	Q   string `json:"q"`
	P   string `json:"p"`
	AP  string `json:"ap"`
	SP  string `json:"sp"`
	X   string `json:"x"`
	XS  string `json:"X"`
	I   int64  `json:"i"`
	L   string `json:"l"`
	Z   string `json:"z"`
	LP  string `json:"L"`
	N   string `json:"N,omitempty"`
	Fee string `json:"n,omitempty"`
	T   int64  `json:"T"`
	Tid int64  `json:"t"`
	B   string `json:"b"`
	A   string `json:"a"`
	M   bool   `json:"m"`
	R   bool   `json:"R"`
	WT  string `json:"wt"`
	OT  string `json:"ot"`
	PS  string `json:"ps"`
	CP  bool   `json:"cp"`
	RP  string `json:"rp"`
	PP  bool   `json:"pP"`
	SI  int    `json:"si"`
	SS  int    `json:"ss"`
	V   string `json:"V"`
	PM  string `json:"pm"`
	GTD int64  `json:"gtd"`
	ER  string `json:"er"`
}

func (s *Server) emitOrder(o *order, exec string, t *trade) { s.emitOrderReason(o, exec, t, "0") }

// emitOrderReason pushes ORDER_TRADE_UPDATE. Called with s.mu held.
func (s *Server) emitOrderReason(o *order, exec string, t *trade, er string) {
	s.books[o.symbol].dirty = true // every order change may change the book
	sp := s.books[o.symbol].spec
	pf := func(d decimal.Decimal) string { return d.StringFixed(int32(sp.PricePrecision)) }
	qf := func(d decimal.Decimal) string { return d.StringFixed(int32(sp.QuantityPrecision)) }
	avg := decimal.Zero
	if o.filled.IsPositive() {
		avg = o.cumQuote.Div(o.filled)
	}
	now := s.nowMs()
	f := otuFields{S: o.symbol, C: o.clientID, Sd: o.side, O: o.typ, F: o.tif, Q: qf(o.qty), P: pf(o.price), AP: avg.StringFixed(int32(sp.PricePrecision + 3)),
		SP: "0", X: exec, XS: o.status, I: o.id, L: "0", Z: qf(o.filled), LP: "0", T: now, B: "0", A: "0", R: o.reduceOnly,
		WT: "CONTRACT_PRICE", OT: o.typ, PS: o.ps, RP: "0", V: "EXPIRE_MAKER", PM: "NONE", ER: er}
	if t != nil {
		f.L, f.LP, f.N, f.Fee, f.T, f.Tid, f.M, f.RP = qf(t.qty), pf(t.price), "USDT", f8(t.fee), t.time, t.id, t.maker, f8(t.realized)
	}
	s.emitUser(map[string]any{"e": "ORDER_TRADE_UPDATE", "E": now + 5, "T": now, "o": f})
}

// emitAccount pushes ACCOUNT_UPDATE for a fill. Called with s.mu held.
func (s *Server) emitAccount(symbol, side string) {
	p := s.pos(symbol, side)
	mark := s.books[symbol].price
	now := s.nowMs()
	s.emitUser(map[string]any{"e": "ACCOUNT_UPDATE", "E": now + 5, "T": now, "a": map[string]any{
		"m": "ORDER",
		"B": []map[string]string{{"a": "USDT", "wb": f8(s.wallet), "cw": f8(s.wallet), "bc": "0"}},
		"P": []map[string]string{{"s": symbol, "pa": p.amt.String(), "ep": p.entry.String(), "bep": p.entry.String(),
			"cr": f8(p.realized), "up": f8(p.amt.Mul(mark.Sub(p.entry))), "mt": "cross", "iw": "0", "ps": side, "ma": "USDT"}},
	}})
}

// PushUserEvent sends a raw user-data message (for example the sheet's
// MARGIN_CALL example) to every connection following the current listen
// key, subject to their events= filters.
func (s *Server) PushUserEvent(raw []byte) {
	var head struct {
		E string `json:"e"`
	}
	_ = json.Unmarshal(raw, &head)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitUserRaw(head.E, raw)
}

// emitUser sends a user-data event, v a map with its type in "e". Called
// with s.mu held.
func (s *Server) emitUser(v map[string]any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("binancetest: marshal event: %v", err)) // our own value: a bug
	}
	e, _ := v["e"].(string)
	s.emitUserRaw(e, b)
}

// emitUserRaw sends event b of type e to every connection following the
// valid listen key whose events= filter lets e through; on a combined
// (/stream) connection it is wrapped as {"stream":<listenKey>,"data":…}.
// Called with s.mu held.
func (s *Server) emitUserRaw(e string, b []byte) {
	if !s.keyValid() {
		return
	}
	key := s.listenKey
	var wrapped []byte
	for c := range s.conns {
		filter, ok := c.users[key]
		// listenKeyExpired passes every filter (assumption): it is about
		// the stream itself, not an account event.
		if !ok || (filter != nil && !filter[e] && e != "listenKeyExpired") {
			continue
		}
		if c.combined {
			if wrapped == nil {
				wrapped, _ = json.Marshal(struct {
					Stream string          `json:"stream"`
					Data   json.RawMessage `json:"data"`
				}{key, b})
			}
			c.send(wrapped)
			continue
		}
		c.send(b)
	}
}
