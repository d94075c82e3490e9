package binance

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// Decoding is lenient (sheet §11.9): unknown fields are ignored, decimals
// come from JSON strings (or bare numbers), an empty string or null is
// zero. encoding/json matches keys case-insensitively when no exact match
// exists, and Binance uses both cases of one letter for different fields
// ("x"/"X", "l"/"L", "m"/"M"…), so every wire struct names both spellings
// it can meet.

// num is a decimal decoded leniently.
type num struct{ decimal.Decimal }

// UnmarshalJSON accepts "1.5", 1.5, "", and null.
func (n *num) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' {
		b = b[1 : len(b)-1]
	}
	if len(b) == 0 || string(b) == "null" || string(b) == "0" {
		n.Decimal = decimal.Zero // shared: decimals are immutable
		return nil
	}
	if d, ok := parsePlainDecimal(b); ok {
		n.Decimal = d
		return nil
	}
	d, err := decimal.NewFromString(string(b))
	if err != nil {
		return fmt.Errorf("binance: decimal %q: %w", truncate(b, 40), err)
	}
	n.Decimal = d
	return nil
}

// skip is a field the adapter does not use but must name, so that
// encoding/json's case-insensitive matching does not pour it into its
// other-case twin ("AP" into "ap"). It decodes nothing and allocates nothing.
type skip struct{}

// UnmarshalJSON ignores the value.
func (skip) UnmarshalJSON([]byte) error { return nil }

// parsePlainDecimal parses the common form -?digits(.digits)? with at
// most 18 digits without converting to a string; ok is false for anything
// else (exponents, longer numbers), which NewFromString then handles.
func parsePlainDecimal(b []byte) (decimal.Decimal, bool) {
	coef, exp, ok := plainParts(b)
	if !ok {
		return decimal.Decimal{}, false
	}
	return decimal.New(coef, exp), true
}

// intern returns the common wire strings without allocating, and any
// other as a new string.
func intern(b []byte) string {
	if s, ok := knownString(b); ok {
		return s
	}
	return string(b)
}

// knownString returns b as one of the common wire strings, without
// allocating; ok is false for any other.
func knownString(b []byte) (string, bool) {
	switch string(b) {
	case "BUY":
		return "BUY", true
	case "SELL":
		return "SELL", true
	case "LIMIT":
		return "LIMIT", true
	case "MARKET":
		return "MARKET", true
	case "NEW":
		return "NEW", true
	case "TRADE":
		return "TRADE", true
	case "PARTIALLY_FILLED":
		return "PARTIALLY_FILLED", true
	case "FILLED":
		return "FILLED", true
	case "CANCELED":
		return "CANCELED", true
	case "EXPIRED":
		return "EXPIRED", true
	case "BOTH":
		return "BOTH", true
	case "LONG":
		return "LONG", true
	case "SHORT":
		return "SHORT", true
	case "USDT":
		return "USDT", true
	case "USDC":
		return "USDC", true
	case "BNB":
		return "BNB", true
	case "GTC":
		return "GTC", true
	case "GTX":
		return "GTX", true
	case "ORDER_TRADE_UPDATE":
		return "ORDER_TRADE_UPDATE", true
	case "ACCOUNT_UPDATE":
		return "ACCOUNT_UPDATE", true
	case "bookTicker":
		return "bookTicker", true
	case "BTCUSDT":
		return "BTCUSDT", true
	case "ETHUSDT":
		return "ETHUSDT", true
	}
	return "", false
}

// wireRateLimit is one element of exchangeInfo.rateLimits.
type wireRateLimit struct {
	RateLimitType string `json:"rateLimitType"`
	Interval      string `json:"interval"`
	IntervalNum   int    `json:"intervalNum"`
	Limit         int    `json:"limit"`
}

type wireFilter struct {
	FilterType string `json:"filterType"`
	TickSize   num    `json:"tickSize"`
	MinPrice   num    `json:"minPrice"`
	MaxPrice   num    `json:"maxPrice"`
	StepSize   num    `json:"stepSize"`
	MinQty     num    `json:"minQty"`
	MaxQty     num    `json:"maxQty"`
	Notional   num    `json:"notional"`
}

type wireSymbol struct {
	Symbol            string       `json:"symbol"`
	Status            string       `json:"status"`
	ContractType      string       `json:"contractType"`
	QuoteAsset        string       `json:"quoteAsset"`
	MarginAsset       string       `json:"marginAsset"`
	PricePrecision    int          `json:"pricePrecision"`
	QuantityPrecision int          `json:"quantityPrecision"`
	Filters           []wireFilter `json:"filters"`
}

type wireExchangeInfo struct {
	RateLimits []wireRateLimit `json:"rateLimits"`
	Symbols    []wireSymbol    `json:"symbols"`
}

// symbolInfo is what the adapter keeps of one exchangeInfo symbol.
type symbolInfo struct {
	rules       exchange.Rules
	status      string
	minPrice    decimal.Decimal
	maxPrice    decimal.Decimal
	marketStep  decimal.Decimal // MARKET_LOT_SIZE stepSize; zero when absent
	marginAsset string
	fast        fastRules // the rules in ticks and steps, for the int64 path
}

// decodeExchangeInfo turns exchangeInfo into rules per symbol: tick from
// PRICE_FILTER, step and min and max quantity from LOT_SIZE, the market
// order bounds from MARKET_LOT_SIZE, min notional from MIN_NOTIONAL. Symbols whose rules do not validate are skipped and named
// in the returned problems.
func decodeExchangeInfo(body []byte) (map[string]symbolInfo, []exchange.RateLimit, []error, error) {
	var info wireExchangeInfo
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, nil, nil, fmt.Errorf("binance: exchangeInfo: %w", err)
	}
	out := make(map[string]symbolInfo, len(info.Symbols))
	var problems []error
	for _, s := range info.Symbols {
		si := symbolInfo{status: s.Status, marginAsset: s.MarginAsset, rules: exchange.Rules{Symbol: s.Symbol}}
		for _, f := range s.Filters {
			switch f.FilterType {
			case "PRICE_FILTER":
				si.rules.TickSize = f.TickSize.Decimal
				si.minPrice, si.maxPrice = f.MinPrice.Decimal, f.MaxPrice.Decimal
			case "LOT_SIZE":
				si.rules.StepSize = f.StepSize.Decimal
				si.rules.MinQty = f.MinQty.Decimal
				si.rules.MaxQty = f.MaxQty.Decimal
			case "MARKET_LOT_SIZE":
				// MARKET orders are checked against this filter instead of
				// LOT_SIZE (sheet §4.2); its maxQty is usually far smaller.
				si.rules.MarketMinQty = f.MinQty.Decimal
				si.rules.MarketMaxQty = f.MaxQty.Decimal
				si.marketStep = f.StepSize.Decimal
			case "MIN_NOTIONAL":
				si.rules.MinNotional = f.Notional.Decimal
			}
		}
		if err := si.rules.Validate(); err != nil {
			problems = append(problems, err)
			continue
		}
		si.fast = newFastRules(si)
		out[s.Symbol] = si
	}
	return out, limitsFromInfo(info.RateLimits), problems, nil
}

// wireOrder is an order object of the REST API.
type wireOrder struct {
	Symbol        string `json:"symbol"`
	OrderID       int64  `json:"orderId"`
	ClientOrderID string `json:"clientOrderId"`
	Side          string `json:"side"`
	PositionSide  string `json:"positionSide"`
	Type          string `json:"type"`
	TimeInForce   string `json:"timeInForce"`
	Price         num    `json:"price"`
	OrigQty       num    `json:"origQty"`
	ExecutedQty   num    `json:"executedQty"`
	AvgPrice      num    `json:"avgPrice"`
	Status        string `json:"status"`
	ReduceOnly    bool   `json:"reduceOnly"`
	UpdateTime    int64  `json:"updateTime"`
	Time          int64  `json:"time"`
	Code          *int   `json:"code"`
	Msg           string `json:"msg"`
}

func (w *wireOrder) order() exchange.Order {
	t := w.UpdateTime
	if t == 0 {
		t = w.Time
	}
	return exchange.Order{
		Symbol:        w.Symbol,
		OrderID:       strconv.FormatInt(w.OrderID, 10),
		ClientOrderID: w.ClientOrderID,
		Side:          parseSide(w.Side),
		PositionSide:  parsePositionSide(w.PositionSide),
		Type:          parseOrderType(w.Type),
		TimeInForce:   parseTIF(w.TimeInForce),
		Price:         w.Price.Decimal,
		Quantity:      w.OrigQty.Decimal,
		FilledQty:     w.ExecutedQty.Decimal,
		AvgPrice:      w.AvgPrice.Decimal,
		Status:        parseStatus(w.Status),
		ReduceOnly:    w.ReduceOnly,
		UpdateTime:    msTime(t),
	}
}

// wireTrade is an element of GET /fapi/v1/userTrades.
type wireTrade struct {
	Symbol          string `json:"symbol"`
	ID              int64  `json:"id"`
	OrderID         int64  `json:"orderId"`
	Side            string `json:"side"`
	PositionSide    string `json:"positionSide"`
	Price           num    `json:"price"`
	Qty             num    `json:"qty"`
	Commission      num    `json:"commission"`
	CommissionAsset string `json:"commissionAsset"`
	RealizedPnl     num    `json:"realizedPnl"`
	Maker           bool   `json:"maker"`
	Buyer           bool   `json:"buyer"`
	Time            int64  `json:"time"`
}

func (w *wireTrade) fill() exchange.Fill {
	return exchange.Fill{
		Symbol:       w.Symbol,
		OrderID:      strconv.FormatInt(w.OrderID, 10),
		TradeID:      strconv.FormatInt(w.ID, 10),
		Side:         parseSide(w.Side),
		PositionSide: parsePositionSide(w.PositionSide),
		Price:        w.Price.Decimal,
		Quantity:     w.Qty.Decimal,
		Fee:          w.Commission.Decimal, // Binance: paid is positive, a rebate negative
		FeeAsset:     w.CommissionAsset,
		Maker:        w.Maker,
		RealizedPnL:  w.RealizedPnl.Decimal,
		Time:         msTime(w.Time),
	}
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func parseSide(s string) exchange.Side {
	switch s {
	case "BUY":
		return exchange.Buy
	case "SELL":
		return exchange.Sell
	}
	return 0
}

func parsePositionSide(s string) exchange.PositionSide {
	switch s {
	case "LONG":
		return exchange.PositionLong
	case "SHORT":
		return exchange.PositionShort
	}
	return exchange.PositionBoth
}

func parseOrderType(s string) exchange.OrderType {
	if s == "MARKET" {
		return exchange.Market
	}
	return exchange.Limit
}

func parseTIF(s string) exchange.TimeInForce {
	switch s {
	case "GTX":
		return exchange.PostOnly
	case "IOC":
		return exchange.IOC
	}
	return exchange.GTC
}

func parseStatus(s string) exchange.OrderStatus {
	switch s {
	case "NEW", "NEW_INSURANCE", "NEW_ADL":
		return exchange.StatusNew
	case "PARTIALLY_FILLED":
		return exchange.StatusPartiallyFilled
	case "FILLED":
		return exchange.StatusFilled
	case "CANCELED":
		return exchange.StatusCanceled
	case "EXPIRED", "EXPIRED_IN_MATCH":
		return exchange.StatusExpired
	case "REJECTED":
		return exchange.StatusRejected
	}
	return exchange.StatusUnknown
}

func parseMarginMode(s string) exchange.MarginMode {
	if strings.EqualFold(s, "isolated") {
		return exchange.Isolated
	}
	return exchange.Cross
}

// StreamError reports a stream message that could not be decoded. The
// adapter counts and skips such messages.
type StreamError struct {
	Event string // the event type, when it could be read
	Err   error
}

// Error implements error.
func (e *StreamError) Error() string {
	if e.Event == "" {
		return "binance: malformed stream message: " + e.Err.Error()
	}
	return "binance: malformed " + e.Event + " message: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *StreamError) Unwrap() error { return e.Err }

// wireBookTicker is <symbol>@bookTicker (sheet §5.3).
type wireBookTicker struct {
	Ev     string `json:"e"`
	U      int64  `json:"u"`
	E      int64  `json:"E"`
	T      int64  `json:"T"`
	Symbol string `json:"s"`
	Bid    num    `json:"b"`
	BidQty num    `json:"B"`
	Ask    num    `json:"a"`
	AskQty num    `json:"A"`
}

var two = decimal.NewFromInt(2)

// wireAggTrade is <symbol>@aggTrade (sheet §5.4).
type wireAggTrade struct {
	Ev       string `json:"e"`
	E        int64  `json:"E"`
	Symbol   string `json:"s"`
	AggID    int64  `json:"a"`
	Price    num    `json:"p"`
	Qty      num    `json:"q"`
	NormQty  num    `json:"nq"`
	First    int64  `json:"f"`
	Last     int64  `json:"l"`
	T        int64  `json:"T"`
	BuyMaker bool   `json:"m"`
}

// DecodeAggTrade decodes an aggTrade payload into a PriceUpdate (the trade price).
func DecodeAggTrade(b []byte) (exchange.PriceUpdate, error) {
	var w wireAggTrade
	if err := json.Unmarshal(b, &w); err != nil {
		return exchange.PriceUpdate{}, &StreamError{Event: "aggTrade", Err: err}
	}
	if w.Symbol == "" || !w.Price.IsPositive() {
		return exchange.PriceUpdate{}, &StreamError{Event: "aggTrade", Err: fmt.Errorf("missing symbol or price")}
	}
	return exchange.PriceUpdate{Symbol: w.Symbol, Price: w.Price.Decimal, Time: msTime(w.T)}, nil
}

// wireMarkPrice is <symbol>@markPrice (sheet §5.5).
type wireMarkPrice struct {
	Ev          string `json:"e"`
	E           int64  `json:"E"`
	Symbol      string `json:"s"`
	Mark        num    `json:"p"`
	MarkAvg     num    `json:"ap"`
	Index       num    `json:"i"`
	Settle      num    `json:"P"`
	FundingRate num    `json:"r"`
	NextFunding int64  `json:"T"`
}

// DecodeMarkPrice decodes a markPriceUpdate payload.
func DecodeMarkPrice(b []byte) (exchange.MarkPriceUpdate, error) {
	var w wireMarkPrice
	if err := json.Unmarshal(b, &w); err != nil {
		return exchange.MarkPriceUpdate{}, &StreamError{Event: "markPriceUpdate", Err: err}
	}
	if w.Symbol == "" || !w.Mark.IsPositive() {
		return exchange.MarkPriceUpdate{}, &StreamError{Event: "markPriceUpdate", Err: fmt.Errorf("missing symbol or mark price")}
	}
	return exchange.MarkPriceUpdate{
		Symbol: w.Symbol, MarkPrice: w.Mark.Decimal, IndexPrice: w.Index.Decimal,
		FundingRate: w.FundingRate.Decimal, NextFundingTime: msTime(w.NextFunding), Time: msTime(w.E),
	}, nil
}

// wireKline is <symbol>@kline_<interval> (sheet §5.6).
type wireKline struct {
	Ev     string `json:"e"`
	E      int64  `json:"E"`
	Symbol string `json:"s"`
	K      struct {
		Start    int64  `json:"t"`
		Close    int64  `json:"T"`
		Symbol   string `json:"s"`
		Interval string `json:"i"`
		First    int64  `json:"f"`
		Last     int64  `json:"L"`
		O        num    `json:"o"`
		C        num    `json:"c"`
		H        num    `json:"h"`
		Lo       num    `json:"l"`
		V        num    `json:"v"`
		N        int64  `json:"n"`
		Closed   bool   `json:"x"`
		Q        num    `json:"q"`
		TakerV   num    `json:"V"`
		TakerQ   num    `json:"Q"`
		B        string `json:"B"`
	} `json:"k"`
}

// DecodeKline decodes a kline stream payload.
func DecodeKline(b []byte) (exchange.Kline, error) {
	var w wireKline
	if err := json.Unmarshal(b, &w); err != nil {
		return exchange.Kline{}, &StreamError{Event: "kline", Err: err}
	}
	k := w.K
	if k.Symbol == "" || k.Start == 0 {
		return exchange.Kline{}, &StreamError{Event: "kline", Err: fmt.Errorf("missing symbol or open time")}
	}
	return exchange.Kline{
		Symbol: k.Symbol, Interval: k.Interval, OpenTime: msTime(k.Start), CloseTime: msTime(k.Close),
		Open: k.O.Decimal, High: k.H.Decimal, Low: k.Lo.Decimal, Close: k.C.Decimal, Volume: k.V.Decimal, Closed: k.Closed,
	}, nil
}

// decodeRESTKlines decodes GET /fapi/v1/klines: arrays of
// [openTime, "open", "high", "low", "close", "volume", closeTime, …].
func decodeRESTKlines(symbol, interval string, body []byte, now time.Time) ([]exchange.Kline, error) {
	var rows [][]json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, fmt.Errorf("binance: klines: %w", err)
	}
	out := make([]exchange.Kline, 0, len(rows))
	for i, r := range rows {
		if len(r) < 7 {
			return nil, fmt.Errorf("binance: klines: row %d has %d fields, want at least 7", i, len(r))
		}
		var open, closeT int64
		var o, h, l, c, v num
		for j, dst := range []any{&open, &o, &h, &l, &c, &v, &closeT} {
			if err := json.Unmarshal(r[j], dst); err != nil {
				return nil, fmt.Errorf("binance: klines: row %d field %d: %w", i, j, err)
			}
		}
		out = append(out, exchange.Kline{
			Symbol: symbol, Interval: interval, OpenTime: msTime(open), CloseTime: msTime(closeT),
			Open: o.Decimal, High: h.Decimal, Low: l.Decimal, Close: c.Decimal, Volume: v.Decimal,
			Closed: !msTime(closeT).After(now),
		})
	}
	return out, nil
}
