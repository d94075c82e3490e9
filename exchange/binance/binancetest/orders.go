package binancetest

// This file: the REST order endpoints (place, batch, cancel, query,
// open orders, trades).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// wireOrder is the REST order object (sheet §4.4).
type wireOrder struct {
	ClientOrderID string `json:"clientOrderId"`
	CumQty        string `json:"cumQty"`
	CumQuote      string `json:"cumQuote"`
	ExecutedQty   string `json:"executedQty"`
	OrderID       int64  `json:"orderId"`
	AvgPrice      string `json:"avgPrice"`
	OrigQty       string `json:"origQty"`
	Price         string `json:"price"`
	ReduceOnly    bool   `json:"reduceOnly"`
	Side          string `json:"side"`
	PositionSide  string `json:"positionSide"`
	Status        string `json:"status"`
	StopPrice     string `json:"stopPrice"`
	ClosePosition bool   `json:"closePosition"`
	Symbol        string `json:"symbol"`
	Time          int64  `json:"time,omitempty"`
	TimeInForce   string `json:"timeInForce"`
	Type          string `json:"type"`
	OrigType      string `json:"origType"`
	UpdateTime    int64  `json:"updateTime"`
	WorkingType   string `json:"workingType"`
	PriceProtect  bool   `json:"priceProtect"`
	PriceMatch    string `json:"priceMatch"`
	STPMode       string `json:"selfTradePreventionMode"`
	GoodTillDate  int64  `json:"goodTillDate"`
}

func (s *Server) wire(o *order, withTime bool) wireOrder {
	sp := s.books[o.symbol].spec
	pf := func(d decimal.Decimal) string { return d.StringFixed(int32(sp.PricePrecision)) }
	qf := func(d decimal.Decimal) string { return d.StringFixed(int32(sp.QuantityPrecision)) }
	avg := decimal.Zero
	if o.filled.IsPositive() {
		avg = o.cumQuote.Div(o.filled)
	}
	w := wireOrder{
		ClientOrderID: o.clientID, CumQty: qf(o.filled), CumQuote: o.cumQuote.StringFixed(int32(sp.PricePrecision + sp.QuantityPrecision)),
		ExecutedQty: qf(o.filled), OrderID: o.id, AvgPrice: avg.StringFixed(int32(sp.PricePrecision + 3)), OrigQty: qf(o.qty),
		Price: pf(o.price), ReduceOnly: o.reduceOnly, Side: o.side, PositionSide: o.ps, Status: o.status, StopPrice: "0",
		Symbol: o.symbol, TimeInForce: o.tif, Type: o.typ, OrigType: o.typ, UpdateTime: o.updated,
		WorkingType: "CONTRACT_PRICE", PriceMatch: "NONE", STPMode: "EXPIRE_MAKER",
	}
	if withTime {
		w.Time = o.created
	}
	return w
}

func (s *Server) handlePlace(p url.Values, hdr http.Header) (any, *apiErr) {
	if aerr := s.orderCount(1, 1, hdr); aerr != nil {
		return nil, aerr
	}
	o, aerr := s.place(fromValues(p))
	if aerr != nil {
		return nil, aerr
	}
	ack := s.wire(o, false) // newOrderRespType ACK: the snapshot at acceptance
	s.afterPlace(o)
	if p.Get("newOrderRespType") == "RESULT" {
		ack = s.wire(o, false)
	}
	return ack, nil
}

func (s *Server) handleBatchPlace(p url.Values, hdr http.Header) (any, *apiErr) {
	var elems []map[string]any
	if err := json.Unmarshal([]byte(p.Get("batchOrders")), &elems); err != nil {
		return nil, errf(400, -1102, "Mandatory parameter 'batchOrders' was not sent, was empty/null, or malformed.")
	}
	if len(elems) == 0 || len(elems) > 5 {
		return nil, errf(400, -4082, "Invalid number of batch place orders.")
	}
	if aerr := s.orderCount(5, 1, hdr); aerr != nil {
		return nil, aerr
	}
	out := make([]any, 0, len(elems))
	for _, e := range elems {
		spec := orderSpec{}
		for k, v := range e {
			switch v := v.(type) {
			case string:
				spec[k] = v
			case bool:
				spec[k] = strconv.FormatBool(v)
			default:
				spec[k] = fmt.Sprint(v)
			}
		}
		o, aerr := s.place(spec)
		if aerr != nil {
			out = append(out, map[string]any{"code": aerr.code, "msg": aerr.msg})
			continue
		}
		out = append(out, s.wire(o, false))
		s.afterPlace(o)
	}
	return out, nil
}

func (s *Server) lookup(b *book, p url.Values) (*order, *apiErr) {
	if v := p.Get("orderId"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, errf(400, -1102, "Mandatory parameter 'orderId' was not sent, was empty/null, or malformed.")
		}
		if o, ok := b.byID[id]; ok {
			return o, nil
		}
		return nil, nil
	}
	if v := p.Get("origClientOrderId"); v != "" {
		return b.byClient[v], nil
	}
	return nil, errf(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
}

func (s *Server) handleCancel(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	o, aerr := s.lookup(b, p)
	if aerr != nil {
		return nil, aerr
	}
	if o == nil || (o.status != "NEW" && o.status != "PARTIALLY_FILLED") {
		return nil, errf(400, -2011, "Unknown order sent.")
	}
	s.close(o, "CANCELED", "0")
	return s.wire(o, false), nil
}

func (s *Server) handleBatchCancel(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	var out []any
	one := func(q url.Values) {
		o, aerr := s.lookup(b, q)
		switch {
		case aerr != nil:
			out = append(out, map[string]any{"code": aerr.code, "msg": aerr.msg})
		case o == nil || (o.status != "NEW" && o.status != "PARTIALLY_FILLED"):
			out = append(out, map[string]any{"code": -2011, "msg": "Unknown order sent."})
		default:
			s.close(o, "CANCELED", "0")
			out = append(out, s.wire(o, false))
		}
	}
	if v := p.Get("orderIdList"); v != "" {
		var ids []int64
		if err := json.Unmarshal([]byte(v), &ids); err != nil || len(ids) == 0 || len(ids) > 10 {
			return nil, errf(400, -1102, "Mandatory parameter 'orderIdList' was not sent, was empty/null, or malformed.")
		}
		for _, id := range ids {
			one(url.Values{"orderId": {strconv.FormatInt(id, 10)}})
		}
		return out, nil
	}
	var cids []string
	if err := json.Unmarshal([]byte(p.Get("origClientOrderIdList")), &cids); err != nil || len(cids) == 0 || len(cids) > 10 {
		return nil, errf(400, -1102, "Mandatory parameter 'origClientOrderIdList' was not sent, was empty/null, or malformed.")
	}
	for _, id := range cids {
		one(url.Values{"origClientOrderId": {id}})
	}
	return out, nil
}

func (s *Server) handleCancelAll(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	s.cancelAllLocked(b)
	return map[string]any{"code": 200, "msg": "The operation of cancel all open order is done."}, nil
}

func (s *Server) handleCountdown(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	ms, err := strconv.ParseInt(p.Get("countdownTime"), 10, 64)
	if err != nil || ms < 0 {
		return nil, errf(400, -1102, "Mandatory parameter 'countdownTime' was not sent, was empty/null, or malformed.")
	}
	sym := b.spec.Name
	if t, ok := s.countdowns[sym]; ok {
		t.Stop()
		delete(s.countdowns, sym)
	}
	if ms > 0 {
		s.countdowns[sym] = time.AfterFunc(time.Duration(ms)*time.Millisecond, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.closed {
				s.cancelAllLocked(b)
				s.flushBooks()
			}
		})
	}
	return map[string]string{"symbol": sym, "countdownTime": strconv.FormatInt(ms, 10)}, nil
}

func (s *Server) handleQuery(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	o, aerr := s.lookup(b, p)
	if aerr != nil {
		return nil, aerr
	}
	if o == nil {
		return nil, errf(400, -2013, "Order does not exist.")
	}
	return s.wire(o, true), nil
}

func (s *Server) handleOpenOrders(p url.Values) (any, *apiErr) {
	out := []wireOrder{}
	for name, b := range s.books {
		if sym := p.Get("symbol"); sym != "" && sym != name {
			continue
		}
		for _, o := range b.open {
			out = append(out, s.wire(o, true))
		}
	}
	if sym := p.Get("symbol"); sym != "" {
		if _, ok := s.books[sym]; !ok {
			return nil, errf(400, -1121, "Invalid symbol.")
		}
	}
	return out, nil
}

func (s *Server) handleUserTrades(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	start, _ := strconv.ParseInt(p.Get("startTime"), 10, 64)
	end, _ := strconv.ParseInt(p.Get("endTime"), 10, 64)
	if end == 0 {
		end = s.nowMs()
	}
	if start == 0 {
		start = end - 7*24*3600*1000
	}
	if end-start > 7*24*3600*1000 {
		return nil, errf(400, -4166, "Search window is restricted to recent 7 days only.")
	}
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 500
	}
	type wt struct {
		Buyer           bool   `json:"buyer"`
		Commission      string `json:"commission"`
		CommissionAsset string `json:"commissionAsset"`
		ID              int64  `json:"id"`
		Maker           bool   `json:"maker"`
		OrderID         int64  `json:"orderId"`
		Price           string `json:"price"`
		Qty             string `json:"qty"`
		QuoteQty        string `json:"quoteQty"`
		RealizedPnl     string `json:"realizedPnl"`
		Side            string `json:"side"`
		PositionSide    string `json:"positionSide"`
		Symbol          string `json:"symbol"`
		Time            int64  `json:"time"`
	}
	out := []wt{}
	for _, t := range b.trades {
		if t.time < start || t.time > end || len(out) >= limit {
			continue
		}
		out = append(out, wt{Buyer: t.side == "BUY", Commission: t.fee.StringFixed(8), CommissionAsset: "USDT", ID: t.id, Maker: t.maker,
			OrderID: t.orderID, Price: t.price.StringFixed(int32(b.spec.PricePrecision)), Qty: t.qty.StringFixed(int32(b.spec.QuantityPrecision)),
			QuoteQty: t.price.Mul(t.qty).StringFixed(int32(b.spec.PricePrecision + b.spec.QuantityPrecision)), RealizedPnl: t.realized.StringFixed(8),
			Side: t.side, PositionSide: t.ps, Symbol: t.symbol, Time: t.time})
	}
	return out, nil
}

// handleOpenOrder serves GET /fapi/v1/openOrder: the order while it is
// open, -2013 "Order does not exist." once it is not (sheet §4.9).
func (s *Server) handleOpenOrder(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	o, aerr := s.lookup(b, p)
	if aerr != nil {
		return nil, aerr
	}
	if o == nil || (o.status != "NEW" && o.status != "PARTIALLY_FILLED") {
		return nil, errf(400, -2013, "Order does not exist.")
	}
	return s.wire(o, true), nil
}

// handleAllOrders serves GET /fapi/v1/allOrders (sheet §4.9): the
// symbol's orders, oldest first, from orderId when sent, else within
// startTime..endTime (at most 7 days, default the last 7), limit 1..1000
// (default 500).
func (s *Server) handleAllOrders(p url.Values) (any, *apiErr) {
	b, aerr := s.bookOf(p)
	if aerr != nil {
		return nil, aerr
	}
	limit := 500
	if v := p.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, errf(400, -1130, "Data sent for parameter 'limit' is not valid.")
		}
		limit = n
	}
	const week = 7 * 24 * 3600 * 1000
	start, _ := strconv.ParseInt(p.Get("startTime"), 10, 64)
	end, _ := strconv.ParseInt(p.Get("endTime"), 10, 64)
	switch {
	case end == 0 && start == 0:
		end = s.nowMs()
		start = end - week
	case end == 0:
		end = start + week
	case start == 0:
		start = end - week
	}
	if end-start > week {
		return nil, errf(400, -4166, "Search window is restricted to recent 7 days only.")
	}
	fromID, _ := strconv.ParseInt(p.Get("orderId"), 10, 64)
	ids := make([]int64, 0, len(b.byID))
	for id := range b.byID {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := []wireOrder{}
	for _, id := range ids {
		o := b.byID[id]
		if len(out) >= limit {
			break
		}
		if fromID != 0 {
			if id < fromID {
				continue
			}
		} else if o.created < start || o.created > end {
			continue
		}
		out = append(out, s.wire(o, true))
	}
	return out, nil
}
