package binancetest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/shopspring/decimal"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var fixedNow = time.Date(2026, 11, 1, 12, 0, 15, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

type answer struct {
	status int
	header http.Header
	body   string
}

// call sends one request; signed requests carry timestamp (ms) and a
// signature over query+body (in the body for POST/PUT).
func call(t *testing.T, s *Server, method, path, params string, signed bool, ts int64, key string) answer {
	t.Helper()
	if signed {
		if params != "" {
			params += "&"
		}
		params += "recvWindow=5000&timestamp=" + strconv.FormatInt(ts, 10)
		mac := hmac.New(sha256.New, []byte(APISecret))
		mac.Write([]byte(params))
		params += "&signature=" + hex.EncodeToString(mac.Sum(nil))
	}
	target := s.URL() + path
	var body io.Reader
	if method == http.MethodGet || method == http.MethodDelete {
		if params != "" {
			target += "?" + params
		}
	} else {
		body = strings.NewReader(params)
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if key != "" {
		req.Header.Set("X-MBX-APIKEY", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func code(t *testing.T, a answer) int {
	t.Helper()
	var e struct{ Code int }
	if err := json.Unmarshal([]byte(a.body), &e); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	return e.Code
}

func TestSecurityChecks(t *testing.T) {
	s := NewServer(WithClock(fixedClock))
	defer s.Close()
	http.DefaultClient.CloseIdleConnections()
	defer http.DefaultClient.CloseIdleConnections()
	now := fixedNow.UnixMilli()
	good := call(t, s, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT", true, now, APIKey)
	if good.status != 200 || good.body != "[]" || good.header.Get("X-Mbx-Used-Weight-1m") != "1" {
		t.Fatalf("signed request = %+v", good)
	}
	cases := []struct {
		name   string
		a      answer
		status int
		code   int
	}{
		{"no API key", call(t, s, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT", true, now, ""), 401, -2015},
		{"wrong API key", call(t, s, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT", true, now, "nope"), 401, -2015},
		{"unsigned", call(t, s, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT&timestamp=1", false, 0, APIKey), 400, -1102},
		{"tampered", call(t, s, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT&timestamp="+strconv.FormatInt(now, 10)+"&signature=00", false, 0, APIKey), 400, -1022},
		{"stale timestamp", call(t, s, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT", true, now-5001, APIKey), 400, -1021},
		{"timestamp 1 s ahead", call(t, s, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT", true, now+1000, APIKey), 400, -1021},
		{"unknown symbol", call(t, s, "GET", "/fapi/v1/order", "symbol=NOPE&origClientOrderId=x", true, now, APIKey), 400, -1121},
		{"listenKey without key", call(t, s, "POST", "/fapi/v1/listenKey", "", false, 0, ""), 401, -2015},
		{"keepalive without listen key", call(t, s, "PUT", "/fapi/v1/listenKey", "", false, 0, APIKey), 400, -1125},
	}
	for _, c := range cases {
		if c.a.status != c.status || code(t, c.a) != c.code {
			t.Errorf("%s: %d %s, want %d code %d", c.name, c.a.status, c.a.body, c.status, c.code)
		}
	}
	// The signature may also sit in the body, covering query ‖ body.
	q := "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
	b := "quantity=0.002&price=59000.0&newClientOrderId=split&recvWindow=5000&timestamp=" + strconv.FormatInt(now, 10)
	mac := hmac.New(sha256.New, []byte(APISecret))
	mac.Write([]byte(q + b))
	req, _ := http.NewRequest("POST", s.URL()+"/fapi/v1/order?"+q, strings.NewReader(b+"&signature="+hex.EncodeToString(mac.Sum(nil))))
	req.Header.Set("X-MBX-APIKEY", APIKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"clientOrderId":"split"`) || resp.Header.Get("X-Mbx-Order-Count-10s") != "1" {
		t.Errorf("query+body signed order: %d %s", resp.StatusCode, body)
	}
}

func TestOrderValidation(t *testing.T) {
	s := NewServer(WithClock(fixedClock))
	defer s.Close()
	defer http.DefaultClient.CloseIdleConnections()
	now := fixedNow.UnixMilli()
	place := func(p string) answer {
		return call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&"+p, true, now, APIKey)
	}
	if a := place("side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000&newClientOrderId=dup"); a.status != 200 {
		t.Fatalf("valid order: %+v", a)
	}
	cases := []struct {
		params string
		code   int
	}{
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000&newClientOrderId=dup", -4116},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000&newClientOrderId=bad%20id", -4015},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000&newClientOrderId=" + strings.Repeat("a", 37), -4015},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000.05", -4014},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000.001", -1111},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.0025", -1111},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=1e5", -1100},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0&price=59000", -4003},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=2000&price=59000", -4005},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=100", -4013},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.0001&price=59000", -1111},
		{"side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=40000", -4164},
		{"side=BUY&type=LIMIT&quantity=0.002&price=59000", -1102},
		{"side=BUY&type=STOP_MARKET&quantity=0.002", -4120},
		{"side=UP&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000", -1117},
		{"side=BUY&type=LIMIT&timeInForce=GTX&quantity=0.002&price=60000.1", -5022},
		{"side=SELL&type=LIMIT&timeInForce=GTX&quantity=0.002&price=59999.9", -5022},
		{"side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.002&price=61000&reduceOnly=true", -2022},
		{"side=BUY&positionSide=LONG&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000", -4061},
	}
	for _, c := range cases {
		a := place(c.params)
		if a.status != 400 || code(t, a) != c.code {
			t.Errorf("%s: %d %s, want code %d", c.params, a.status, a.body, c.code)
		}
	}
	// The order price "59000" is echoed with the symbol's precision.
	q := call(t, s, "GET", "/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=dup", true, now, APIKey)
	if !strings.Contains(q.body, `"price":"59000.00"`) || !strings.Contains(q.body, `"status":"NEW"`) {
		t.Errorf("query = %s", q.body)
	}

	h := NewServer(WithClock(fixedClock), WithHedgeMode())
	defer h.Close()
	a := call(t, h, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&positionSide=LONG&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000&reduceOnly=false", true, now, APIKey)
	if a.status != 400 || code(t, a) != -1106 {
		t.Errorf("reduceOnly in hedge mode: %s", a.body)
	}
	a = call(t, h, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=59000", true, now, APIKey)
	if a.status != 400 || code(t, a) != -4061 {
		t.Errorf("no positionSide in hedge mode: %s", a.body)
	}
}

func TestWeightLimit(t *testing.T) {
	s := NewServer(WithClock(fixedClock), WithWeightLimit(3))
	defer s.Close()
	defer http.DefaultClient.CloseIdleConnections()
	for i := 0; i < 3; i++ {
		if a := call(t, s, "GET", "/fapi/v1/time", "", false, 0, ""); a.status != 200 {
			t.Fatalf("request %d: %+v", i, a)
		}
	}
	a := call(t, s, "GET", "/fapi/v1/time", "", false, 0, "")
	if a.status != 429 || code(t, a) != -1003 || a.header.Get("Retry-After") != "45" {
		t.Errorf("over the weight: %d %s Retry-After %q", a.status, a.body, a.header.Get("Retry-After"))
	}
}

// TestPositionsAndWallet follows a round trip: buy 0.010 at 59000 (maker),
// sell it at 61000 (maker): realized 20, fees 0.0002 × (590 + 610) = 0.24.
func TestPositionsAndWallet(t *testing.T) {
	s := NewServer(WithFillParts(3))
	defer s.Close()
	defer http.DefaultClient.CloseIdleConnections()
	ctx := context.Background()
	now := time.Now().UnixMilli()
	if a := call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.010&price=59000&newClientOrderId=in", true, now, APIKey); a.status != 200 {
		t.Fatal(a.body)
	}
	if err := s.SetPrice(ctx, "BTCUSDT", decimal.RequireFromString("58000")); err != nil {
		t.Fatal(err)
	}
	if p := s.Position("BTCUSDT", "BOTH"); !p.Equal(decimal.RequireFromString("0.01")) {
		t.Fatalf("position = %s", p)
	}
	tr := call(t, s, "GET", "/fapi/v1/userTrades", "symbol=BTCUSDT", true, now, APIKey)
	var trades []struct {
		Qty, Price string
		Maker      bool
	}
	if err := json.Unmarshal([]byte(tr.body), &trades); err != nil || len(trades) != 3 {
		t.Fatalf("trades = %s", tr.body)
	}
	if trades[0].Qty != "0.003" || trades[2].Qty != "0.004" || trades[0].Price != "59000.00" || !trades[0].Maker {
		t.Errorf("fills in parts = %+v", trades)
	}
	if a := call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.010&price=61000&reduceOnly=true&newClientOrderId=out", true, now, APIKey); a.status != 200 {
		t.Fatal(a.body)
	}
	if err := s.SetPrice(ctx, "BTCUSDT", decimal.RequireFromString("61000")); err != nil {
		t.Fatal(err)
	}
	if p := s.Position("BTCUSDT", "BOTH"); !p.IsZero() {
		t.Errorf("position after exit = %s", p)
	}
	if w := s.Wallet(); !w.Equal(decimal.RequireFromString("10019.76")) {
		t.Errorf("wallet = %s, want 10019.76", w)
	}
	if err := s.SetPrice(ctx, "BTCUSDT", decimal.RequireFromString("61000.05")); err == nil {
		t.Error("off-tick SetPrice accepted")
	}
}

func dialWS(t *testing.T, s *Server, path string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(s.WSURL()+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	resp.Body.Close()
	return c
}

func readJSON(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m map[string]any
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

func TestStreams(t *testing.T) {
	s := NewServer()
	defer s.Close()
	defer http.DefaultClient.CloseIdleConnections()
	ctx := context.Background()
	combined := dialWS(t, s, "/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice")
	defer combined.Close()
	raw := dialWS(t, s, "/public/ws")
	defer raw.Close()
	// Live subscribe, sheet §5.2.
	if err := raw.WriteMessage(websocket.TextMessage, []byte(`{"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 1}`)); err != nil {
		t.Fatal(err)
	}
	if m := readJSON(t, raw); m["id"] != float64(1) || m["result"] != nil {
		t.Fatalf("subscribe answer = %v", m)
	}
	// A stream of the wrong route is accepted but receives nothing (aggTrade lives on /market).
	wrong := dialWS(t, s, "/public/ws/btcusdt@aggTrade")
	defer wrong.Close()
	if err := s.WaitConns(ctx, "", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPrice(ctx, "BTCUSDT", decimal.RequireFromString("60100")); err != nil {
		t.Fatal(err)
	}
	m := readJSON(t, raw)
	if m["e"] != "bookTicker" || m["b"] != "60099.90" || m["a"] != "60100.10" || m["s"] != "BTCUSDT" {
		t.Errorf("bookTicker = %v", m)
	}
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		w := readJSON(t, combined)
		data, _ := w["data"].(map[string]any)
		seen[w["stream"].(string)+" "+data["e"].(string)] = true
	}
	if !seen["btcusdt@aggTrade aggTrade"] || !seen["btcusdt@markPrice markPriceUpdate"] {
		t.Errorf("combined stream = %v", seen)
	}
	_ = wrong.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, msg, err := wrong.ReadMessage(); err == nil {
		t.Errorf("aggTrade on /public delivered %s", msg)
	}

	// The private stream needs a valid listen key; expiry is announced on it.
	if _, resp, err := websocket.DefaultDialer.Dial(s.WSURL()+"/private/ws/nokey", nil); err == nil || resp.StatusCode != 400 {
		t.Errorf("private dial with a bad key: %v", err)
	}
	lk := call(t, s, "POST", "/fapi/v1/listenKey", "", false, 0, APIKey)
	var key struct{ ListenKey string }
	_ = json.Unmarshal([]byte(lk.body), &key)
	if len(key.ListenKey) != 64 {
		t.Fatalf("listen key = %q", lk.body)
	}
	if again := call(t, s, "POST", "/fapi/v1/listenKey", "", false, 0, APIKey); !strings.Contains(again.body, key.ListenKey) {
		t.Errorf("second POST returned a different key: %s", again.body)
	}
	priv := dialWS(t, s, "/private/ws/"+key.ListenKey)
	defer priv.Close()
	if err := s.WaitConns(ctx, "private", 1); err != nil {
		t.Fatal(err)
	}
	if a := call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=60000&newClientOrderId=s1", true, time.Now().UnixMilli(), APIKey); a.status != 200 {
		t.Fatal(a.body)
	}
	ev := readJSON(t, priv)
	o, _ := ev["o"].(map[string]any)
	if ev["e"] != "ORDER_TRADE_UPDATE" || o["c"] != "s1" || o["x"] != "NEW" || o["X"] != "NEW" || o["ps"] != "BOTH" || o["f"] != "GTC" {
		t.Errorf("NEW event = %v", ev)
	}
	if _, ok := o["n"]; ok {
		t.Errorf("a NEW event carries a commission: %v", o)
	}
	s.ExpireListenKey()
	if ev := readJSON(t, priv); ev["e"] != "listenKeyExpired" || ev["listenKey"] != key.ListenKey {
		t.Errorf("expiry event = %v", ev)
	}
	if a := call(t, s, "PUT", "/fapi/v1/listenKey", "", false, 0, APIKey); code(t, a) != -1125 {
		t.Errorf("keepalive of an expired key: %s", a.body)
	}
	s.DropStreams("")
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := raw.ReadMessage(); err == nil {
		t.Error("a dropped socket still reads")
	}
}
