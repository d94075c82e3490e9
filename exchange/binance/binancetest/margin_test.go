package binancetest

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nextEvent reads user events until one of type e arrives, returning it
// and the types skipped on the way.
func nextEvent(t *testing.T, c *websocket.Conn, e string) (map[string]any, []string) {
	t.Helper()
	var skipped []string
	for {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(readRaw(t, c)), &ev))
		if ev["e"] == e {
			return ev, skipped
		}
		skipped = append(skipped, ev["e"].(string))
	}
}

func placeOrder(t *testing.T, s *Server, params string) answer {
	t.Helper()
	return call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&"+params, true, time.Now().UnixMilli(), APIKey)
}

// TestMarginRefusal: an order whose initial margin (notional / leverage)
// exceeds the available balance is refused with -2019; open orders
// reserve margin; orders that only reduce need none.
func TestMarginRefusal(t *testing.T) {
	s := newLive(t, WithBalance(dec("1000")))
	// 0.3 × 60000 / 20 = 900 ≤ 1000: accepted, and reserves 900.
	a := placeOrder(t, s, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.3&price=60000")
	require.Equal(t, 200, a.status, a.body)
	// 0.04 × 59000 / 20 = 118 > 100 left.
	a = placeOrder(t, s, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.04&price=59000")
	assert.Equal(t, 400, a.status)
	assert.JSONEq(t, `{"code":-2019,"msg":"Margin is insufficient."}`, a.body)
	// 0.03 × 59000 / 20 = 88.5 fits.
	a = placeOrder(t, s, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.03&price=59000")
	require.Equal(t, 200, a.status, a.body)
	// In a batch the refused element carries the error, the others go through.
	batch := `[{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","quantity":"1","price":"59000"}]`
	a = call(t, s, "POST", "/fapi/v1/batchOrders", "batchOrders="+urlEncode(batch), true, time.Now().UnixMilli(), APIKey)
	require.Equal(t, 200, a.status, a.body)
	assert.JSONEq(t, `[{"code":-2019,"msg":"Margin is insufficient."}]`, a.body)
	// Fill the first buy: the position keeps its margin; a sell up to the
	// position opens nothing and needs none.
	require.NoError(t, s.SetPrice(t.Context(), "BTCUSDT", dec("60000")))
	require.Equal(t, "0.3", s.Position("BTCUSDT", "BOTH").String())
	a = placeOrder(t, s, "side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.3&price=70000")
	require.Equal(t, 200, a.status, a.body)
	a = placeOrder(t, s, "side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.3&price=70000&reduceOnly=true")
	require.Equal(t, 200, a.status, a.body)
	// A sell beyond the position opens the rest: 0.1 × 70000 / 20 = 350.
	a = placeOrder(t, s, "side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.4&price=70000")
	assert.Equal(t, -2019, code(t, a))
	// Higher leverage frees margin.
	l := call(t, s, "POST", "/fapi/v1/leverage", "symbol=BTCUSDT&leverage=100", true, time.Now().UnixMilli(), APIKey)
	require.Equal(t, 200, l.status, l.body)
	a = placeOrder(t, s, "side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.4&price=70000")
	require.Equal(t, 200, a.status, a.body)
}

// TestFundingFee: SettleFunding charges longs and pays shorts amt × mark
// × rate and pushes ACCOUNT_UPDATE with reason FUNDING_FEE and only B.
func TestFundingFee(t *testing.T) {
	s := newLive(t)
	key := listenKey(t, s)
	c := dialWS(t, s, "/private/ws/"+key)
	defer c.Close()
	require.NoError(t, s.WaitConns(t.Context(), "private", 1))
	a := placeOrder(t, s, "side=BUY&type=MARKET&quantity=0.010")
	require.Equal(t, 200, a.status, a.body)
	_, _ = nextEvent(t, c, "ACCOUNT_UPDATE") // the fill's
	before := s.Wallet()
	require.NoError(t, s.SettleFunding(t.Context(), "BTCUSDT", dec("0.0001")))
	ev, skipped := nextEvent(t, c, "ACCOUNT_UPDATE")
	assert.Empty(t, skipped)
	// 0.010 × 60000 × 0.0001 = 0.06 paid by the long.
	assert.Equal(t, "0.06", before.Sub(s.Wallet()).String())
	want := `{"m":"FUNDING_FEE","B":[{"a":"USDT","wb":"` + f8(s.Wallet()) + `","cw":"` + f8(s.Wallet()) + `","bc":"0"}]}`
	b, _ := json.Marshal(ev["a"])
	assert.JSONEq(t, want, string(b))
	assert.NotContains(t, ev["a"], "P")
	// A negative rate pays the long.
	before = s.Wallet()
	require.NoError(t, s.SettleFunding(t.Context(), "BTCUSDT", dec("-0.0002")))
	_, _ = nextEvent(t, c, "ACCOUNT_UPDATE")
	assert.Equal(t, "0.12", s.Wallet().Sub(before).String())
	// No position, no payment and no event.
	a = placeOrder(t, s, "side=SELL&type=MARKET&quantity=0.010")
	require.Equal(t, 200, a.status, a.body)
	_, _ = nextEvent(t, c, "ACCOUNT_UPDATE")
	before = s.Wallet()
	require.NoError(t, s.SettleFunding(t.Context(), "BTCUSDT", dec("0.0001")))
	assert.True(t, before.Equal(s.Wallet()))
	assert.Empty(t, quiet(c, 100*time.Millisecond))

	// The income history has both fundings and the fills' commissions.
	inc := call(t, s, "GET", "/fapi/v1/income", "incomeType=FUNDING_FEE", true, time.Now().UnixMilli(), APIKey)
	require.Equal(t, 200, inc.status, inc.body)
	var rows []map[string]any
	require.NoError(t, jsonUnmarshal(inc.body, &rows))
	require.Len(t, rows, 2)
	assert.Equal(t, []any{"BTCUSDT", "FUNDING_FEE", "-0.06000000", "USDT", ""}, []any{rows[0]["symbol"], rows[0]["incomeType"], rows[0]["income"], rows[0]["asset"], rows[0]["tradeId"]})
	assert.Equal(t, "0.12000000", rows[1]["income"])
	inc = call(t, s, "GET", "/fapi/v1/income", "incomeType=COMMISSION&limit=1&page=2", true, time.Now().UnixMilli(), APIKey)
	require.NoError(t, jsonUnmarshal(inc.body, &rows))
	require.Len(t, rows, 1)
	assert.Equal(t, "-0.29999950", rows[0]["income"], "0.010 × 59999.9 × 0.0005, the closing sell's")
	assert.Equal(t, "61", weightOf(inc), "one listen key, then two income queries of 30")
}

// TestMarginCallAndLiquidation, hand-computed: balance 1000, a taker buy
// of 0.3 at 60000.1 (fee 9.000015), leverage 20, maintenance 0.4 %. The
// margin call ratio 0.8 is reached below 56981.7, liquidation below
// 56924.5.
func TestMarginCallAndLiquidation(t *testing.T) {
	s := newLive(t, WithBalance(dec("1000")), WithFillParts(1))
	key := listenKey(t, s)
	c := dialWS(t, s, "/private/ws/"+key)
	defer c.Close()
	require.NoError(t, s.WaitConns(t.Context(), "private", 1))
	ctx := t.Context()
	require.Equal(t, 200, placeOrder(t, s, "side=BUY&type=MARKET&quantity=0.3").status)
	rest := placeOrder(t, s, "side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.1&price=70000&newClientOrderId=keep")
	require.Equal(t, 200, rest.status, rest.body)
	_, _ = nextEvent(t, c, "ACCOUNT_UPDATE")
	_, _ = nextEvent(t, c, "ORDER_TRADE_UPDATE") // the resting sell's NEW

	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("57000")))
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("56950")))
	mc, skipped := nextEvent(t, c, "MARGIN_CALL")
	assert.Empty(t, skipped, "no event before the margin call")
	delete(mc, "E")
	b, _ := json.Marshal(mc)
	assert.JSONEq(t, `{"e":"MARGIN_CALL","cw":"990.99998500","p":[{"s":"BTCUSDT","ps":"BOTH","pa":"0.300","mt":"CROSSED","iw":"0",
		"mp":"56950.00000000","up":"-915.03000000","mm":"68.34000000"}]}`, string(b))
	// Once per crossing: still in the zone, no second call; out and back in, another.
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("56960")))
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("58000")))
	assert.Empty(t, quiet(c, 100*time.Millisecond))
	c2 := dialWS(t, s, "/private/ws/"+key) // quiet consumed c's read deadline
	defer c2.Close()
	require.NoError(t, s.WaitConns(ctx, "private", 1))
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("56950")))
	_, _ = nextEvent(t, c2, "MARGIN_CALL")

	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("56900")))
	canceled, _ := nextEvent(t, c2, "ORDER_TRADE_UPDATE")
	o := canceled["o"].(map[string]any)
	assert.Equal(t, []any{"keep", "CANCELED", "CANCELED"}, []any{o["c"], o["x"], o["X"]})
	liq, _ := nextEvent(t, c2, "ORDER_TRADE_UPDATE")
	o = liq["o"].(map[string]any)
	assert.True(t, strings.HasPrefix(o["c"].(string), "autoclose-"), o["c"])
	assert.Equal(t, []any{"SELL", "LIQUIDATION", "CALCULATED", "FILLED", "0.300", "56900.00", false},
		[]any{o["S"], o["o"], o["x"], o["X"], o["l"], o["L"], o["m"]})
	assert.True(t, s.Position("BTCUSDT", "BOTH").IsZero())
	assert.Empty(t, s.OpenOrders("BTCUSDT"))
	// 990.999985 + 0.3 × (56900 − 60000.1) − 0.3 × 56900 × 0.0005.
	assert.Equal(t, "52.434985", s.Wallet().String())
}

func urlEncode(s string) string { return url.QueryEscape(s) }
