package binancetest

// This file: the public market-data REST endpoints.

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

func (s *Server) handleTime(url.Values) (any, *apiErr) {
	return map[string]int64{"serverTime": s.nowMs()}, nil
}

type jsonFilter map[string]any

func (s *Server) handleExchangeInfo(url.Values) (any, *apiErr) {
	type sym struct {
		Symbol            string       `json:"symbol"`
		Pair              string       `json:"pair"`
		ContractType      string       `json:"contractType"`
		DeliveryDate      int64        `json:"deliveryDate"`
		OnboardDate       int64        `json:"onboardDate"`
		Status            string       `json:"status"`
		MaintMarginPct    string       `json:"maintMarginPercent"`
		RequiredMarginPct string       `json:"requiredMarginPercent"`
		BaseAsset         string       `json:"baseAsset"`
		QuoteAsset        string       `json:"quoteAsset"`
		MarginAsset       string       `json:"marginAsset"`
		PricePrecision    int          `json:"pricePrecision"`
		QuantityPrecision int          `json:"quantityPrecision"`
		BaseAssetPrec     int          `json:"baseAssetPrecision"`
		QuotePrecision    int          `json:"quotePrecision"`
		UnderlyingType    string       `json:"underlyingType"`
		TriggerProtect    string       `json:"triggerProtect"`
		LiquidationFee    string       `json:"liquidationFee"`
		MarketTakeBound   string       `json:"marketTakeBound"`
		Filters           []jsonFilter `json:"filters"`
		OrderTypes        []string     `json:"orderTypes"`
		TimeInForce       []string     `json:"timeInForce"`
	}
	var syms []sym
	names := make([]string, 0, len(s.books))
	for n := range s.books {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sp := s.books[n].spec
		base := strings.TrimSuffix(sp.Name, "USDT")
		syms = append(syms, sym{
			Symbol: sp.Name, Pair: sp.Name, ContractType: "PERPETUAL", DeliveryDate: 4133404800000, OnboardDate: 1567965300000,
			Status: "TRADING", MaintMarginPct: "2.5000", RequiredMarginPct: "5.0000", BaseAsset: base, QuoteAsset: "USDT",
			MarginAsset: "USDT", PricePrecision: sp.PricePrecision, QuantityPrecision: sp.QuantityPrecision, BaseAssetPrec: 8,
			QuotePrecision: 8, UnderlyingType: "COIN", TriggerProtect: "0.0500", LiquidationFee: "0.012500", MarketTakeBound: "0.05",
			Filters: []jsonFilter{
				{"filterType": "PRICE_FILTER", "minPrice": sp.MinPrice.String(), "maxPrice": sp.MaxPrice.String(), "tickSize": sp.TickSize.String()},
				{"filterType": "LOT_SIZE", "minQty": sp.MinQty.String(), "stepSize": sp.StepSize.String(), "maxQty": sp.MaxQty.String()},
				{"stepSize": sp.StepSize.String(), "filterType": "MARKET_LOT_SIZE", "minQty": sp.MinQty.String(), "maxQty": sp.MaxQty.String()},
				{"limit": s.o.maxOpenOrders, "filterType": "MAX_NUM_ORDERS"},
				{"filterType": "MIN_NOTIONAL", "notional": sp.MinNotional.String()},
				{"multiplierUp": "1.0500", "multiplierDecimal": "4", "filterType": "PERCENT_PRICE", "multiplierDown": "0.9500"},
				{"positionControlSide": "NONE", "filterType": "POSITION_RISK_CONTROL"},
			},
			OrderTypes:  []string{"LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"},
			TimeInForce: []string{"GTC", "IOC", "FOK", "GTX", "GTD"},
		})
	}
	return map[string]any{
		"timezone": "UTC", "serverTime": s.nowMs(), "futuresType": "U_MARGINED", "exchangeFilters": []any{},
		"rateLimits": []map[string]any{
			{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": s.o.weightLimit},
			{"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": s.o.orders1m},
			{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": s.o.orders10s},
		},
		"assets":  []map[string]any{{"asset": "USDT", "marginAvailable": true, "autoAssetExchange": "0"}},
		"symbols": syms,
	}, nil
}

func (s *Server) bookOf(p url.Values) (*book, *apiErr) {
	b, ok := s.books[p.Get("symbol")]
	if !ok {
		return nil, errf(400, -1121, "Invalid symbol.")
	}
	return b, nil
}

// depthLimit reads GET /fapi/v1/depth's limit (default 500). The docs list
// 5, 10, 20, 50, 100, 500 and 1000; assumption: any limit from 1 to 1000
// is served (truncating the book), charged at the weight of the listed
// limit at or above it; other values are -1130.
func depthLimit(p url.Values) (int, bool) {
	v := p.Get("limit")
	if v == "" {
		return 500, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, false
	}
	return n, true
}

// depthWeight: limit 5, 10, 20, 50: 2; 100: 5; 500: 10; 1000: 20.
func depthWeight(p url.Values) int {
	n, ok := depthLimit(p)
	switch {
	case !ok || n <= 50:
		return 2
	case n <= 100:
		return 5
	case n <= 500:
		return 10
	}
	return 20
}

// handleDepth serves GET /fapi/v1/depth: the book with lastUpdateId
// consistent with the @depth diff stream (see lastUpdateID).
func (s *Server) handleDepth(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	n, ok := depthLimit(p)
	if !ok {
		return nil, errf(400, -1130, "Data sent for parameter 'limit' is not valid.")
	}
	s.flushBooks() // the snapshot follows every change already published
	bids, asks := s.levels(b)
	now := s.nowMs()
	return map[string]any{"lastUpdateId": b.lastUpdateID(), "E": now, "T": now,
		"bids": wireLevels(b, bids, n), "asks": wireLevels(b, asks, n)}, nil
}

// perSymbol answers with one object when symbol is sent and an array of
// every symbol otherwise (-1121 for an unknown symbol).
func (s *Server) perSymbol(p url.Values, one func(b *book) any) (any, *apiErr) {
	if p.Get("symbol") != "" {
		b, aerr := s.bookOf(p)
		if aerr != nil {
			return nil, aerr
		}
		return one(b), nil
	}
	out := []any{}
	for _, name := range s.symbolNames() {
		out = append(out, one(s.books[name]))
	}
	return out, nil
}

func symbolWeight(with, without int) func(url.Values) int {
	return func(p url.Values) int {
		if p.Get("symbol") != "" {
			return with
		}
		return without
	}
}

// handleBookTicker serves GET /fapi/v1/ticker/bookTicker (sheet §4.15,
// with the live lastUpdateId).
func (s *Server) handleBookTicker(p url.Values) (any, *apiErr) {
	s.flushBooks()
	return s.perSymbol(p, func(b *book) any {
		bt := s.bookTicker(b)
		return map[string]any{"symbol": b.spec.Name, "bidPrice": bt.bidPrice, "bidQty": bt.bidQty,
			"askPrice": bt.askPrice, "askQty": bt.askQty, "time": s.nowMs(), "lastUpdateId": b.seq}
	})
}

// handlePremiumIndex serves GET /fapi/v1/premiumIndex (sheet §4.15): mark,
// index and estimated settle price are the market price.
func (s *Server) handlePremiumIndex(p url.Values) (any, *apiErr) {
	now := s.nowMs()
	return s.perSymbol(p, func(b *book) any {
		return map[string]any{"symbol": b.spec.Name, "markPrice": f8(b.price), "indexPrice": f8(b.price),
			"estimatedSettlePrice": f8(b.price), "lastFundingRate": f8(b.fundingRate), "interestRate": "0.00010000",
			"nextFundingTime": nextFunding(now), "time": now}
	})
}

// handleTicker24h serves GET /fapi/v1/ticker/24hr (weight 1 with symbol,
// 40 without) from the kline history of the last 24 hours and the market
// price; with no history in the window every price is the market price.
func (s *Server) handleTicker24h(p url.Values) (any, *apiErr) {
	now := s.nowMs()
	return s.perSymbol(p, func(b *book) any {
		from := now - dayMs
		open, high, low := b.price, b.price, b.price
		vol, quote := decimal.Zero, decimal.Zero
		var count int64
		if k, ok := mergeRun(b.span(from, now+1)); ok {
			open, high, low = k.o, k.h, k.l
			vol, quote, count = k.vol, k.quoteVol, k.trades
		}
		last := b.price
		high, low = decimal.Max(high, last), decimal.Min(low, last)
		pf := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.PricePrecision)) }
		change := last.Sub(open)
		pct := decimal.Zero
		if open.IsPositive() {
			pct = change.Div(open).Mul(decimal.NewFromInt(100))
		}
		avg := last
		if vol.IsPositive() && quote.IsPositive() {
			avg = quote.Div(vol)
		}
		return map[string]any{"symbol": b.spec.Name, "priceChange": pf(change), "priceChangePercent": pct.StringFixed(3),
			"weightedAvgPrice": pf(avg), "lastPrice": pf(last), "lastQty": b.spec.MinQty.String(), "openPrice": pf(open),
			"highPrice": pf(high), "lowPrice": pf(low), "volume": vol.StringFixed(int32(b.spec.QuantityPrecision)),
			"quoteVolume": quote.StringFixed(2), "openTime": from, "closeTime": now,
			"firstId": b.aggID - count + 1, "lastId": b.aggID, "count": count}
	})
}

// handleFundingRate serves GET /fapi/v1/fundingRate: the fundings settled
// by [Server.SettleFunding], optionally of one symbol, startTime and
// endTime inclusive, limit 1..1000 (default 100), oldest first; with no
// startTime the most recent ones.
// Assumption: it weighs 1 on REQUEST_WEIGHT; the docs put it under a
// separate 500 requests per 5 minutes limit, shared with fundingInfo,
// which is not modelled.
func (s *Server) handleFundingRate(p url.Values) (any, *apiErr) {
	sym := p.Get("symbol")
	if sym != "" {
		if _, aerr := s.bookOf(p); aerr != nil {
			return nil, aerr
		}
	}
	limit := 100
	if v := p.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
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
	var sel []map[string]any
	for _, f := range s.funding {
		if (sym != "" && f.symbol != sym) || f.time < start || f.time > end {
			continue
		}
		sel = append(sel, map[string]any{"symbol": f.symbol, "fundingRate": f8(f.rate), "fundingTime": f.time, "markPrice": f8(f.mark)})
	}
	if p.Get("startTime") != "" {
		sel = sel[:min(limit, len(sel))]
	} else {
		sel = sel[max(0, len(sel)-limit):]
	}
	if sel == nil {
		sel = []map[string]any{}
	}
	return sel, nil
}

// handleTickerPrice serves GET /fapi/v1/ticker/price and /fapi/v2/ticker/price
// (weight 1 with symbol, 2 without): the last price.
func (s *Server) handleTickerPrice(p url.Values) (any, *apiErr) {
	now := s.nowMs()
	return s.perSymbol(p, func(b *book) any {
		return map[string]any{"symbol": b.spec.Name, "price": b.price.StringFixed(int32(b.spec.PricePrecision)), "time": now}
	})
}

// handleCommissionRate serves GET /fapi/v1/commissionRate (weight 20,
// signed): the WithFees rates.
func (s *Server) handleCommissionRate(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"symbol": b.spec.Name, "makerCommissionRate": s.o.makerFee.String(),
		"takerCommissionRate": s.o.takerFee.String()}, nil
}
