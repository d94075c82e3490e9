package binancetest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func listenKey(t *testing.T, s *Server) string {
	t.Helper()
	a := call(t, s, "POST", "/fapi/v1/listenKey", "", false, 0, APIKey)
	var k struct{ ListenKey string }
	require.NoError(t, jsonUnmarshal(a.body, &k))
	require.Len(t, k.ListenKey, 64)
	return k.ListenKey
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	require.NoError(t, c.WriteMessage(websocket.TextMessage, []byte(msg)))
}

func readRaw(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ReadMessage()
	require.NoError(t, err)
	return string(b)
}

// quiet reads until d of silence and returns what came.
func quiet(c *websocket.Conn, d time.Duration) []string {
	var out []string
	for {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, b, err := c.ReadMessage()
		if err != nil {
			return out
		}
		out = append(out, string(b))
	}
}

func placeMarket(t *testing.T, s *Server, side, qty string) {
	t.Helper()
	a := call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side="+side+"&type=MARKET&quantity="+qty, true, time.Now().UnixMilli(), APIKey)
	require.Equal(t, 200, a.status, a.body)
}

func newLive(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewServer(append([]Option{WithoutPeriodicStreams()}, opts...)...)
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		s.Close()
	})
	return s
}

// TestPrivateStreamJSONSubscribe: the official SDK's way, a connection to
// /private/stream without a key that subscribes the key by JSON with a
// string id, then gets ORDER_TRADE_UPDATE wrapped as {"stream","data"}.
func TestPrivateStreamJSONSubscribe(t *testing.T) {
	s := newLive(t)
	key := listenKey(t, s)
	c := dialWS(t, s, "/private/stream")
	defer c.Close()
	id := "5494febb-d167-46a2-996d-70533eb4d976"
	send(t, c, `{"method":"SUBSCRIBE","params":["`+key+`"],"id":"`+id+`"}`)
	assert.JSONEq(t, `{"result":null,"id":"`+id+`"}`, readRaw(t, c))
	send(t, c, `{"method":"LIST_SUBSCRIPTIONS","id":2}`)
	assert.JSONEq(t, `{"result":["`+key+`"],"id":2}`, readRaw(t, c))
	placeMarket(t, s, "BUY", "0.002")
	var frames []map[string]any
	for i := 0; i < 3; i++ {
		var f map[string]any
		require.NoError(t, json.Unmarshal([]byte(readRaw(t, c)), &f))
		frames = append(frames, f)
	}
	require.Len(t, frames, 3, "NEW, TRADE, ACCOUNT_UPDATE")
	for _, f := range frames {
		assert.Equal(t, key, f["stream"])
		require.IsType(t, map[string]any{}, f["data"])
	}
	d0, d1 := frames[0]["data"].(map[string]any), frames[1]["data"].(map[string]any)
	assert.Equal(t, "ORDER_TRADE_UPDATE", d0["e"])
	assert.Equal(t, "NEW", d0["o"].(map[string]any)["x"])
	assert.Equal(t, "TRADE", d1["o"].(map[string]any)["x"])
	assert.Equal(t, "FILLED", d1["o"].(map[string]any)["X"])
	// UNSUBSCRIBE stops the events.
	send(t, c, `{"method":"UNSUBSCRIBE","params":["`+key+`"],"id":null}`)
	assert.JSONEq(t, `{"result":null,"id":null}`, readRaw(t, c))
	placeMarket(t, s, "SELL", "0.002")
	assert.Empty(t, quiet(c, 100*time.Millisecond))
}

func TestPrivateStreamEventFilters(t *testing.T) {
	s := newLive(t)
	key := listenKey(t, s)
	orders := dialWS(t, s, "/private/ws?listenKey="+key+"&events=ORDER_TRADE_UPDATE")
	defer orders.Close()
	accounts := dialWS(t, s, "/private/stream?listenKey="+key+"&events=ACCOUNT_UPDATE/MARGIN_CALL")
	defer accounts.Close()
	all := dialWS(t, s, "/private/ws/"+key)
	defer all.Close()
	pathOrders := dialWS(t, s, "/private/ws/"+key+"?events=ORDER_TRADE_UPDATE")
	defer pathOrders.Close()
	placeMarket(t, s, "BUY", "0.002")
	events := func(c *websocket.Conn, n int, wrapped bool) []string {
		var out []string
		for i := 0; i < n; i++ {
			var f map[string]any
			require.NoError(t, json.Unmarshal([]byte(readRaw(t, c)), &f))
			if wrapped {
				assert.Equal(t, key, f["stream"])
				f, _ = f["data"].(map[string]any)
			}
			out = append(out, f["e"].(string))
		}
		return out
	}
	assert.Equal(t, []string{"ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE"}, events(orders, 2, false))
	assert.Equal(t, []string{"ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE"}, events(pathOrders, 2, false))
	assert.Equal(t, []string{"ACCOUNT_UPDATE"}, events(accounts, 1, true))
	assert.Equal(t, []string{"ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"}, events(all, 3, false))
	s.PushUserEvent([]byte(`{"e":"MARGIN_CALL","E":1,"cw":"3","p":[]}`))
	assert.Equal(t, []string{"MARGIN_CALL"}, events(accounts, 1, true))
	assert.Equal(t, []string{"MARGIN_CALL"}, events(all, 1, false))
	s.ExpireListenKey()
	assert.Contains(t, readRaw(t, orders), `"e":"listenKeyExpired"`, "expiry passes every filter")
	assert.Contains(t, readRaw(t, accounts), `"e":"listenKeyExpired"`, "expiry passes every filter")
	assert.Contains(t, readRaw(t, pathOrders), `"e":"listenKeyExpired"`, "expiry passes every filter")
	assert.Empty(t, quiet(orders, 100*time.Millisecond), "the filter let other events through")
	assert.Empty(t, quiet(pathOrders, 50*time.Millisecond), "the filter let other events through")
	assert.Empty(t, quiet(accounts, 50*time.Millisecond), "the filter let other events through")
	// A bad key in the URL refuses the handshake.
	_, resp, err := websocket.DefaultDialer.Dial(s.WSURL()+"/private/stream?listenKey=nope&events=ACCOUNT_UPDATE", nil)
	require.Error(t, err)
	assert.Equal(t, 400, resp.StatusCode)
}

// TestControlIDs: ids may be unsigned integers, strings of up to 36
// characters or null (echoed as sent); anything else is the sheet's
// error.
func TestControlIDs(t *testing.T) {
	s := newLive(t)
	c := dialWS(t, s, "/market/ws")
	defer c.Close()
	badID := `{"code":2,"msg":"Invalid request: request ID must be an unsigned integer"}`
	for _, tc := range []struct{ id, want string }{
		{`7`, `{"result":null,"id":7}`},
		{`0`, `{"result":null,"id":0}`},
		{`18446744073709551615`, `{"result":null,"id":18446744073709551615}`},
		{`"abc"`, `{"result":null,"id":"abc"}`},
		{`""`, `{"result":null,"id":""}`},
		{`"` + strings.Repeat("x", 36) + `"`, `{"result":null,"id":"` + strings.Repeat("x", 36) + `"}`},
		{`null`, `{"result":null,"id":null}`},
		{`"` + strings.Repeat("x", 37) + `"`, badID},
		{`-1`, badID},
		{`1.5`, badID},
		{`1e3`, badID},
		{`18446744073709551616`, badID},
		{`true`, badID},
		{`{}`, badID},
		{`[1]`, badID},
	} {
		send(t, c, `{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":`+tc.id+`}`)
		got := readRaw(t, c)
		assert.JSONEq(t, tc.want, got, "id %s", tc.id)
		if strings.Contains(tc.id, "18446744073709551615") {
			assert.Contains(t, got, "18446744073709551615", "a uint64 id is echoed exactly")
		}
	}
	send(t, c, `{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"]}`)
	assert.JSONEq(t, `{"result":null,"id":null}`, readRaw(t, c), "an absent id is null")
	for msg, want := range map[string]string{
		`nope`:                    `{"code":3,"msg":"Invalid JSON: expected value"}`,
		`{"params":[],"id":1}`:    "{\"code\":2,\"msg\":\"Invalid request: missing field `method`\"}",
		`{"method":"FOO","id":1}`: `{"code":2,"msg":"Invalid request: unknown method"}`,
		`{"method":"SUBSCRIBE","params":[1],"id":1}`:                   `{"code":2,"msg":"Invalid request: params must be a list of strings"}`,
		`{"method":"GET_PROPERTY","params":["nope"],"id":1}`:           `{"code":0,"msg":"Unknown property"}`,
		`{"method":"SET_PROPERTY","params":["combined","yes"],"id":1}`: `{"code":1,"msg":"Invalid value type: expected Boolean"}`,
	} {
		send(t, c, msg)
		assert.JSONEq(t, want, readRaw(t, c), msg)
	}
	// An unknown listen key on /private is refused with the id.
	p := dialWS(t, s, "/private/stream")
	defer p.Close()
	send(t, p, `{"method":"SUBSCRIBE","params":["nokey"],"id":"k"}`)
	assert.JSONEq(t, `{"code":-1125,"msg":"This listenKey does not exist.","id":"k"}`, readRaw(t, p))
}

// TestCombinedProperty: SET_PROPERTY combined switches the wrapping of a
// raw connection.
func TestCombinedProperty(t *testing.T) {
	s := newLive(t)
	c := dialWS(t, s, "/market/ws/btcusdt@aggTrade")
	defer c.Close()
	send(t, c, `{"method":"GET_PROPERTY","params":["combined"],"id":1}`)
	assert.JSONEq(t, `{"result":false,"id":1}`, readRaw(t, c))
	send(t, c, `{"method":"SET_PROPERTY","params":["combined",true],"id":2}`)
	assert.JSONEq(t, `{"result":null,"id":2}`, readRaw(t, c))
	require.NoError(t, s.SetPrice(t.Context(), "BTCUSDT", dec("60100")))
	var f struct {
		Stream string         `json:"stream"`
		Data   map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(readRaw(t, c)), &f))
	assert.Equal(t, "btcusdt@aggTrade", f.Stream)
	assert.Equal(t, "aggTrade", f.Data["e"])
}

// TestLegacyPaths: the unrouted /ws and /stream carry market streams and,
// by the listen key as a stream name, user data.
func TestLegacyPaths(t *testing.T) {
	s := newLive(t)
	key := listenKey(t, s)
	u := dialWS(t, s, "/ws/"+key)
	defer u.Close()
	m := dialWS(t, s, "/stream?streams=btcusdt@markPrice/btcusdt@bookTicker")
	defer m.Close()
	require.NoError(t, s.WaitConns(t.Context(), "", 2))
	placeMarket(t, s, "BUY", "0.002")
	assert.Contains(t, readRaw(t, u), `"e":"ORDER_TRADE_UPDATE"`)
	require.NoError(t, s.SetPrice(t.Context(), "BTCUSDT", dec("60100")))
	got := []string{readRaw(t, m), readRaw(t, m)}
	assert.Contains(t, strings.Join(got, " "), `"stream":"btcusdt@markPrice"`)
	assert.Contains(t, strings.Join(got, " "), `"stream":"btcusdt@bookTicker"`)
}

func FuzzControl(f *testing.F) {
	for _, seed := range []string{`{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1}`, `{"method":"LIST_SUBSCRIPTIONS","id":"x"}`,
		`{"method":"SET_PROPERTY","params":["combined",true],"id":null}`, `{"id":-1}`, `[]`, `nope`} {
		f.Add([]byte(seed))
	}
	s := NewServer(WithoutPeriodicStreams())
	defer s.Close()
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, route := range []string{"market", "private", ""} {
			c := &wsConn{route: route, streams: map[string]bool{}, users: map[string]map[string]bool{}}
			ans := s.control(c, msg)
			if !json.Valid(ans) {
				t.Fatalf("answer %q to %q is not JSON", ans, msg)
			}
			if len(c.streams)+len(c.users) > maxStreams {
				t.Fatalf("%d streams", len(c.streams)+len(c.users))
			}
		}
	})
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestKeyParams(t *testing.T) {
	got := keyParams("listenKey=k1&events=ORDER_TRADE_UPDATE&listenKey=k2&events=ACCOUNT_UPDATE/MARGIN_CALL&listenKey=k3&x=1")
	require.Len(t, got, 3)
	assert.Equal(t, keyParam{key: "k1", events: map[string]bool{"ORDER_TRADE_UPDATE": true}}, got[0])
	assert.Equal(t, keyParam{key: "k2", events: map[string]bool{"ACCOUNT_UPDATE": true, "MARGIN_CALL": true}}, got[1])
	assert.Equal(t, keyParam{key: "k3"}, got[2])
	assert.Empty(t, keyParams("events=ORDER_TRADE_UPDATE"), "a filter without a key")
	assert.Equal(t, map[string]bool{"ACCOUNT_UPDATE": true}, pathEvents("events=ACCOUNT_UPDATE"))
	assert.Nil(t, pathEvents("listenKey=k&events=ACCOUNT_UPDATE"))
	assert.Nil(t, pathEvents(""))
}

func FuzzKeyParams(f *testing.F) {
	f.Add("listenKey=k1&events=ORDER_TRADE_UPDATE&listenKey=k2")
	f.Add("events=%zz&listenKey=%41")
	f.Fuzz(func(t *testing.T, q string) {
		ps := keyParams(q)
		n := 0
		for _, part := range strings.Split(q, "&") {
			if name, _, _ := strings.Cut(part, "="); name == "listenKey" {
				n++
			}
		}
		if len(ps) > n {
			t.Fatalf("%d keys from %d listenKey parameters in %q", len(ps), n, q)
		}
		_ = pathEvents(q)
	})
}
