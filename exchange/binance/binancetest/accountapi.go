package binancetest

// This file: the account and position endpoints beyond the basics: v2
// and v3 account, balances, position risk, margin type, position mode,
// leverage brackets and the account's order limits.

import (
	"encoding/json"
	"net/url"

	"github.com/shopspring/decimal"
)

// maxNotional is the one leverage bracket's notional cap (assumption: one
// bracket per symbol, so the maintenance rate is one number).
const maxNotional = 1_000_000_000

// account is GET /fapi/v3/account, or /fapi/v2/account with v2: v2 adds
// the account flags, marginAvailable on assets and a row for every
// symbol and side with leverage and entry price (sheet §4.11).
func (s *Server) account(v2 bool) map[string]any {
	m := s.marginsOf("")
	bal, avail := m.balance(), decimal.Max(decimal.Zero, m.available())
	im := m.positionIM.Add(m.orderIM)
	maxW := decimal.Max(decimal.Zero, decimal.Min(s.wallet, avail))
	asset := map[string]any{
		"asset": "USDT", "walletBalance": f8(s.wallet), "unrealizedProfit": f8(m.unrealized), "marginBalance": f8(bal),
		"maintMargin": f8(m.maint), "initialMargin": f8(im), "positionInitialMargin": f8(m.positionIM),
		"openOrderInitialMargin": f8(m.orderIM), "crossWalletBalance": f8(s.wallet), "crossUnPnl": f8(m.unrealized),
		"availableBalance": f8(avail), "maxWithdrawAmount": f8(maxW), "updateTime": s.nowMs(),
	}
	out := map[string]any{
		"totalInitialMargin": f8(im), "totalMaintMargin": f8(m.maint), "totalWalletBalance": f8(s.wallet),
		"totalUnrealizedProfit": f8(m.unrealized), "totalMarginBalance": f8(bal), "totalPositionInitialMargin": f8(m.positionIM),
		"totalOpenOrderInitialMargin": f8(m.orderIM), "totalCrossWalletBalance": f8(s.wallet), "totalCrossUnPnl": f8(m.unrealized),
		"availableBalance": f8(avail), "maxWithdrawAmount": f8(maxW), "assets": []map[string]any{asset},
	}
	poss := []map[string]any{}
	for _, name := range s.symbolNames() {
		b := s.books[name]
		for _, side := range s.sides() {
			p := s.positions[posKey{name, side}]
			if p == nil {
				p = &position{amt: decimal.Zero, entry: decimal.Zero, realized: decimal.Zero}
			}
			if !v2 && p.amt.IsZero() && len(b.open) == 0 {
				continue // v3 lists only positions or symbols with open orders
			}
			sm := s.sideMargins(name, side)
			row := map[string]any{"symbol": name, "positionSide": side, "positionAmt": p.amt.StringFixed(int32(b.spec.QuantityPrecision)),
				"unrealizedProfit": f8(p.amt.Mul(b.price.Sub(p.entry))), "isolatedMargin": "0.00000000",
				"notional": f8(p.amt.Mul(b.price)), "isolatedWallet": "0", "initialMargin": f8(sm.positionIM.Add(sm.orderIM)),
				"maintMargin": f8(sm.maint), "updateTime": 0}
			if v2 {
				row["positionInitialMargin"] = f8(sm.positionIM)
				row["openOrderInitialMargin"] = f8(sm.orderIM)
				row["leverage"] = itoa(s.leverage[name])
				row["isolated"] = s.marginType[name] == "ISOLATED"
				row["entryPrice"] = p.entry.String()
				row["breakEvenPrice"] = p.entry.String()
				row["maxNotional"] = itoa(maxNotional)
				row["bidNotional"], row["askNotional"] = "0", "0"
			}
			poss = append(poss, row)
		}
	}
	out["positions"] = poss
	if v2 {
		asset["marginAvailable"] = true
		for k, v := range map[string]any{"feeTier": 0, "feeBurn": true, "canTrade": true, "canDeposit": true, "canWithdraw": true,
			"updateTime": 0, "multiAssetsMargin": false, "tradeGroupId": -1} {
			out[k] = v
		}
	}
	return out
}

// sides returns the position sides of the account's mode.
func (s *Server) sides() []string {
	if s.hedge {
		return []string{"LONG", "SHORT"}
	}
	return []string{"BOTH"}
}

// sideMargins is the margin of one symbol side: its position's and the
// open orders of that side.
func (s *Server) sideMargins(symbol, side string) margins {
	m := margins{positionIM: decimal.Zero, orderIM: decimal.Zero, maint: decimal.Zero}
	b := s.books[symbol]
	if p, ok := s.positions[posKey{symbol, side}]; ok {
		notional := p.amt.Abs().Mul(b.price)
		m.positionIM = notional.Div(s.lev(symbol))
		m.maint = notional.Mul(s.o.maintRate)
	}
	for _, o := range b.open {
		if o.ps == side {
			m.orderIM = m.orderIM.Add(s.orderIM(o))
		}
	}
	return m
}

// liquidationPrice solves, for the symbol's price P with every other
// price fixed, wallet + Σ unrealized = Σ |amt| × P × maintenance rate
// (cross margin); "0" when no positive price liquidates.
func (s *Server) liquidationPrice(symbol string) decimal.Decimal {
	other := decimal.Zero
	coef, cons := decimal.Zero, s.wallet
	for k, p := range s.positions {
		if k.symbol != symbol {
			mark := s.books[k.symbol].price
			other = other.Add(p.amt.Mul(mark.Sub(p.entry)))
			continue
		}
		coef = coef.Add(p.amt).Sub(p.amt.Abs().Mul(s.o.maintRate))
		cons = cons.Sub(p.amt.Mul(p.entry))
	}
	cons = cons.Add(other)
	if coef.IsZero() {
		return decimal.Zero
	}
	price := cons.Neg().Div(coef)
	if !price.IsPositive() {
		return decimal.Zero
	}
	return price
}

func itoa(n int) string { return decimal.NewFromInt(int64(n)).String() }

// positionRisk is GET /fapi/v3/positionRisk, or v2: v3 lists only
// positions and symbols with open orders and has margins; v2 lists every
// symbol and side with leverage and margin type (sheet §4.12).
func (s *Server) positionRisk(p url.Values, v2 bool) (any, *apiErr) {
	sym := p.Get("symbol")
	if sym != "" {
		if _, aerr := s.bookOf(p); aerr != nil {
			return nil, aerr
		}
	}
	out := []map[string]any{}
	for _, name := range s.symbolNames() {
		if sym != "" && name != sym {
			continue
		}
		b := s.books[name]
		for _, side := range s.sides() {
			pp, ok := s.positions[posKey{name, side}]
			if !v2 && (!ok || pp.amt.IsZero()) && len(b.open) == 0 {
				continue
			}
			if !ok {
				pp = &position{amt: decimal.Zero, entry: decimal.Zero, realized: decimal.Zero}
			}
			mark := b.price
			liq := decimal.Zero
			if !pp.amt.IsZero() {
				liq = s.liquidationPrice(name)
			}
			row := map[string]any{
				"symbol": name, "positionSide": side, "positionAmt": pp.amt.StringFixed(int32(b.spec.QuantityPrecision)),
				"entryPrice": pp.entry.String(), "breakEvenPrice": pp.entry.String(), "markPrice": f8(mark),
				"unRealizedProfit": f8(pp.amt.Mul(mark.Sub(pp.entry))), "liquidationPrice": f8(liq), "isolatedMargin": "0.00000000",
				"notional": f8(pp.amt.Mul(mark)), "isolatedWallet": "0", "updateTime": s.nowMs(),
			}
			if v2 {
				mt := "cross"
				if s.marginType[name] == "ISOLATED" {
					mt = "isolated"
				}
				row["leverage"] = itoa(s.leverage[name])
				row["maxNotionalValue"] = itoa(maxNotional)
				row["marginType"] = mt
				row["isAutoAddMargin"] = "false"
			} else {
				sm := s.sideMargins(name, side)
				row["marginAsset"] = "USDT"
				row["initialMargin"] = f8(sm.positionIM.Add(sm.orderIM))
				row["maintMargin"] = f8(sm.maint)
				row["positionInitialMargin"] = f8(sm.positionIM)
				row["openOrderInitialMargin"] = f8(sm.orderIM)
				row["adl"] = 0
				row["bidNotional"], row["askNotional"] = "0", "0"
			}
			out = append(out, row)
		}
	}
	return out, nil
}

func (s *Server) handlePositionRisk(p url.Values) (any, *apiErr)   { return s.positionRisk(p, false) }
func (s *Server) handlePositionRiskV2(p url.Values) (any, *apiErr) { return s.positionRisk(p, true) }
func (s *Server) handleAccountV2(url.Values) (any, *apiErr)        { return s.account(true), nil }

// handleBalance serves GET /fapi/v2/balance and /fapi/v3/balance (sheet
// §4.11): the USDT asset.
func (s *Server) handleBalance(url.Values) (any, *apiErr) {
	m := s.marginsOf("")
	avail := decimal.Max(decimal.Zero, m.available())
	return []map[string]any{{"accountAlias": "SgsR", "asset": "USDT", "balance": f8(s.wallet),
		"crossWalletBalance": f8(s.wallet), "crossUnPnl": f8(m.unrealized), "availableBalance": f8(avail),
		"maxWithdrawAmount": f8(decimal.Max(decimal.Zero, decimal.Min(s.wallet, avail))), "marginAvailable": true,
		"updateTime": s.nowMs()}}, nil
}

// handleMarginType serves POST /fapi/v1/marginType (marginType ISOLATED or
// CROSSED): -4046 when unchanged, -4047 with open orders, -4048 with a
// position of the symbol. Assumption: another value is -1102.
func (s *Server) handleMarginType(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	mt := p.Get("marginType")
	if mt != "ISOLATED" && mt != "CROSSED" {
		return nil, errf(400, -1102, "Mandatory parameter 'marginType' was not sent, was empty/null, or malformed.")
	}
	name := b.spec.Name
	if s.marginType[name] == mt {
		return nil, errf(400, -4046, "No need to change margin type.")
	}
	if len(b.open) > 0 {
		return nil, errf(400, -4047, "Margin type cannot be changed if there exists open orders.")
	}
	for _, side := range []string{"BOTH", "LONG", "SHORT"} {
		if pp, ok := s.positions[posKey{name, side}]; ok && !pp.amt.IsZero() {
			return nil, errf(400, -4048, "Margin type cannot be changed if there exists position.")
		}
	}
	s.marginType[name] = mt
	return map[string]any{"code": 200, "msg": "success"}, nil
}

// handlePositionModeGet serves GET /fapi/v1/positionSide/dual.
func (s *Server) handlePositionModeGet(url.Values) (any, *apiErr) {
	return map[string]bool{"dualSidePosition": s.hedge}, nil
}

// handleLeverageBracket serves GET /fapi/v1/leverageBracket: one bracket
// per symbol (assumption) with the maintenance rate of the margin model.
// With symbol it answers one object, without it an array, as the docs do.
func (s *Server) handleLeverageBracket(p url.Values) (any, *apiErr) {
	mmr := json.Number(s.o.maintRate.String()) // JSON numbers in this payload, as the docs show
	return s.perSymbol(p, func(b *book) any {
		return map[string]any{"symbol": b.spec.Name, "notionalCoef": json.Number("1.0"), "brackets": []map[string]any{{
			"bracket": 1, "initialLeverage": 125, "notionalCap": maxNotional, "notionalFloor": 0,
			"maintMarginRatio": mmr, "cum": json.Number("0.0")}}}
	})
}

// handleOrderRateLimit serves GET /fapi/v1/rateLimit/order: the account's
// ORDERS limits (sheet §3.1).
func (s *Server) handleOrderRateLimit(url.Values) (any, *apiErr) {
	return []map[string]any{
		{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": s.o.orders10s},
		{"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": s.o.orders1m},
	}, nil
}
