package binancetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func modify(t *testing.T, s *Server, params string) answer {
	t.Helper()
	return call(t, s, "PUT", "/fapi/v1/order", "symbol=BTCUSDT&"+params, true, time.Now().UnixMilli(), APIKey)
}

func TestModifyOrder(t *testing.T) {
	s := newLive(t, WithFillParts(2))
	key := listenKey(t, s)
	c := dialWS(t, s, "/private/ws/"+key)
	defer c.Close()
	require.NoError(t, s.WaitConns(t.Context(), "private", 1))
	require.Equal(t, 200, placeOrder(t, s, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.004&price=59000&newClientOrderId=m1").status)
	require.Equal(t, 200, placeOrder(t, s, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.004&price=59000&newClientOrderId=m2").status)
	_, _ = nextEvent(t, c, "ORDER_TRADE_UPDATE")
	_, _ = nextEvent(t, c, "ORDER_TRADE_UPDATE")

	a := modify(t, s, "origClientOrderId=m1&side=BUY&quantity=0.005&price=59100")
	require.Equal(t, 200, a.status, a.body)
	assert.Equal(t, "1", weightOf(a), "the listen key's 1, the orders' and modification's 0")
	assert.Equal(t, "3", a.header.Get("X-Mbx-Order-Count-10s"))
	var w map[string]any
	require.NoError(t, json.Unmarshal([]byte(a.body), &w))
	assert.Equal(t, []any{"m1", "59100.00", "0.005", "NEW"}, []any{w["clientOrderId"], w["price"], w["origQty"], w["status"]})
	ev, _ := nextEvent(t, c, "ORDER_TRADE_UPDATE")
	o := ev["o"].(map[string]any)
	assert.Equal(t, []any{"m1", "AMENDMENT", "NEW", "59100.00", "0.005"}, []any{o["c"], o["x"], o["X"], o["p"], o["q"]})
	// m1 lost its priority: the open orders list it last.
	open := s.OpenOrders("BTCUSDT")
	require.Len(t, open, 2)
	assert.Equal(t, "m1", open[1].ClientOrderID)

	for _, tc := range []struct {
		params string
		code   int
	}{
		{"origClientOrderId=m1&side=BUY&quantity=0.005&price=59100", -5027},
		{"origClientOrderId=zz&side=BUY&quantity=0.005&price=59100", -2013},
		{"origClientOrderId=m1&side=SELL&quantity=0.005&price=59100", -1102},
		{"origClientOrderId=m1&side=BUY&quantity=0.005&price=59100.001", -1111},
		{"origClientOrderId=m1&side=BUY&quantity=0.005&price=59100.05", -4014},
		{"origClientOrderId=m1&side=BUY&quantity=0.0055&price=59100", -1111},
		{"origClientOrderId=m1&side=BUY&quantity=0.0055&price=59100&orderId=1", -2013},
		{"origClientOrderId=m1&side=BUY&quantity=0&price=59100", -4003},
		{"origClientOrderId=m1&side=BUY&quantity=0.001&price=40000", -5029},
		{"origClientOrderId=m1&side=BUY&quantity=100&price=59100", -2019},
	} {
		assert.Equal(t, tc.code, code(t, modify(t, s, tc.params)), tc.params)
	}
	assert.Equal(t, "59100", s.OpenOrders("BTCUSDT")[1].Price.String(), "a refused modification leaves the order")

	// Moved across the market, a GTC order fills at once as taker.
	a = modify(t, s, "origClientOrderId=m2&side=BUY&quantity=0.004&price=60100")
	require.Equal(t, 200, a.status, a.body)
	ev, _ = nextEvent(t, c, "ORDER_TRADE_UPDATE")
	assert.Equal(t, "AMENDMENT", ev["o"].(map[string]any)["x"])
	ev, _ = nextEvent(t, c, "ORDER_TRADE_UPDATE")
	o = ev["o"].(map[string]any)
	assert.Equal(t, []any{"TRADE", "FILLED", "60000.10", false}, []any{o["x"], o["X"], o["L"], o["m"]})
	assert.Equal(t, -2013, code(t, modify(t, s, "origClientOrderId=m2&side=BUY&quantity=0.004&price=59000")), "filled: no longer open")

	// A GTX order moved across the market is canceled instead.
	require.Equal(t, 200, placeOrder(t, s, "side=SELL&type=LIMIT&timeInForce=GTX&quantity=0.004&price=60100&newClientOrderId=g1").status)
	a = modify(t, s, "origClientOrderId=g1&side=SELL&quantity=0.004&price=59000")
	require.Equal(t, 200, a.status, a.body)
	assert.Contains(t, a.body, `"status":"CANCELED"`, "a GTX moved across the market is canceled")
}
