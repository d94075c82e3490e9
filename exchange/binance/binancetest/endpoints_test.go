package binancetest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fixedMs = fixedNow.UnixMilli()

// get calls a public GET endpoint; sget a signed one, both at fixedNow.
func get(t *testing.T, s *Server, path, params string) answer {
	t.Helper()
	return call(t, s, http.MethodGet, path, params, false, 0, "")
}

func sget(t *testing.T, s *Server, path, params string) answer {
	t.Helper()
	return call(t, s, http.MethodGet, path, params, true, fixedMs, APIKey)
}

func weightOf(a answer) string { return a.header.Get("X-Mbx-Used-Weight-1m") }

func newFixed(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewServer(append([]Option{WithClock(fixedClock), WithoutPeriodicStreams()}, opts...)...)
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		s.Close()
	})
	return s
}

// TestEndpointWeightsAndShapes checks each new endpoint's weight (the first
// request of a fresh server shows its own weight) and its exact payload.
func TestEndpointWeightsAndShapes(t *testing.T) {
	ts := strconv.FormatInt(fixedMs, 10)
	next := strconv.FormatInt(fixedNow.Truncate(8*3600e9).Add(8*3600e9).UnixMilli(), 10)
	five := func(first string, up bool) string {
		out := ""
		p := decimal.RequireFromString(first)
		for i := 0; i < 5; i++ {
			if i > 0 {
				out += ","
			}
			out += `["` + p.StringFixed(2) + `","1.000"]`
			if up {
				p = p.Add(decimal.RequireFromString("0.1"))
			} else {
				p = p.Sub(decimal.RequireFromString("0.1"))
			}
		}
		return out
	}
	cases := []struct {
		name, path, params string
		signed             bool
		weight             string
		want               string // exact JSON
	}{
		{"depth 5", "/fapi/v1/depth", "symbol=BTCUSDT&limit=5", false, "2",
			`{"lastUpdateId":1000001,"E":` + ts + `,"T":` + ts + `,"bids":[` + five("59999.90", false) + `],"asks":[` + five("60000.10", true) + `]}`},
		{"bookTicker", "/fapi/v1/ticker/bookTicker", "symbol=BTCUSDT", false, "2",
			`{"symbol":"BTCUSDT","bidPrice":"59999.90","bidQty":"1.000","askPrice":"60000.10","askQty":"1.000","time":` + ts + `,"lastUpdateId":1000000}`},
		{"bookTicker all", "/fapi/v1/ticker/bookTicker", "", false, "5",
			`[{"symbol":"BTCUSDT","bidPrice":"59999.90","bidQty":"1.000","askPrice":"60000.10","askQty":"1.000","time":` + ts + `,"lastUpdateId":1000000}]`},
		{"premiumIndex", "/fapi/v1/premiumIndex", "symbol=BTCUSDT", false, "1",
			`{"symbol":"BTCUSDT","markPrice":"60000.00000000","indexPrice":"60000.00000000","estimatedSettlePrice":"60000.00000000","lastFundingRate":"0.00010000","interestRate":"0.00010000","nextFundingTime":` + next + `,"time":` + ts + `}`},
		{"premiumIndex all", "/fapi/v1/premiumIndex", "", false, "10",
			`[{"symbol":"BTCUSDT","markPrice":"60000.00000000","indexPrice":"60000.00000000","estimatedSettlePrice":"60000.00000000","lastFundingRate":"0.00010000","interestRate":"0.00010000","nextFundingTime":` + next + `,"time":` + ts + `}]`},
		{"24hr without history", "/fapi/v1/ticker/24hr", "symbol=BTCUSDT", false, "1",
			`{"symbol":"BTCUSDT","priceChange":"0.00","priceChangePercent":"0.000","weightedAvgPrice":"60000.00","lastPrice":"60000.00","lastQty":"0.001","openPrice":"60000.00","highPrice":"60000.00","lowPrice":"60000.00","volume":"0.000","quoteVolume":"0.00","openTime":` + strconv.FormatInt(fixedMs-dayMs, 10) + `,"closeTime":` + ts + `,"firstId":1,"lastId":0,"count":0}`},
		{"24hr all", "/fapi/v1/ticker/24hr", "", false, "40", ``},
		{"fundingRate empty", "/fapi/v1/fundingRate", "symbol=BTCUSDT", false, "1", `[]`},
		{"positionSide/dual", "/fapi/v1/positionSide/dual", "", true, "30", `{"dualSidePosition":false}`},
		{"v3 balance", "/fapi/v3/balance", "", true, "5",
			`[{"accountAlias":"SgsR","asset":"USDT","balance":"10000.00000000","crossWalletBalance":"10000.00000000","crossUnPnl":"0.00000000","availableBalance":"10000.00000000","maxWithdrawAmount":"10000.00000000","marginAvailable":true,"updateTime":` + ts + `}]`},
		{"v2 balance", "/fapi/v2/balance", "", true, "5",
			`[{"accountAlias":"SgsR","asset":"USDT","balance":"10000.00000000","crossWalletBalance":"10000.00000000","crossUnPnl":"0.00000000","availableBalance":"10000.00000000","maxWithdrawAmount":"10000.00000000","marginAvailable":true,"updateTime":` + ts + `}]`},
		{"v2 positionRisk", "/fapi/v2/positionRisk", "symbol=BTCUSDT", true, "10",
			`[{"symbol":"BTCUSDT","positionAmt":"0.000","entryPrice":"0","breakEvenPrice":"0","markPrice":"60000.00000000","unRealizedProfit":"0.00000000","liquidationPrice":"0.00000000","leverage":"20","maxNotionalValue":"1000000000","marginType":"cross","isolatedMargin":"0.00000000","isAutoAddMargin":"false","positionSide":"BOTH","notional":"0.00000000","isolatedWallet":"0","updateTime":` + ts + `}]`},
		{"leverageBracket", "/fapi/v1/leverageBracket", "symbol=BTCUSDT", true, "1",
			`{"symbol":"BTCUSDT","notionalCoef":1.0,"brackets":[{"bracket":1,"initialLeverage":125,"notionalCap":1000000000,"notionalFloor":0,"maintMarginRatio":0.004,"cum":0.0}]}`},
		{"leverageBracket all", "/fapi/v1/leverageBracket", "", true, "1",
			`[{"symbol":"BTCUSDT","notionalCoef":1.0,"brackets":[{"bracket":1,"initialLeverage":125,"notionalCap":1000000000,"notionalFloor":0,"maintMarginRatio":0.004,"cum":0.0}]}]`},
		{"ticker/price", "/fapi/v1/ticker/price", "symbol=BTCUSDT", false, "1", `{"symbol":"BTCUSDT","price":"60000.00","time":` + ts + `}`},
		{"v2 ticker/price all", "/fapi/v2/ticker/price", "", false, "2", `[{"symbol":"BTCUSDT","price":"60000.00","time":` + ts + `}]`},
		{"commissionRate", "/fapi/v1/commissionRate", "symbol=BTCUSDT", true, "20", `{"symbol":"BTCUSDT","makerCommissionRate":"0.0002","takerCommissionRate":"0.0005"}`},
		{"allOrders empty", "/fapi/v1/allOrders", "symbol=BTCUSDT", true, "5", `[]`},
		{"rateLimit/order", "/fapi/v1/rateLimit/order", "", true, "1",
			`[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":300},{"rateLimitType":"ORDERS","interval":"MINUTE","intervalNum":1,"limit":1200}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newFixed(t)
			var a answer
			if c.signed {
				a = sget(t, s, c.path, c.params)
			} else {
				a = get(t, s, c.path, c.params)
			}
			require.Equal(t, 200, a.status, a.body)
			assert.Equal(t, c.weight, weightOf(a))
			if c.want != "" {
				assert.JSONEq(t, c.want, a.body)
			}
		})
	}
}

func TestDepthWeightsAndLimits(t *testing.T) {
	for _, c := range []struct {
		limit, weight string
		levels        int
	}{{"", "10", 20}, {"10", "2", 10}, {"50", "2", 20}, {"100", "5", 20}, {"500", "10", 20}, {"1000", "20", 20}} {
		s := newFixed(t)
		a := get(t, s, "/fapi/v1/depth", "symbol=BTCUSDT&limit="+c.limit)
		require.Equal(t, 200, a.status, a.body)
		assert.Equal(t, c.weight, weightOf(a), "limit %s", c.limit)
		var d struct{ Bids, Asks [][2]string }
		require.NoError(t, jsonUnmarshal(a.body, &d))
		assert.Len(t, d.Bids, c.levels, "limit %s", c.limit)
		assert.Len(t, d.Asks, c.levels, "limit %s", c.limit)
	}
	s := newFixed(t)
	for _, bad := range []string{"0", "1001", "x"} {
		a := get(t, s, "/fapi/v1/depth", "symbol=BTCUSDT&limit="+bad)
		assert.Equal(t, 400, a.status)
		assert.Equal(t, -1130, code(t, a), "limit %s", bad)
	}
	assert.Equal(t, -1121, code(t, get(t, s, "/fapi/v1/depth", "symbol=NOPE")))
}

// TestDepthShowsRestingOrders: the account's resting orders join the
// market makers' levels, and leave them when canceled.
func TestDepthShowsRestingOrders(t *testing.T) {
	s := newFixed(t)
	a := call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59999.9&newClientOrderId=d1", true, fixedMs, APIKey)
	require.Equal(t, 200, a.status, a.body)
	a = call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.005&price=61000&newClientOrderId=d2", true, fixedMs, APIKey)
	require.Equal(t, 200, a.status, a.body)
	var d struct {
		LastUpdateID int64 `json:"lastUpdateId"`
		Bids, Asks   [][2]string
	}
	require.NoError(t, jsonUnmarshal(get(t, s, "/fapi/v1/depth", "symbol=BTCUSDT&limit=1000").body, &d))
	assert.Equal(t, [2]string{"59999.90", "1.002"}, d.Bids[0])
	assert.Equal(t, [2]string{"61000.00", "0.005"}, d.Asks[len(d.Asks)-1])
	assert.Len(t, d.Asks, 21)
	assert.Equal(t, int64(1000005), d.LastUpdateID, "two changes, two IDs each")
	bt := get(t, s, "/fapi/v1/ticker/bookTicker", "symbol=BTCUSDT")
	assert.Contains(t, bt.body, `"bidQty":"1.002"`)
	a = call(t, s, "DELETE", "/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=d2", true, fixedMs, APIKey)
	require.Equal(t, 200, a.status, a.body)
	require.NoError(t, jsonUnmarshal(get(t, s, "/fapi/v1/depth", "symbol=BTCUSDT&limit=1000").body, &d))
	assert.Len(t, d.Asks, 20)
}

func TestTicker24hFromHistory(t *testing.T) {
	at := func(min int) int64 { return fixedNow.Truncate(60e9).Add(-3*60e9).UnixMilli() + int64(min)*minuteMs }
	row := func(min int, o, h, l, c, v, q string, n int) string {
		return strconv.FormatInt(at(min), 10) + "," + o + "," + h + "," + l + "," + c + "," + v + "," +
			strconv.FormatInt(at(min)+59999, 10) + "," + q + "," + strconv.Itoa(n) + ",0,0,0\n"
	}
	old := strconv.FormatInt(at(0)-dayMs, 10) // before the window
	file := old + ",1,1,1,1,5,0,1,1,0,0,0\n" +
		row(0, "100.0", "105.0", "99.0", "104.0", "2", "204", 3) +
		row(1, "104.0", "110.0", "103.0", "106.0", "1", "106", 2) +
		row(2, "106.0", "107.0", "95.0", "96.0", "2", "200", 5)
	s := newFixed(t, WithSymbol(Symbol{Name: "BTCUSDT", MinPrice: decimal.RequireFromString("0.1")}), WithKlineFile("BTCUSDT", "1m", stringsReader(file)))
	a := get(t, s, "/fapi/v1/ticker/24hr", "symbol=BTCUSDT")
	require.Equal(t, 200, a.status, a.body)
	assert.JSONEq(t, `{"symbol":"BTCUSDT","priceChange":"-4.00","priceChangePercent":"-4.000","weightedAvgPrice":"102.00",
		"lastPrice":"96.00","lastQty":"0.001","openPrice":"100.00","highPrice":"110.00","lowPrice":"95.00","volume":"5.000",
		"quoteVolume":"510.00","openTime":`+strconv.FormatInt(fixedMs-dayMs, 10)+`,"closeTime":`+strconv.FormatInt(fixedMs, 10)+`,
		"firstId":2,"lastId":11,"count":10}`, a.body)
}

func TestFundingRateHistory(t *testing.T) {
	s := newFixed(t)
	ctx := context.Background()
	require.NoError(t, s.SettleFunding(ctx, "BTCUSDT", decimal.RequireFromString("0.0003")))
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", decimal.RequireFromString("61000")))
	require.NoError(t, s.SettleFunding(ctx, "BTCUSDT", decimal.RequireFromString("-0.0001")))
	ts := strconv.FormatInt(fixedMs, 10)
	a := get(t, s, "/fapi/v1/fundingRate", "symbol=BTCUSDT")
	assert.JSONEq(t, `[{"symbol":"BTCUSDT","fundingRate":"0.00030000","fundingTime":`+ts+`,"markPrice":"60000.00000000"},
		{"symbol":"BTCUSDT","fundingRate":"-0.00010000","fundingTime":`+ts+`,"markPrice":"61000.00000000"}]`, a.body)
	a = get(t, s, "/fapi/v1/fundingRate", "limit=1")
	assert.JSONEq(t, `[{"symbol":"BTCUSDT","fundingRate":"-0.00010000","fundingTime":`+ts+`,"markPrice":"61000.00000000"}]`, a.body)
	a = get(t, s, "/fapi/v1/fundingRate", "startTime="+strconv.FormatInt(fixedMs+1, 10))
	assert.Equal(t, "[]", a.body)
	assert.Contains(t, get(t, s, "/fapi/v1/premiumIndex", "symbol=BTCUSDT").body, `"lastFundingRate":"-0.00010000"`)
	assert.Equal(t, -1130, code(t, get(t, s, "/fapi/v1/fundingRate", "limit=1001")))
	assert.Error(t, s.SettleFunding(ctx, "NOPE", decimal.Zero))
}

func TestMarginType(t *testing.T) {
	s := newFixed(t)
	post := func(params string) answer {
		return call(t, s, "POST", "/fapi/v1/marginType", params, true, fixedMs, APIKey)
	}
	a := post("symbol=BTCUSDT&marginType=ISOLATED")
	require.Equal(t, 200, a.status, a.body)
	assert.Equal(t, "1", weightOf(a))
	assert.JSONEq(t, `{"code":200,"msg":"success"}`, a.body)
	assert.Equal(t, -4046, code(t, post("symbol=BTCUSDT&marginType=ISOLATED")))
	assert.Equal(t, -1102, code(t, post("symbol=BTCUSDT&marginType=cross")))
	assert.Equal(t, -1121, code(t, post("symbol=NOPE&marginType=CROSSED")))
	assert.Contains(t, sget(t, s, "/fapi/v1/symbolConfig", "symbol=BTCUSDT").body, `"marginType":"ISOLATED"`)
	assert.Contains(t, sget(t, s, "/fapi/v2/positionRisk", "").body, `"marginType":"isolated"`)
	o := call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000", true, fixedMs, APIKey)
	require.Equal(t, 200, o.status, o.body)
	assert.Equal(t, -4047, code(t, post("symbol=BTCUSDT&marginType=CROSSED")))
	call(t, s, "DELETE", "/fapi/v1/allOpenOrders", "symbol=BTCUSDT", true, fixedMs, APIKey)
	o = call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.002", true, fixedMs, APIKey)
	require.Equal(t, 200, o.status, o.body)
	assert.Equal(t, -4048, code(t, post("symbol=BTCUSDT&marginType=CROSSED")))
}

// TestAccountMargins: a hand-computed account after a taker buy of 0.010
// at the ask 60000.10 with leverage 20: fee 0.3000005, position IM
// 600 / 20 = 30, maintenance 600 × 0.004 = 2.4, unrealized
// 0.01 × (60000 − 60000.1) = −0.001.
func TestAccountMargins(t *testing.T) {
	s := newFixed(t)
	o := call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.010", true, fixedMs, APIKey)
	require.Equal(t, 200, o.status, o.body)
	// A resting sell of 0.015 against the long opens 0.005: IM 0.005 × 62000 / 20 = 15.5.
	o = call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.015&price=62000", true, fixedMs, APIKey)
	require.Equal(t, 200, o.status, o.body)
	for _, path := range []string{"/fapi/v2/account", "/fapi/v3/account"} {
		a := sget(t, s, path, "")
		require.Equal(t, 200, a.status, a.body)
		var acc map[string]any
		require.NoError(t, jsonUnmarshal(a.body, &acc))
		for k, v := range map[string]string{
			"totalWalletBalance": "9999.69999950", "totalUnrealizedProfit": "-0.00100000", "totalMarginBalance": "9999.69899950",
			"totalPositionInitialMargin": "30.00000000", "totalOpenOrderInitialMargin": "15.50000000", "totalInitialMargin": "45.50000000",
			"totalMaintMargin": "2.40000000", "availableBalance": "9954.19899950",
		} {
			assert.Equal(t, v, acc[k], "%s %s", path, k)
		}
		pos := acc["positions"].([]any)[0].(map[string]any)
		assert.Equal(t, "0.010", pos["positionAmt"], path)
		assert.Equal(t, "45.50000000", pos["initialMargin"], path)
		if path == "/fapi/v2/account" {
			assert.Equal(t, "20", pos["leverage"])
			assert.Equal(t, "60000.1", pos["entryPrice"])
			assert.Equal(t, true, acc["canTrade"])
			assert.Equal(t, "10", weightOf(a))
		} else {
			assert.NotContains(t, pos, "leverage")
			assert.Equal(t, "15", weightOf(a), "orders weigh 0, v2 10, v3 5")
		}
	}
}

// TestV2ListsEverySymbol: v2 lists every symbol and side, v3 only those
// with a position or open orders.
func TestV2ListsEverySymbol(t *testing.T) {
	eth := Symbol{Name: "ETHUSDT", TickSize: decimal.RequireFromString("0.01"), Price: decimal.RequireFromString("3000")}
	s := newFixed(t, WithSymbol(BTCUSDT()), WithSymbol(eth), WithHedgeMode())
	var v2, v3 []map[string]any
	require.NoError(t, jsonUnmarshal(sget(t, s, "/fapi/v2/positionRisk", "").body, &v2))
	require.NoError(t, jsonUnmarshal(sget(t, s, "/fapi/v3/positionRisk", "").body, &v3))
	require.Len(t, v2, 4)
	assert.Equal(t, []any{"BTCUSDT", "LONG", "BTCUSDT", "SHORT", "ETHUSDT", "LONG", "ETHUSDT", "SHORT"},
		[]any{v2[0]["symbol"], v2[0]["positionSide"], v2[1]["symbol"], v2[1]["positionSide"], v2[2]["symbol"], v2[2]["positionSide"], v2[3]["symbol"], v2[3]["positionSide"]})
	assert.Empty(t, v3)
	assert.Equal(t, `{"dualSidePosition":true}`, sget(t, s, "/fapi/v1/positionSide/dual", "").body)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func TestOpenOrderAndAllOrders(t *testing.T) {
	s := newFixed(t)
	for _, cid := range []string{"a1", "a2", "a3"} {
		a := call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000&newClientOrderId="+cid, true, fixedMs, APIKey)
		require.Equal(t, 200, a.status, a.body)
	}
	a := call(t, s, "DELETE", "/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=a2", true, fixedMs, APIKey)
	require.Equal(t, 200, a.status, a.body)
	open := sget(t, s, "/fapi/v1/openOrder", "symbol=BTCUSDT&origClientOrderId=a1")
	require.Equal(t, 200, open.status, open.body)
	assert.Contains(t, open.body, `"status":"NEW"`)
	assert.Equal(t, -2013, code(t, sget(t, s, "/fapi/v1/openOrder", "symbol=BTCUSDT&origClientOrderId=a2")), "canceled: not open")
	assert.Equal(t, -2013, code(t, sget(t, s, "/fapi/v1/openOrder", "symbol=BTCUSDT&origClientOrderId=zz")))
	var all []struct {
		OrderID       int64  `json:"orderId"`
		ClientOrderID string `json:"clientOrderId"`
		Status        string `json:"status"`
	}
	require.NoError(t, jsonUnmarshal(sget(t, s, "/fapi/v1/allOrders", "symbol=BTCUSDT").body, &all))
	require.Len(t, all, 3)
	assert.Equal(t, []string{"a1", "a2", "a3"}, []string{all[0].ClientOrderID, all[1].ClientOrderID, all[2].ClientOrderID})
	assert.Equal(t, "CANCELED", all[1].Status)
	require.NoError(t, jsonUnmarshal(sget(t, s, "/fapi/v1/allOrders", "symbol=BTCUSDT&limit=1&orderId="+strconv.FormatInt(all[1].OrderID, 10)).body, &all))
	require.Len(t, all, 1)
	assert.Equal(t, "a2", all[0].ClientOrderID)
	assert.Equal(t, -4166, code(t, sget(t, s, "/fapi/v1/allOrders", "symbol=BTCUSDT&startTime=1&endTime="+strconv.FormatInt(fixedMs, 10))))
	assert.Equal(t, -1130, code(t, sget(t, s, "/fapi/v1/allOrders", "symbol=BTCUSDT&limit=1001")))
}
