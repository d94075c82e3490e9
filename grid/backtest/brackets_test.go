package backtest

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange/sim"
)

// leverageBrackets has the shape of GET /fapi/v1/leverageBracket; the
// numbers are illustrative (continuous: cum 50 = 50,000 × 0.1 %, 950 =
// 50 + 600,000 × 0.15 %, 11,450 = 950 + 3,000,000 × 0.35 %).
const leverageBrackets = `[{"symbol":"ETHUSDT","brackets":[{"bracket":1,"initialLeverage":75,"notionalCap":10000,"notionalFloor":0,"maintMarginRatio":0.0065,"cum":0}]},
{"symbol":"BTCUSDT","brackets":[
 {"bracket":1,"initialLeverage":125,"notionalCap":50000,"notionalFloor":0,"maintMarginRatio":0.004,"cum":0.0},
 {"bracket":2,"initialLeverage":100,"notionalCap":600000,"notionalFloor":50000,"maintMarginRatio":0.005,"cum":50.0},
 {"bracket":3,"initialLeverage":75,"notionalCap":3000000,"notionalFloor":600000,"maintMarginRatio":0.0065,"cum":950.0},
 {"bracket":4,"initialLeverage":50,"notionalCap":12000000,"notionalFloor":3000000,"maintMarginRatio":0.01,"cum":11450.0}]}]`

func TestReadBrackets(t *testing.T) {
	bs, err := ReadBrackets(strings.NewReader(leverageBrackets), btcRules)
	require.NoError(t, err)
	// Money units of 0.0001 USDT: a cap of 50,000 USDT is 500,000,000
	assert.Equal(t, []sim.Bracket{
		{NotionalCap: 500_000_000, Rate: 400_000},
		{NotionalCap: 6_000_000_000, Rate: 500_000, Amount: 500_000},
		{NotionalCap: 30_000_000_000, Rate: 650_000, Amount: 9_500_000},
		{Rate: 1_000_000, Amount: 114_500_000},
	}, bs)
	sc := sim.DefaultCoreConfig(btcRules)
	sc.Brackets = bs
	require.NoError(t, sc.Validate(), "continuous tiers")

	one, err := ReadBrackets(strings.NewReader(`{"symbol":"BTCUSDT","brackets":[{"notionalCap":1000,"notionalFloor":0,"maintMarginRatio":"0.004","cum":0}]}`), btcRules)
	require.NoError(t, err)
	assert.Equal(t, []sim.Bracket{{Rate: 400_000}}, one, "one object; the last tier uncapped")

	for _, tc := range []struct{ in, want string }{
		{`[{"symbol":"ETHUSDT","brackets":[]}]`, "no brackets for BTCUSDT"},
		{`{"symbol":"BTCUSDT","brackets":[]}`, "BTCUSDT has no brackets"},
		{`{"symbol":"BTCUSDT","brackets":[{"notionalCap":10,"notionalFloor":5,"maintMarginRatio":0.004,"cum":0}]}`, "bracket 1: notionalFloor 5 is not the previous cap 0"},
		{`{"symbol":"BTCUSDT","brackets":[{"notionalCap":10,"notionalFloor":0,"maintMarginRatio":1.5,"cum":0}]}`, "bracket 1: maintMarginRatio 1.5 is not a fraction below 1"},
		{`{"symbol":"BTCUSDT","brackets":[{"notionalCap":10,"notionalFloor":0,"maintMarginRatio":-0.1,"cum":0}]}`, `bracket 1: maintMarginRatio "-0.1" is not a non-negative number`},
		{`{"symbol":"BTCUSDT","brackets":[{"notionalCap":0,"notionalFloor":0,"maintMarginRatio":0.1,"cum":0}]}`, "bracket 1: notionalCap 0 is not above its floor 0"},
		{`{"symbol":"BTCUSDT","brackets":[{"notionalCap":10,"notionalFloor":0,"maintMarginRatio":0.004,"cum":0},{"notionalCap":20,"notionalFloor":10,"maintMarginRatio":0.01,"cum":9}]}`,
			"bracket 2: cum 9 is not 0 + 10 × (0.01 − 0.004) = 0.06: the maintenance margin would jump between tiers"},
		{`{"symbol":"BTCUSDT","brackets":[{"notionalCap":10,"notionalFloor":0,"maintMarginRatio":0.004,"cum":0},{"notionalCap":20,"notionalFloor":10,"maintMarginRatio":0.003,"cum":0}]}`,
			"bracket 2: maintMarginRatio 0.003 is below the previous tier's 0.004"},
		{`[{]`, "invalid character"},
		{``, "empty"},
	} {
		_, err := ReadBrackets(strings.NewReader(tc.in), btcRules)
		require.ErrorIs(t, err, ErrBracketData, tc.in)
		assert.Contains(t, err.Error(), tc.want)
	}
}

// FuzzReadBrackets: any input gives brackets or an ErrBracketData error,
// never a panic; brackets have rising caps, the last uncapped.
func FuzzReadBrackets(f *testing.F) {
	f.Add([]byte(leverageBrackets))
	f.Add([]byte(`{"symbol":"BTCUSDT","brackets":[{"notionalCap":1000,"notionalFloor":0,"maintMarginRatio":"0.004","cum":0}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		bs, err := ReadBrackets(bytes.NewReader(b), btcRules)
		if err != nil {
			if !errors.Is(err, ErrBracketData) {
				t.Fatalf("error %v does not match ErrBracketData", err)
			}
			return
		}
		if len(bs) == 0 || bs[len(bs)-1].NotionalCap != 0 {
			t.Fatalf("brackets %+v: want at least one, the last uncapped", bs)
		}
	})
}
