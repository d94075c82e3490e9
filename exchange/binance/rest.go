package binance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// clientIDPattern is what Binance accepts as newClientOrderId (sheet §4.4).
var clientIDPattern = regexp.MustCompile(`^[\.A-Z\:/a-z0-9_-]{1,36}$`)

// orderParams validates req and encodes it as POST /fapi/v1/order
// parameters (or one batch element). Hedge-mode orders (PositionSide LONG
// or SHORT) never carry reduceOnly (-1106); one-way orders send it only
// when true.
func (c *Client) orderParams(ctx context.Context, req exchange.OrderRequest) (orderFields, error) {
	var o orderFields
	if err := checkRequest(req); err != nil {
		return o, err
	}
	si, err := c.symbol(ctx, req.Symbol)
	if err != nil {
		return o, err
	}
	if !si.fast.check(req) {
		if err := checkRules(si, req); err != nil {
			return o, err
		}
	}
	qtyPlaces, pricePlaces := si.fast.qtyPlaces, si.fast.pricePlaces
	if !si.fast.ok {
		qtyPlaces, pricePlaces = places(si.rules.StepSize), places(si.rules.TickSize)
	}
	o.set("symbol", req.Symbol)
	o.set("side", req.Side.String())
	if req.PositionSide != exchange.PositionBoth {
		o.set("positionSide", req.PositionSide.String())
	}
	o.set("type", req.Type.String())
	if req.Type == exchange.Limit {
		o.set("timeInForce", req.TimeInForce.String())
	}
	// Fixed-point with the increment's decimals (sheet §4.2): never an
	// exponent, never more decimals than the venue's precision.
	o.setNum("quantity", fixedOf(req.Quantity, qtyPlaces))
	if req.Type == exchange.Limit {
		o.setNum("price", fixedOf(req.Price, pricePlaces))
	}
	if req.ReduceOnly && req.PositionSide == exchange.PositionBoth {
		o.set("reduceOnly", "true")
	}
	if req.ClientOrderID != "" {
		o.set("newClientOrderId", req.ClientOrderID)
	}
	return o, nil
}

// seen remembers an order's client order ID and returns the order.
func (c *Client) seen(o exchange.Order) exchange.Order {
	c.remember(o.OrderID, o.ClientOrderID)
	return o
}

// PlaceOrder places one LIMIT (GTC, GTX post-only, IOC) or MARKET order
// after checking it against the symbol's rules. A crossing post-only order
// fails with exchange.ErrPostOnlyRejected (-5022, nothing created).
func (c *Client) PlaceOrder(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	o, err := c.orderParams(ctx, req)
	if err != nil {
		return exchange.Order{}, err
	}
	// Room for the parameters and what signing appends (recvWindow,
	// timestamp, signature: at most 112 bytes), signed in place.
	p := params{b: make([]byte, 0, 256+128)}
	o.appendQuery(&p)
	body, err := c.do(ctx, request{method: http.MethodPost, path: "/fapi/v1/order", params: p, sec: secSigned, op: "place", mutating: true, signInPlace: true})
	if err != nil {
		c.staleRulesOn(err)
		return exchange.Order{}, err
	}
	var w wireOrder
	if err := decodeWireOrder(body, &w); err != nil {
		return exchange.Order{}, &exchange.UnknownOutcomeError{Op: "place", SentAt: c.now(), Err: fmt.Errorf("binance: malformed order answer: %w", err)}
	}
	return c.seen(w.order()), nil
}

// MaxBatch is 5, Binance's batchOrders limit.
func (c *Client) MaxBatch() int { return 5 }

// PlaceOrders places up to 5 orders in one POST /fapi/v1/batchOrders.
// Results are aligned with reqs; an order that failed validation or that
// the venue refused carries its own mapped error. The error return is for
// the batch as a whole (then no result is returned).
func (c *Client) PlaceOrders(ctx context.Context, reqs []exchange.OrderRequest) ([]exchange.BatchResult, error) {
	if len(reqs) == 0 || len(reqs) > 5 {
		return nil, fmt.Errorf("binance: batch of %d orders, want 1 to 5: %w", len(reqs), exchange.ErrInvalidOrder)
	}
	results := make([]exchange.BatchResult, len(reqs))
	var elems []json.RawMessage
	var index []int // request index of each sent element
	for i, req := range reqs {
		o, err := c.orderParams(ctx, req)
		if err != nil {
			results[i].Err = err
			continue
		}
		elems = append(elems, o.appendJSON(nil))
		index = append(index, i)
	}
	if len(elems) == 0 {
		return results, nil
	}
	list := []byte{'['}
	for i, e := range elems {
		if i > 0 {
			list = append(list, ',')
		}
		list = append(list, e...)
	}
	list = append(list, ']')
	var p params
	p.add("batchOrders", string(list))
	sentAt := c.now()
	body, err := c.do(ctx, request{method: http.MethodPost, path: "/fapi/v1/batchOrders", params: p, sec: secSigned, op: "batchPlace", mutating: true})
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil || len(items) != len(elems) {
		return nil, &exchange.UnknownOutcomeError{Op: "batchPlace", SentAt: sentAt, Err: fmt.Errorf("binance: batch answer has %d items for %d orders (%v)", len(items), len(elems), err)}
	}
	for j, raw := range items {
		results[index[j]] = c.batchItem("place", raw, sentAt)
		c.staleRulesOn(results[index[j]].Err)
	}
	return results, nil
}

// batchItem classifies one batch answer element (sheet §4.5): an error when
// it has a negative code, or a msg without orderId.
func (c *Client) batchItem(op string, raw json.RawMessage, sentAt time.Time) exchange.BatchResult {
	var w wireOrder
	if err := decodeWireOrder(raw, &w); err != nil {
		return exchange.BatchResult{Err: &exchange.UnknownOutcomeError{Op: op, SentAt: sentAt, Err: fmt.Errorf("binance: malformed batch item %q: %w", truncate(raw, 100), err)}}
	}
	if (w.Code != nil && *w.Code < 0) || (w.Msg != "" && w.OrderID == 0) {
		code := 0
		if w.Code != nil {
			code = *w.Code
		}
		return exchange.BatchResult{Err: fmt.Errorf("binance: %s: %w", op, batchItemError(op, code, w.Msg, sentAt))}
	}
	return exchange.BatchResult{Order: c.seen(w.order())}
}

// CancelOrder cancels by OrderID when set, else by ClientOrderID
// (origClientOrderId). An order that is unknown or already closed is
// exchange.ErrOrderNotFound (-2011).
func (c *Client) CancelOrder(ctx context.Context, req exchange.CancelRequest) (exchange.Order, error) {
	p, err := cancelParams(req)
	if err != nil {
		return exchange.Order{}, err
	}
	body, err := c.do(ctx, request{method: http.MethodDelete, path: "/fapi/v1/order", params: p, sec: secSigned, op: "cancel", mutating: true})
	if err != nil {
		return exchange.Order{}, err
	}
	var w wireOrder
	if err := decodeWireOrder(body, &w); err != nil {
		return exchange.Order{}, &exchange.UnknownOutcomeError{Op: "cancel", SentAt: c.now(), Err: fmt.Errorf("binance: malformed cancel answer: %w", err)}
	}
	return c.seen(w.order()), nil
}

func cancelParams(req exchange.CancelRequest) (params, error) {
	var p params
	if req.Symbol == "" {
		return p, fmt.Errorf("binance: cancel Symbol is empty: %w", exchange.ErrInvalidOrder)
	}
	p.add("symbol", req.Symbol)
	switch {
	case req.OrderID != "":
		if _, err := strconv.ParseInt(req.OrderID, 10, 64); err != nil {
			return p, fmt.Errorf("binance: cancel OrderID %q is not a Binance order id: %w", req.OrderID, exchange.ErrOrderNotFound)
		}
		p.add("orderId", req.OrderID)
	case req.ClientOrderID != "":
		p.add("origClientOrderId", req.ClientOrderID)
	default:
		return p, fmt.Errorf("binance: cancel needs OrderID or ClientOrderID: %w", exchange.ErrInvalidOrder)
	}
	return p, nil
}

// CancelOrders cancels up to 10 orders of one symbol in one DELETE
// /fapi/v1/batchOrders, by order IDs when every request has one, else by
// client order IDs. Results are aligned with reqs.
func (c *Client) CancelOrders(ctx context.Context, reqs []exchange.CancelRequest) ([]exchange.BatchResult, error) {
	if len(reqs) == 0 || len(reqs) > 10 {
		return nil, fmt.Errorf("binance: batch cancel of %d orders, want 1 to 10: %w", len(reqs), exchange.ErrInvalidOrder)
	}
	symbol := reqs[0].Symbol
	byID := true
	for i, r := range reqs {
		if r.Symbol != symbol || symbol == "" {
			return nil, fmt.Errorf("binance: batch cancel item %d symbol %q, want all %q: %w", i, r.Symbol, symbol, exchange.ErrInvalidOrder)
		}
		if r.OrderID == "" {
			byID = false
			if r.ClientOrderID == "" {
				return nil, fmt.Errorf("binance: batch cancel item %d has neither OrderID nor ClientOrderID: %w", i, exchange.ErrInvalidOrder)
			}
		} else if _, err := strconv.ParseInt(r.OrderID, 10, 64); err != nil {
			return nil, fmt.Errorf("binance: batch cancel item %d OrderID %q is not a Binance order id: %w", i, r.OrderID, exchange.ErrInvalidOrder)
		}
	}
	var p params
	p.add("symbol", symbol)
	list := []byte{'['}
	for i, r := range reqs {
		if i > 0 {
			list = append(list, ',')
		}
		if byID {
			list = append(list, r.OrderID...)
		} else {
			list = strconv.AppendQuote(list, r.ClientOrderID)
		}
	}
	list = append(list, ']')
	if byID {
		p.add("orderIdList", string(list))
	} else {
		p.add("origClientOrderIdList", string(list))
	}
	sentAt := c.now()
	body, err := c.do(ctx, request{method: http.MethodDelete, path: "/fapi/v1/batchOrders", params: p, sec: secSigned, op: "batchCancel", mutating: true})
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil || len(items) != len(reqs) {
		return nil, &exchange.UnknownOutcomeError{Op: "batchCancel", SentAt: sentAt, Err: fmt.Errorf("binance: batch cancel answer has %d items for %d orders (%v)", len(items), len(reqs), err)}
	}
	out := make([]exchange.BatchResult, len(reqs))
	for i, raw := range items {
		out[i] = c.batchItem("cancel", raw, sentAt)
	}
	return out, nil
}

// CancelAllOrders cancels every open order of the symbol, the grid's or
// not (DELETE /fapi/v1/allOpenOrders). Offered to hosts; the engine never
// calls it.
func (c *Client) CancelAllOrders(ctx context.Context, symbol string) error {
	var p params
	p.add("symbol", symbol)
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/fapi/v1/allOpenOrders", params: p, sec: secSigned, op: "cancelAll", mutating: true})
	return err
}

// ArmCancelAll arms Binance's dead-man switch (POST
// /fapi/v1/countdownCancelAll): every open order of the symbol is canceled
// unless the switch is re-armed within after; zero disarms it. Offered to
// hosts; the engine never calls it.
func (c *Client) ArmCancelAll(ctx context.Context, symbol string, after time.Duration) error {
	if after < 0 {
		return fmt.Errorf("binance: ArmCancelAll after %s must not be negative: %w", after, exchange.ErrInvalidOrder)
	}
	var p params
	p.add("symbol", symbol)
	p.addInt("countdownTime", after.Milliseconds())
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/fapi/v1/countdownCancelAll", params: p, sec: secSigned, op: "armCancelAll", mutating: true})
	return err
}

// QueryOrder looks an order up by client order ID (GET /fapi/v1/order),
// including closed orders Binance still keeps; exchange.ErrOrderNotFound
// (-2013) otherwise.
func (c *Client) QueryOrder(ctx context.Context, symbol, clientOrderID string) (exchange.Order, error) {
	var p params
	p.add("symbol", symbol)
	p.add("origClientOrderId", clientOrderID)
	return c.getOrder(ctx, p, "query")
}

// QueryOrderByID looks an order up by its Binance order ID.
func (c *Client) QueryOrderByID(ctx context.Context, symbol, orderID string) (exchange.Order, error) {
	var p params
	p.add("symbol", symbol)
	p.add("orderId", orderID)
	return c.getOrder(ctx, p, "query")
}

// getOrder is GET /fapi/v1/order; op names the call it serves (a query,
// or Fills looking up a client order ID), so its weight is charged there.
func (c *Client) getOrder(ctx context.Context, p params, op string) (exchange.Order, error) {
	body, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/order", params: p, sec: secSigned, op: op})
	if err != nil {
		return exchange.Order{}, err
	}
	var w wireOrder
	if err := decodeWireOrder(body, &w); err != nil {
		return exchange.Order{}, fmt.Errorf("binance: query: malformed answer: %w", err)
	}
	return c.seen(w.order()), nil
}

// OpenOrders lists the symbol's open orders (weight 1 with a symbol).
func (c *Client) OpenOrders(ctx context.Context, symbol string) ([]exchange.Order, error) {
	if symbol == "" {
		return nil, fmt.Errorf("binance: OpenOrders symbol is empty (all-symbol listing weighs 40): %w", exchange.ErrInvalidOrder)
	}
	var p params
	p.add("symbol", symbol)
	body, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/openOrders", params: p, sec: secSigned, op: "openOrders"})
	if err != nil {
		return nil, err
	}
	var ws []wireOrder
	if err := json.Unmarshal(body, &ws); err != nil {
		return nil, fmt.Errorf("binance: openOrders: malformed answer: %w", err)
	}
	out := make([]exchange.Order, len(ws))
	for i := range ws {
		out[i] = c.seen(ws[i].order())
	}
	return out, nil
}

// wireAccount is GET /fapi/v3/account.
type wireAccount struct {
	TotalWalletBalance num `json:"totalWalletBalance"`
	TotalMarginBalance num `json:"totalMarginBalance"`
	AvailableBalance   num `json:"availableBalance"`
	TotalMaintMargin   num `json:"totalMaintMargin"`
	Assets             []struct {
		Asset            string `json:"asset"`
		WalletBalance    num    `json:"walletBalance"`
		UnrealizedProfit num    `json:"unrealizedProfit"`
		AvailableBalance num    `json:"availableBalance"`
	} `json:"assets"`
}

// wireAccountConfig is GET /fapi/v1/accountConfig.
type wireAccountConfig struct {
	CanTrade          bool `json:"canTrade"`
	DualSidePosition  bool `json:"dualSidePosition"`
	MultiAssetsMargin bool `json:"multiAssetsMargin"`
}

// Account returns balances (GET /fapi/v3/account) and configuration (GET
// /fapi/v1/accountConfig): position mode, multi-assets mode, canTrade.
func (c *Client) Account(ctx context.Context) (exchange.Account, error) {
	body, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v3/account", sec: secSigned, op: "account"})
	if err != nil {
		return exchange.Account{}, err
	}
	var w wireAccount
	if err := json.Unmarshal(body, &w); err != nil {
		return exchange.Account{}, fmt.Errorf("binance: account: malformed answer: %w", err)
	}
	cfgBody, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/accountConfig", sec: secSigned, op: "account"})
	if err != nil {
		return exchange.Account{}, err
	}
	var ac wireAccountConfig
	if err := json.Unmarshal(cfgBody, &ac); err != nil {
		return exchange.Account{}, fmt.Errorf("binance: accountConfig: malformed answer: %w", err)
	}
	a := exchange.Account{
		TotalWallet: w.TotalWalletBalance.Decimal, TotalMargin: w.TotalMarginBalance.Decimal,
		AvailableBalance: w.AvailableBalance.Decimal, MaintMargin: w.TotalMaintMargin.Decimal,
		MultiAssets: ac.MultiAssetsMargin, CanTrade: ac.CanTrade,
	}
	if ac.DualSidePosition {
		a.PositionMode = exchange.Hedge
	}
	for _, as := range w.Assets {
		a.Balances = append(a.Balances, exchange.Balance{Asset: as.Asset, WalletBalance: as.WalletBalance.Decimal,
			AvailableBalance: as.AvailableBalance.Decimal, UnrealizedPnL: as.UnrealizedProfit.Decimal})
	}
	return a, nil
}

type wirePositionRisk struct {
	Symbol           string `json:"symbol"`
	PositionSide     string `json:"positionSide"`
	PositionAmt      num    `json:"positionAmt"`
	EntryPrice       num    `json:"entryPrice"`
	MarkPrice        num    `json:"markPrice"`
	UnRealizedProfit num    `json:"unRealizedProfit"`
	LiquidationPrice num    `json:"liquidationPrice"`
	IsolatedMargin   num    `json:"isolatedMargin"`
}

type wireSymbolConfig struct {
	Symbol     string `json:"symbol"`
	MarginType string `json:"marginType"`
	Leverage   int    `json:"leverage"`
}

// Positions returns the symbol's positions (GET /fapi/v3/positionRisk)
// with leverage and margin mode from GET /fapi/v1/symbolConfig. v3 lists
// only sides with a position or open orders, so a flat symbol may return
// none.
func (c *Client) Positions(ctx context.Context, symbol string) ([]exchange.Position, error) {
	var p params
	p.add("symbol", symbol)
	body, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v3/positionRisk", params: p, sec: secSigned, op: "positions"})
	if err != nil {
		return nil, err
	}
	var ws []wirePositionRisk
	if err := json.Unmarshal(body, &ws); err != nil {
		return nil, fmt.Errorf("binance: positionRisk: malformed answer: %w", err)
	}
	var sc []wireSymbolConfig
	if len(ws) > 0 {
		cb, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/symbolConfig", params: p, sec: secSigned, op: "positions"})
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(cb, &sc); err != nil {
			return nil, fmt.Errorf("binance: symbolConfig: malformed answer: %w", err)
		}
	}
	out := make([]exchange.Position, 0, len(ws))
	for _, w := range ws {
		pos := exchange.Position{
			Symbol: w.Symbol, PositionSide: parsePositionSide(w.PositionSide), Quantity: w.PositionAmt.Decimal,
			EntryPrice: w.EntryPrice.Decimal, MarkPrice: w.MarkPrice.Decimal, UnrealizedPnL: w.UnRealizedProfit.Decimal,
			LiquidationPrice: w.LiquidationPrice.Decimal,
		}
		for _, s := range sc {
			if s.Symbol == w.Symbol {
				pos.Leverage = s.Leverage
				pos.MarginMode = parseMarginMode(s.MarginType)
			}
		}
		out = append(out, pos)
	}
	return out, nil
}

// SetLeverage sets the symbol's leverage (POST /fapi/v1/leverage, 1 to
// 125) and returns the leverage the venue applied.
func (c *Client) SetLeverage(ctx context.Context, symbol string, leverage int) (int, error) {
	if leverage < 1 || leverage > 125 {
		return 0, fmt.Errorf("binance: leverage %d must lie in [1, 125]: %w", leverage, exchange.ErrInvalidOrder)
	}
	var p params
	p.add("symbol", symbol)
	p.addInt("leverage", int64(leverage))
	body, err := c.do(ctx, request{method: http.MethodPost, path: "/fapi/v1/leverage", params: p, sec: secSigned, op: "leverage", mutating: true})
	if err != nil {
		return 0, err
	}
	var w struct {
		Leverage int `json:"leverage"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return 0, fmt.Errorf("binance: leverage: malformed answer: %w", err)
	}
	return w.Leverage, nil
}

// SetPositionMode switches the account between one-way and hedge mode
// (POST /fapi/v1/positionSide/dual). Asking for the mode already set
// (-4059) is not an error.
func (c *Client) SetPositionMode(ctx context.Context, mode exchange.PositionMode) error {
	var p params
	p.add("dualSidePosition", strconv.FormatBool(mode == exchange.Hedge))
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/fapi/v1/positionSide/dual", params: p, sec: secSigned, op: "positionMode", mutating: true})
	if isCode(err, -4059) {
		return nil
	}
	return err
}

// Klines returns up to limit candles (1 to 1000; zero means 500) of the
// symbol, oldest first, starting at start when it is not zero. Its weight
// depends on limit: a host sending it through an executor names it
// [KlinesOp](limit).
func (c *Client) Klines(ctx context.Context, symbol, interval string, start time.Time, limit int) ([]exchange.Kline, error) {
	if limit == 0 {
		limit = 500
	}
	if limit < 1 || limit > 1000 {
		return nil, fmt.Errorf("binance: klines limit %d must lie in [1, 1000]", limit)
	}
	if !validInterval(interval) {
		return nil, fmt.Errorf("binance: kline interval %q is not one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M: %w", interval, exchange.ErrUnsupported)
	}
	var p params
	p.add("symbol", symbol)
	p.add("interval", interval)
	if !start.IsZero() {
		p.addInt("startTime", start.UnixMilli())
	}
	p.addInt("limit", int64(limit))
	body, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/klines", params: p, op: OpKlines})
	if err != nil {
		return nil, err
	}
	return decodeRESTKlines(symbol, interval, body, c.serverNow())
}

func validInterval(s string) bool {
	switch s {
	case "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M":
		return true
	}
	return false
}

// listenKey creates (POST), extends (PUT) or deletes (DELETE) the user
// stream's listen key (USER_STREAM security: API key, no signature).
func (c *Client) listenKey(ctx context.Context, method string) (string, error) {
	body, err := c.do(ctx, request{method: method, path: "/fapi/v1/listenKey", sec: secAPIKey, op: "listenKey"})
	if err != nil {
		return "", err
	}
	var w struct {
		ListenKey string `json:"listenKey"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return "", fmt.Errorf("binance: listenKey: malformed answer: %w", err)
	}
	if method == http.MethodPost && w.ListenKey == "" {
		return "", fmt.Errorf("binance: listenKey: empty key: %w", exchange.ErrUnavailable)
	}
	return w.ListenKey, nil
}

// lowerSymbol is a stream name's symbol part.
func lowerSymbol(s string) string { return strings.ToLower(s) }
