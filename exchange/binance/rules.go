package binance

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// Rules returns the symbol's rules from the cached exchangeInfo, loading or
// refreshing it when older than Config.RulesTTL. A symbol that is not
// listed is an error matching exchange.ErrInvalidOrder; a listed symbol not
// in TRADING status matches exchange.ErrTradingRestricted.
func (c *Client) Rules(ctx context.Context, symbol string) (exchange.Rules, error) {
	si, err := c.symbol(ctx, symbol)
	if err != nil {
		return exchange.Rules{}, err
	}
	return si.rules, nil
}

func (c *Client) symbol(ctx context.Context, symbol string) (symbolInfo, error) {
	// A fresh cache answers, listed or not (RefreshRules picks up a new
	// listing at once); a stale or empty one is reloaded first.
	si, ok, fresh := c.cachedSymbol(symbol)
	if !fresh {
		// One refresh at a time: exchangeInfo is about a megabyte.
		c.refreshMu.Lock()
		var err error
		if si, ok, fresh = c.cachedSymbol(symbol); !fresh {
			err = c.RefreshRules(ctx)
		}
		c.refreshMu.Unlock()
		if err != nil {
			if ok { // keep serving the cached rules when a refresh fails
				c.log.LogAttrs(ctx, slog.LevelWarn, "binance: rules refresh failed; using cached rules", slogErr(err))
				return si, nil
			}
			return symbolInfo{}, err
		}
		c.rulesMu.Lock()
		si, ok = c.symbols[symbol]
		c.rulesMu.Unlock()
	}
	if !ok {
		return symbolInfo{}, fmt.Errorf("binance: symbol %q is not listed: %w", symbol, exchange.ErrInvalidOrder)
	}
	if si.status != "" && si.status != "TRADING" {
		return si, fmt.Errorf("binance: symbol %q status is %s: %w", symbol, si.status, exchange.ErrTradingRestricted)
	}
	return si, nil
}

func (c *Client) cachedSymbol(symbol string) (si symbolInfo, ok, fresh bool) {
	c.rulesMu.Lock()
	defer c.rulesMu.Unlock()
	si, ok = c.symbols[symbol]
	return si, ok, c.symbols != nil && c.now().Sub(c.rulesAt) < c.cfg.RulesTTL
}

// RefreshRules reloads exchangeInfo (weight 1) and the rate limits it
// declares.
func (c *Client) RefreshRules(ctx context.Context) error {
	body, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/exchangeInfo", op: "rules"})
	if err != nil {
		return err
	}
	syms, limits, problems, err := decodeExchangeInfo(body)
	if err != nil {
		return err
	}
	for _, p := range problems {
		c.log.LogAttrs(ctx, slog.LevelWarn, "binance: symbol skipped", slogErr(p))
	}
	c.rulesMu.Lock()
	c.symbols, c.limits, c.rulesAt = syms, limits, c.now()
	c.rulesMu.Unlock()
	return nil
}

// filterCodes are the venue's filter refusals: when our checks passed and
// the venue still refused, the cached rules are stale (sheet §4.2: refresh
// exchangeInfo on a filter error).
var filterCodes = []int{-1111, -4002, -4003, -4004, -4005, -4013, -4014, -4023, -4164}

// staleRulesOn makes the next Rules call reload exchangeInfo when err is a
// filter refusal.
func (c *Client) staleRulesOn(err error) {
	if err == nil {
		return
	}
	for _, code := range filterCodes {
		if isCode(err, code) {
			c.rulesMu.Lock()
			c.rulesAt = time.Time{}
			c.rulesMu.Unlock()
			return
		}
	}
}

// checkRequest validates the request's own fields, naming field and value.
func checkRequest(req exchange.OrderRequest) error {
	bad := func(field, value, why string) error {
		return fmt.Errorf("binance: order %s %s %s: %w", field, value, why, exchange.ErrInvalidOrder)
	}
	switch {
	case req.Symbol == "":
		return bad("Symbol", `""`, "is empty")
	case req.Side != exchange.Buy && req.Side != exchange.Sell:
		return bad("Side", req.Side.String(), "is not BUY or SELL")
	case req.PositionSide > exchange.PositionShort:
		return bad("PositionSide", req.PositionSide.String(), "is unknown")
	case req.Type > exchange.Market:
		return bad("Type", req.Type.String(), "is unknown")
	case req.TimeInForce > exchange.IOC:
		return bad("TimeInForce", req.TimeInForce.String(), "is unknown")
	case req.ClientOrderID != "" && !validClientID(req.ClientOrderID):
		return bad("ClientOrderID", strconv.Quote(req.ClientOrderID), "must match "+clientIDPattern.String())
	}
	return nil
}

// checkRules enforces the symbol's filters before sending (sheet §4.2). A
// LIMIT order: tick, step, min/max price, LOT_SIZE min and max quantity,
// and min notional except for reduce-only orders. A MARKET order:
// MARKET_LOT_SIZE instead of LOT_SIZE (exchange.Rules.CheckMarketOrder:
// step, market min and max quantity; a larger close must be split with
// Rules.SplitMarketQty); its notional is valued at the mark price, which
// the venue checks.
func checkRules(si symbolInfo, req exchange.OrderRequest) error {
	r := si.rules
	if req.Type == exchange.Market {
		if err := r.CheckMarketOrder(req.Quantity); err != nil {
			return err
		}
		if si.marketStep.IsPositive() && !si.marketStep.Equal(r.StepSize) {
			if q := req.Quantity.Div(si.marketStep); !q.Equal(q.Truncate(0)) {
				return &exchange.RuleError{Symbol: r.Symbol, Field: "quantity", Value: req.Quantity.String(), Reason: "is not a multiple of the market step " + si.marketStep.String()}
			}
		}
		return nil
	}
	if !req.Quantity.IsPositive() {
		return &exchange.RuleError{Symbol: r.Symbol, Field: "quantity", Value: req.Quantity.String(), Reason: "must be positive"}
	}
	if _, err := r.QtyToSteps(req.Quantity); err != nil {
		return err
	}
	if req.Quantity.LessThan(r.MinQty) {
		return &exchange.RuleError{Symbol: r.Symbol, Field: "quantity", Value: req.Quantity.String(), Reason: "is below MinQty " + r.MinQty.String()}
	}
	if r.MaxQty.IsPositive() && req.Quantity.GreaterThan(r.MaxQty) {
		return &exchange.RuleError{Symbol: r.Symbol, Field: "quantity", Value: req.Quantity.String(), Reason: "is above MaxQty " + r.MaxQty.String()}
	}
	if !req.Price.IsPositive() {
		return &exchange.RuleError{Symbol: r.Symbol, Field: "price", Value: req.Price.String(), Reason: "must be positive"}
	}
	if _, err := r.PriceToTicks(req.Price); err != nil {
		return err
	}
	if si.minPrice.IsPositive() && req.Price.LessThan(si.minPrice) {
		return &exchange.RuleError{Symbol: r.Symbol, Field: "price", Value: req.Price.String(), Reason: "is below minPrice " + si.minPrice.String()}
	}
	if si.maxPrice.IsPositive() && req.Price.GreaterThan(si.maxPrice) {
		return &exchange.RuleError{Symbol: r.Symbol, Field: "price", Value: req.Price.String(), Reason: "is above maxPrice " + si.maxPrice.String()}
	}
	if !req.ReduceOnly {
		if n := req.Price.Mul(req.Quantity); n.LessThan(r.MinNotional) {
			return &exchange.RuleError{Symbol: r.Symbol, Field: "notional", Value: n.String(), Reason: "is below MinNotional " + r.MinNotional.String()}
		}
	}
	return nil
}

// places is the number of significant decimals of an increment ("0.10" →
// 1, "0.001" → 3, "1" → 0).
func places(unit decimal.Decimal) int32 {
	s := unit.String() // trailing zeros trimmed
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return int32(len(s) - i - 1)
	}
	return 0
}
