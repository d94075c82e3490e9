package binancetest

// This file: the income history, GET /fapi/v1/income.

import (
	"net/url"
	"strconv"

	"github.com/shopspring/decimal"
)

// income is one wallet change: REALIZED_PNL and COMMISSION of each fill,
// FUNDING_FEE of each funding settled on a position.
type income struct {
	symbol, kind, tradeID string
	amount                decimal.Decimal
	time, tranID          int64
}

// addIncome records one income. Called with s.mu held.
func (s *Server) addIncome(symbol, kind string, amount decimal.Decimal, tradeID string, now int64) {
	s.incomes = append(s.incomes, income{symbol: symbol, kind: kind, tradeID: tradeID, amount: amount,
		time: now, tranID: 9_000_000_000 + int64(len(s.incomes))})
}

// handleIncome serves GET /fapi/v1/income (weight 30): symbol and
// incomeType optional, startTime and endTime inclusive (with neither, the
// last 7 days), page from 1, limit 1..1000 (default 100), oldest first.
// Each record: symbol, incomeType, income (signed), asset, info, time,
// tranId, tradeId ("" for funding).
func (s *Server) handleIncome(p url.Values) (any, *apiErr) {
	sym, kind := p.Get("symbol"), p.Get("incomeType")
	if sym != "" {
		if _, aerr := s.bookOf(p); aerr != nil {
			return nil, aerr
		}
	}
	limit, page := 100, 1
	for _, f := range []struct {
		name     string
		v        *int
		min, max int
	}{{"limit", &limit, 1, 1000}, {"page", &page, 1, 1 << 30}} {
		if v := p.Get(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < f.min || n > f.max {
				return nil, errf(400, -1130, "Data sent for parameter '%s' is not valid.", f.name)
			}
			*f.v = n
		}
	}
	end, start := int64(1<<62), s.nowMs()-7*24*3600*1000
	if v := p.Get("startTime"); v != "" {
		start, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := p.Get("endTime"); v != "" {
		end, _ = strconv.ParseInt(v, 10, 64)
		if p.Get("startTime") == "" {
			start = end - 7*24*3600*1000
		}
	}
	out := []map[string]any{}
	skip := (page - 1) * limit
	for _, in := range s.incomes {
		if (sym != "" && in.symbol != sym) || (kind != "" && in.kind != kind) || in.time < start || in.time > end {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, map[string]any{"symbol": in.symbol, "incomeType": in.kind, "income": f8(in.amount), "asset": "USDT",
			"info": in.kind, "time": in.time, "tranId": in.tranID, "tradeId": in.tradeID})
	}
	return out, nil
}
