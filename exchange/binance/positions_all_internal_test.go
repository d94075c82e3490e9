package binance

import (
	"encoding/json"
	"testing"
)

// FuzzAllPositionsAnswer decodes arbitrary positionRisk and symbolConfig
// answers as AllPositions does: a malformed one is an error, never a
// panic, and every position keeps its row's symbol and takes the leverage
// of that symbol's configuration.
func FuzzAllPositionsAnswer(f *testing.F) {
	f.Add([]byte(`[{"symbol":"BTCUSDT","positionSide":"BOTH","positionAmt":"0.010","entryPrice":"59000","markPrice":"60000","unRealizedProfit":"10","liquidationPrice":"0"},{"symbol":"ETHUSDT","positionSide":"SHORT","positionAmt":"-1"}]`),
		[]byte(`[{"symbol":"BTCUSDT","marginType":"CROSSED","leverage":20},{"symbol":"ETHUSDT","marginType":"ISOLATED","leverage":7}]`))
	f.Add([]byte(`[]`), []byte(`[]`))
	f.Add([]byte(`[{"symbol":"X","positionAmt":"1e400"}]`), []byte(`{"symbol":"X"}`))
	f.Fuzz(func(t *testing.T, posBody, cfgBody []byte) {
		var ws []wirePositionRisk
		if json.Unmarshal(posBody, &ws) != nil {
			return
		}
		var sc []wireSymbolConfig
		if json.Unmarshal(cfgBody, &sc) != nil {
			return
		}
		lev := map[string]int{}
		for _, s := range sc {
			lev[s.Symbol] = s.Leverage
		}
		out := positionsFromWire(ws, sc)
		if len(out) != len(ws) {
			t.Fatalf("%d positions from %d rows", len(out), len(ws))
		}
		for i, p := range out {
			if p.Symbol != ws[i].Symbol {
				t.Fatalf("row %d: symbol %q, want %q", i, p.Symbol, ws[i].Symbol)
			}
			if p.Leverage != lev[p.Symbol] {
				t.Fatalf("row %d: leverage %d, want %d", i, p.Leverage, lev[p.Symbol])
			}
			if !p.Quantity.Equal(ws[i].PositionAmt.Decimal) {
				t.Fatalf("row %d: quantity %s, want %s", i, p.Quantity, ws[i].PositionAmt.Decimal)
			}
		}
	})
}
