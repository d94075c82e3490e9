package binance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gridmesh/gridmesh/exchange"
)

var _ exchange.AllPositionsReader = (*Client)(nil)

// AllPositions returns the positions of every symbol (GET
// /fapi/v3/positionRisk without a symbol, weight 5: v3 lists only symbols
// with a position or open orders) with leverage and margin mode from GET
// /fapi/v1/symbolConfig (weight 5; for the one symbol listed, or without a
// symbol — every symbol — when several are). A symbol absent from the
// answer has no position. The executor sends it in place of two or more
// Positions calls of different symbols waiting at once, and charges it as
// "allPositions" (weight 10, as one Positions call).
func (c *Client) AllPositions(ctx context.Context) ([]exchange.Position, error) {
	body, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v3/positionRisk", sec: secSigned, op: exchange.OpAllPositions})
	if err != nil {
		return nil, err
	}
	var ws []wirePositionRisk
	if err := json.Unmarshal(body, &ws); err != nil {
		return nil, fmt.Errorf("binance: positionRisk: malformed answer: %w", err)
	}
	if len(ws) == 0 {
		return []exchange.Position{}, nil
	}
	var p params
	if one := ws[0].Symbol; allOf(ws, one) {
		p.add("symbol", one)
	}
	cb, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/symbolConfig", params: p, sec: secSigned, op: exchange.OpAllPositions})
	if err != nil {
		return nil, err
	}
	var sc []wireSymbolConfig
	if err := json.Unmarshal(cb, &sc); err != nil {
		return nil, fmt.Errorf("binance: symbolConfig: malformed answer: %w", err)
	}
	return positionsFromWire(ws, sc), nil
}

// positionsFromWire joins positionRisk rows with their symbols'
// configuration (leverage, margin type; zero for a symbol sc lacks).
func positionsFromWire(ws []wirePositionRisk, sc []wireSymbolConfig) []exchange.Position {
	cfg := make(map[string]wireSymbolConfig, len(sc))
	for _, s := range sc {
		cfg[s.Symbol] = s
	}
	out := make([]exchange.Position, 0, len(ws))
	for _, w := range ws {
		pos := exchange.Position{
			Symbol: w.Symbol, PositionSide: parsePositionSide(w.PositionSide), Quantity: w.PositionAmt.Decimal,
			EntryPrice: w.EntryPrice.Decimal, MarkPrice: w.MarkPrice.Decimal, UnrealizedPnL: w.UnRealizedProfit.Decimal,
			LiquidationPrice: w.LiquidationPrice.Decimal,
		}
		if s, ok := cfg[w.Symbol]; ok {
			pos.Leverage = s.Leverage
			pos.MarginMode = parseMarginMode(s.MarginType)
		}
		out = append(out, pos)
	}
	return out
}

// allOf reports whether every row is of symbol.
func allOf(ws []wirePositionRisk, symbol string) bool {
	for _, w := range ws {
		if w.Symbol != symbol {
			return false
		}
	}
	return true
}
