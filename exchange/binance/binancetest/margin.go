package binancetest

// This file: margin (initial, maintenance, -2019), funding, margin calls
// and liquidation.

import (
	"context"
	"fmt"
	"strconv"

	"github.com/shopspring/decimal"
)

// The margin model (cross margin, one USDT wallet for every symbol) follows
// exchange/sim's Core so that a test sees the same numbers on both:
//
//	position IM   = |amt| × mark / leverage
//	open-order IM = Σ opening notional / leverage  (reduce-only and closing parts need none)
//	maint margin  = Σ |amt| × mark × maintenance rate
//	margin balance = wallet + unrealized PnL
//	available      = margin balance − position IM − open-order IM
//
// The mark price is the symbol's market price. A margin type set to
// ISOLATED is reported as such but margined as cross (assumption: no
// isolated wallets are modelled).

// lev returns a symbol's leverage as a decimal.
func (s *Server) lev(symbol string) decimal.Decimal {
	return decimal.NewFromInt(int64(s.leverage[symbol]))
}

// openingQty is the part of an order's unfilled quantity that can open or
// grow a position. In hedge mode BUY LONG and SELL SHORT open, the others
// close; in one-way mode an order against the position opens only what
// exceeds the position (assumption: other resting orders are not netted,
// as on Binance's simplified per-order check). Reduce-only opens nothing.
func (s *Server) openingQty(symbol, side, ps string, qty decimal.Decimal, reduceOnly bool) decimal.Decimal {
	if reduceOnly {
		return decimal.Zero
	}
	switch ps {
	case "LONG":
		if side == "SELL" {
			return decimal.Zero
		}
		return qty
	case "SHORT":
		if side == "BUY" {
			return decimal.Zero
		}
		return qty
	}
	amt := decimal.Zero
	if p, ok := s.positions[posKey{symbol, "BOTH"}]; ok {
		amt = p.amt
	}
	if (side == "BUY" && amt.IsNegative()) || (side == "SELL" && amt.IsPositive()) {
		return decimal.Max(decimal.Zero, qty.Sub(amt.Abs()))
	}
	return qty
}

// orderIM is the initial margin a live order reserves.
func (s *Server) orderIM(o *order) decimal.Decimal {
	price := o.price
	if o.typ == "MARKET" {
		price = s.books[o.symbol].price
	}
	q := s.openingQty(o.symbol, o.side, o.ps, o.qty.Sub(o.filled), o.reduceOnly)
	return q.Mul(price).Div(s.lev(o.symbol))
}

// margins is the account's margin state at the books' prices.
type margins struct {
	wallet, unrealized, positionIM, orderIM, maint decimal.Decimal
}

func (m margins) balance() decimal.Decimal { return m.wallet.Add(m.unrealized) }

func (m margins) available() decimal.Decimal {
	return m.balance().Sub(m.positionIM).Sub(m.orderIM)
}

// marginsOf computes the margin state, limited to one symbol when symbol
// is not empty (wallet stays the account's). Called with s.mu held.
func (s *Server) marginsOf(symbol string) margins {
	m := margins{wallet: s.wallet, unrealized: decimal.Zero, positionIM: decimal.Zero, orderIM: decimal.Zero, maint: decimal.Zero}
	for k, p := range s.positions {
		if symbol != "" && k.symbol != symbol {
			continue
		}
		mark := s.books[k.symbol].price
		m.unrealized = m.unrealized.Add(p.amt.Mul(mark.Sub(p.entry)))
		notional := p.amt.Abs().Mul(mark)
		m.positionIM = m.positionIM.Add(notional.Div(s.lev(k.symbol)))
		m.maint = m.maint.Add(notional.Mul(s.o.maintRate))
	}
	for name, b := range s.books {
		if symbol != "" && name != symbol {
			continue
		}
		for _, o := range b.open {
			m.orderIM = m.orderIM.Add(s.orderIM(o))
		}
	}
	return m
}

// checkMargin refuses an order whose initial margin exceeds the available
// balance with -2019. Called with s.mu held.
func (s *Server) checkMargin(symbol, side, ps string, qty, price decimal.Decimal, reduceOnly bool) *apiErr {
	need := s.openingQty(symbol, side, ps, qty, reduceOnly).Mul(price).Div(s.lev(symbol))
	if need.IsZero() {
		return nil
	}
	if need.GreaterThan(s.marginsOf("").available()) {
		return errf(400, -2019, "Margin is insufficient.")
	}
	return nil
}

// fundingRecord is one settled funding (GET /fapi/v1/fundingRate).
type fundingRecord struct {
	symbol string
	rate   decimal.Decimal
	time   int64
	mark   decimal.Decimal
}

// SettleFunding settles one funding of symbol at rate (for example
// 0.0001 for 0.01 %) at the current mark price, as Binance does every
// funding interval: each position pays amt × mark × rate (a long pays a
// positive rate, a short receives it; rounded to 8 decimals), the wallet
// changes, and the user stream gets ACCOUNT_UPDATE with reason FUNDING_FEE
// and only the USDT balance (B, no P: cross margin). The rate becomes the
// symbol's lastFundingRate and a GET /fapi/v1/fundingRate record. A
// payment may bring a margin call or a liquidation.
func (s *Server) SettleFunding(ctx context.Context, symbol string, rate decimal.Decimal) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.books[symbol]
	if !ok {
		return fmt.Errorf("binancetest: SettleFunding: symbol %q is not listed", symbol)
	}
	now := s.nowMs()
	b.fundingRate = rate
	s.funding = append(s.funding, fundingRecord{symbol: symbol, rate: rate, time: now, mark: b.price})
	paid := decimal.Zero
	for _, side := range []string{"BOTH", "LONG", "SHORT"} {
		p, ok := s.positions[posKey{symbol, side}]
		if !ok || p.amt.IsZero() {
			continue
		}
		pay := p.amt.Mul(b.price).Mul(rate).Round(8)
		if !pay.IsZero() {
			s.addIncome(symbol, "FUNDING_FEE", pay.Neg(), "", now)
		}
		paid = paid.Add(pay)
	}
	if paid.IsZero() {
		return nil
	}
	s.wallet = s.wallet.Sub(paid)
	s.emitUser(map[string]any{"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": map[string]any{
		"m": "FUNDING_FEE",
		"B": []map[string]string{{"a": "USDT", "wb": f8(s.wallet), "cw": f8(s.wallet), "bc": "0"}},
	}})
	s.checkRisk()
	s.flushBooks()
	return nil
}

// checkRisk sends MARGIN_CALL when the margin ratio (maintenance margin /
// margin balance) reaches the margin-call ratio (once per crossing: it
// re-arms when the ratio falls back), and liquidates when the margin
// balance falls below the maintenance margin, as exchange/sim's Core does.
// Called with s.mu held after every price move and funding.
func (s *Server) checkRisk() {
	m := s.marginsOf("")
	if m.maint.IsZero() {
		s.marginCalled = false
		return
	}
	bal := m.balance()
	if bal.LessThan(m.maint) {
		s.liquidate()
		s.marginCalled = false
		return
	}
	if m.maint.GreaterThanOrEqual(bal.Mul(s.o.marginCallRatio)) {
		if !s.marginCalled {
			s.marginCalled = true
			s.emitMarginCall()
		}
		return
	}
	s.marginCalled = false
}

// emitMarginCall pushes MARGIN_CALL (sheet §6.6) with every open position.
// Called with s.mu held.
func (s *Server) emitMarginCall() {
	var ps []map[string]string
	for _, k := range s.sortedPositions() {
		p := s.positions[k]
		if p.amt.IsZero() {
			continue
		}
		b := s.books[k.symbol]
		mark := b.price
		ps = append(ps, map[string]string{"s": k.symbol, "ps": k.side, "pa": p.amt.StringFixed(int32(b.spec.QuantityPrecision)), "mt": "CROSSED", "iw": "0",
			"mp": f8(mark), "up": f8(p.amt.Mul(mark.Sub(p.entry))), "mm": f8(p.amt.Abs().Mul(mark).Mul(s.o.maintRate))})
	}
	s.emitUser(map[string]any{"e": "MARGIN_CALL", "E": s.nowMs(), "cw": f8(s.wallet), "p": ps})
}

// liquidate cancels every open order and closes every position at its
// mark price as taker, in orders whose client ID is "autoclose-<ms>" and
// type LIQUIDATION with execution type CALCULATED, as Binance reports a
// liquidation. Called with s.mu held.
func (s *Server) liquidate() {
	for _, name := range s.symbolNames() {
		s.cancelAllLocked(s.books[name])
	}
	for _, k := range s.sortedPositions() {
		p := s.positions[k]
		if p.amt.IsZero() {
			continue
		}
		b := s.books[k.symbol]
		side := "SELL"
		if p.amt.IsNegative() {
			side = "BUY"
		}
		now := s.nowMs()
		s.nextOrderID++
		o := &order{id: s.nextOrderID, clientID: "autoclose-" + strconv.FormatInt(now, 10), symbol: k.symbol, side: side, ps: k.side,
			typ: "LIQUIDATION", tif: "IOC", price: b.price, qty: p.amt.Abs(), filled: decimal.Zero, cumQuote: decimal.Zero,
			status: "NEW", reduceOnly: k.side == "BOTH", created: now, updated: now}
		b.byID[o.id] = o
		b.open = append(b.open, o)
		s.fillExec(o, o.qty, b.price, false, "CALCULATED")
	}
}
