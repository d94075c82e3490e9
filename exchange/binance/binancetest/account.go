package binancetest

// This file: positions, the wallet and the account endpoints.

import (
	"net/url"
	"sort"
	"strconv"

	"github.com/shopspring/decimal"
)

type posKey struct{ symbol, side string }

type position struct {
	amt      decimal.Decimal // signed
	entry    decimal.Decimal
	realized decimal.Decimal
}

func (s *Server) pos(symbol, side string) *position {
	k := posKey{symbol, side}
	p, ok := s.positions[k]
	if !ok {
		p = &position{amt: decimal.Zero, entry: decimal.Zero, realized: decimal.Zero}
		s.positions[k] = p
	}
	return p
}

// apply adds a signed quantity at price and returns the realized PnL.
func (p *position) apply(d, price decimal.Decimal) decimal.Decimal {
	realized := decimal.Zero
	if p.amt.IsZero() || p.amt.Sign() == d.Sign() {
		total := p.amt.Add(d)
		p.entry = p.amt.Abs().Mul(p.entry).Add(d.Abs().Mul(price)).Div(total.Abs())
		p.amt = total
		return realized
	}
	closing := decimal.Min(p.amt.Abs(), d.Abs())
	dir := decimal.NewFromInt(int64(p.amt.Sign()))
	realized = closing.Mul(price.Sub(p.entry)).Mul(dir)
	p.realized = p.realized.Add(realized)
	rest := p.amt.Add(d)
	switch {
	case rest.IsZero():
		p.entry = decimal.Zero
	case rest.Sign() != p.amt.Sign():
		p.entry = price
	}
	p.amt = rest
	return realized
}

// unrealized returns the unrealized PnL of every position at the books' prices.
func (s *Server) unrealized() decimal.Decimal {
	u := decimal.Zero
	for k, p := range s.positions {
		u = u.Add(p.amt.Mul(s.books[k.symbol].price.Sub(p.entry)))
	}
	return u
}

func f8(d decimal.Decimal) string { return d.StringFixed(8) }

// handleAccount serves GET /fapi/v3/account.
func (s *Server) handleAccount(url.Values) (any, *apiErr) { return s.account(false), nil }

func (s *Server) sortedPositions() []posKey {
	keys := make([]posKey, 0, len(s.positions))
	for k := range s.positions {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].symbol != keys[j].symbol {
			return keys[i].symbol < keys[j].symbol
		}
		return keys[i].side < keys[j].side
	})
	return keys
}

func (s *Server) handleAccountConfig(url.Values) (any, *apiErr) {
	return map[string]any{"feeTier": 0, "canTrade": true, "canDeposit": true, "canWithdraw": true,
		"dualSidePosition": s.hedge, "updateTime": 0, "multiAssetsMargin": false, "tradeGroupId": -1}, nil
}

func (s *Server) handleSymbolConfig(p url.Values) (any, *apiErr) {
	out := []map[string]any{}
	for name := range s.books {
		if sym := p.Get("symbol"); sym != "" && sym != name {
			continue
		}
		out = append(out, map[string]any{"symbol": name, "marginType": s.marginType[name], "isAutoAddMargin": false,
			"leverage": s.leverage[name], "maxNotionalValue": "1000000"})
	}
	return out, nil
}

func (s *Server) handleLeverage(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	l, err := strconv.Atoi(p.Get("leverage"))
	if err != nil || l < 1 || l > 125 {
		return nil, errf(400, -4028, "Leverage %s is not valid", p.Get("leverage"))
	}
	s.leverage[b.spec.Name] = l
	s.emitUser(map[string]any{"e": "ACCOUNT_CONFIG_UPDATE", "E": s.nowMs(), "T": s.nowMs(), "ac": map[string]any{"s": b.spec.Name, "l": l}})
	return map[string]any{"leverage": l, "maxNotionalValue": "1000000", "symbol": b.spec.Name}, nil
}

func (s *Server) handlePositionMode(p url.Values) (any, *apiErr) {
	want := p.Get("dualSidePosition") == "true"
	if want == s.hedge {
		return nil, errf(400, -4059, "No need to change position side.")
	}
	for _, b := range s.books {
		if len(b.open) > 0 {
			return nil, errf(400, -4067, "Position side cannot be changed if there exists open orders.")
		}
	}
	for _, pp := range s.positions {
		if !pp.amt.IsZero() {
			return nil, errf(400, -4068, "Position side cannot be changed if there exists position.")
		}
	}
	s.hedge = want
	return map[string]any{"code": 200, "msg": "success"}, nil
}

// Position returns the signed position of a symbol's side ("BOTH",
// "LONG" or "SHORT").
func (s *Server) Position(symbol, side string) decimal.Decimal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.positions[posKey{symbol, side}]; ok {
		return p.amt
	}
	return decimal.Zero
}

// Wallet returns the USDT wallet balance (realized PnL net of fees).
func (s *Server) Wallet() decimal.Decimal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wallet
}
