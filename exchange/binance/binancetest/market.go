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

func (s *Server) handleKlines(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	if p.Get("interval") != "1m" {
		return nil, errf(400, -1120, "Invalid interval.")
	}
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 {
		limit = 500
	}
	start, _ := strconv.ParseInt(p.Get("startTime"), 10, 64)
	out := [][]any{}
	for _, k := range b.klines {
		if k.open < start || len(out) >= limit {
			continue
		}
		f := func(d decimal.Decimal) string { return d.StringFixed(int32(b.spec.PricePrecision)) }
		out = append(out, []any{k.open, f(k.o), f(k.h), f(k.l), f(k.c), k.v.StringFixed(int32(b.spec.QuantityPrecision)),
			k.open + 59999, "0", k.trades, "0", "0", "0"})
	}
	return out, nil
}

type kline struct {
	open          int64
	o, h, l, c, v decimal.Decimal
	trades        int64
}
