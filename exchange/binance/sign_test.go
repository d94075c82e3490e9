package binance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// The key pair of Binance's documented HMAC test vector (sheet §2.2).
const (
	vectorKey    = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
	vectorSecret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
)

func vectorClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	cfg.APIKey, cfg.APISecret = NewSecret(vectorKey), NewSecret(vectorSecret)
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestSignVectors(t *testing.T) {
	c := vectorClient(t, Config{})
	for _, v := range []struct{ name, payload, sig string }{
		{"official docs vector",
			"symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943",
			"3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"},
		{"query and body concatenated without &",
			"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC" + "quantity=1&price=9000&recvWindow=5000&timestamp=1591702613943",
			"30baaf0fab549bbeda7f5ef201898b34122da25fd23c646cac2c529aebe670a4"},
		{"GTX grid order",
			"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTX&quantity=0.002&price=60000.0&newClientOrderId=g1-b-0001&recvWindow=5000&timestamp=1700000000000",
			"b81c1c8eac8bcc624293e04bb76f5726a13d71d9a004ba4604ecef0fec807ea8"},
		{"batchOrders, URL-encoded",
			batchPayload,
			"a2e7238d51f9d941a9fb0220a53dce2804f819fde5060a63182e80b391143cd1"},
	} {
		if got := c.Sign(v.payload); got != v.sig {
			t.Errorf("%s: Sign = %s, want %s", v.name, got, v.sig)
		}
	}
}

const batchPayload = "batchOrders=%5B%7B%22symbol%22%3A%22BTCUSDT%22%2C%22side%22%3A%22BUY%22%2C%22type%22%3A%22LIMIT%22%2C%22timeInForce%22%3A%22GTX%22%2C%22quantity%22%3A%220.002%22%2C%22price%22%3A%2260000.0%22%2C%22newClientOrderId%22%3A%22g1-b-0001%22%7D%2C%7B%22symbol%22%3A%22BTCUSDT%22%2C%22side%22%3A%22SELL%22%2C%22type%22%3A%22LIMIT%22%2C%22timeInForce%22%3A%22GTX%22%2C%22quantity%22%3A%220.002%22%2C%22price%22%3A%2261000.0%22%2C%22newClientOrderId%22%3A%22g1-s-0001%22%7D%5D&recvWindow=5000&timestamp=1700000000000"

// wire records the raw requests a client sends and answers them like
// Binance would for this test.
type wire struct {
	mu   sync.Mutex
	reqs []string // "METHOD path?query body"
	keys []string // X-MBX-APIKEY
}

func (w *wire) serve(t *testing.T, serverTime int64) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		w.reqs = append(w.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+string(body))
		w.keys = append(w.keys, r.Header.Get("X-MBX-APIKEY"))
		w.mu.Unlock()
		switch r.URL.Path {
		case "/fapi/v1/time":
			fmt.Fprintf(rw, `{"serverTime":%d}`, serverTime)
		case "/fapi/v1/exchangeInfo":
			rw.Write([]byte(`{"symbols":[{"symbol":"BTCUSDT","status":"TRADING","filters":[{"filterType":"PRICE_FILTER","minPrice":"556.80","maxPrice":"4529764","tickSize":"0.10"},{"filterType":"LOT_SIZE","minQty":"0.001","stepSize":"0.001","maxQty":"1000"},{"filterType":"MIN_NOTIONAL","notional":"50"}]}]}`))
		case "/fapi/v1/order":
			rw.Write(mustRead(t, "testdata/rest_order_gtx_real.json"))
		case "/fapi/v1/batchOrders":
			rw.Write(mustRead(t, "testdata/rest_batch_real_5022.json"))
		default:
			rw.WriteHeader(404)
		}
	}))
}

// TestSignedRequestsOnTheWire checks the exact bytes of the sheet's example
// requests: parameters in order, fixed-point decimals, recvWindow and
// timestamp last, then the signature of the documented vectors.
func TestSignedRequestsOnTheWire(t *testing.T) {
	var w wire
	srv := w.serve(t, 1700000000000)
	defer srv.Close()
	c := vectorClient(t, Config{RESTURL: srv.URL, WSURL: "ws://127.0.0.1:1", Clock: func() time.Time { return time.UnixMilli(1700000000000) }})
	ctx := context.Background()
	req := exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-b-0001", Side: exchange.Buy, TimeInForce: exchange.PostOnly,
		Price: decimal.RequireFromString("60000"), Quantity: decimal.RequireFromString("0.002")}
	if _, err := c.PlaceOrder(ctx, req); err != nil {
		t.Fatalf("PlaceOrder: %v", err)
	}
	sell := req
	sell.Side, sell.ClientOrderID, sell.Price = exchange.Sell, "g1-s-0001", decimal.RequireFromString("61000")
	res, err := c.PlaceOrders(ctx, []exchange.OrderRequest{req, sell})
	if err != nil {
		t.Fatalf("PlaceOrders: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	want := []string{
		"GET /fapi/v1/exchangeInfo? ", // rules first, to validate the order
		"GET /fapi/v1/time? ",         // then the clock, before the first signed call
		"POST /fapi/v1/order? symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTX&quantity=0.002&price=60000.0&newClientOrderId=g1-b-0001&recvWindow=5000&timestamp=1700000000000&signature=b81c1c8eac8bcc624293e04bb76f5726a13d71d9a004ba4604ecef0fec807ea8",
		"POST /fapi/v1/batchOrders? " + batchPayload + "&signature=a2e7238d51f9d941a9fb0220a53dce2804f819fde5060a63182e80b391143cd1",
	}
	if len(w.reqs) != len(want) {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(w.reqs, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if w.reqs[i] != want[i] {
			t.Errorf("request %d:\n got %s\nwant %s", i, w.reqs[i], want[i])
		}
	}
	if w.keys[0] != "" || w.keys[1] != "" || w.keys[2] != vectorKey {
		t.Errorf("API key headers = %q, want none on /time and the key on orders", w.keys)
	}
	// The batch answer is the sheet's real mixed response: -5022 then an order.
	if len(res) != 2 || !errors.Is(res[0].Err, exchange.ErrPostOnlyRejected) || res[1].Err != nil || res[1].Order.OrderID != "1405234856" {
		t.Errorf("batch results = %+v", res)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSecretRedacts(t *testing.T) {
	const value = "s3cr3t-value-that-must-not-leak"
	s := NewSecret(value)
	cfg := Config{APIKey: NewSecret("key-" + value), APISecret: s}
	ptr := &cfg
	outs := map[string]string{
		"String":   s.String(),
		"GoString": s.GoString(),
		"%v":       fmt.Sprintf("%v", s),
		"%+v":      fmt.Sprintf("%+v", s),
		"%#v":      fmt.Sprintf("%#v", s),
		"%s":       fmt.Sprintf("%s", s),
		"%q":       fmt.Sprintf("%q", s),
		"%x":       fmt.Sprintf("%x", s),
		"%d":       fmt.Sprintf("%d", s),
		"cfg %v":   fmt.Sprintf("%v", cfg),
		"cfg %+v":  fmt.Sprintf("%+v", cfg),
		"cfg %#v":  fmt.Sprintf("%#v", cfg),
		"&cfg %+v": fmt.Sprintf("%+v", ptr),
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outs["json cfg"] = string(js)
	txt, _ := s.MarshalText()
	outs["text"] = string(txt)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	outs["client %+v"] = fmt.Sprintf("%+v", c)
	outs["client %#v"] = fmt.Sprintf("%#v", c)
	for name, out := range outs {
		if strings.Contains(out, value) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
	}
	for _, name := range []string{"String", "GoString", "%v", "%+v", "%#v", "%s", "text"} {
		if outs[name] != "[REDACTED]" {
			t.Errorf("%s = %q, want [REDACTED]", name, outs[name])
		}
	}
	if outs["%q"] != `"[REDACTED]"` {
		t.Errorf("%%q = %s", outs["%q"])
	}
	if !strings.Contains(outs["json cfg"], `"APISecret":"[REDACTED]"`) {
		t.Errorf("JSON = %s", outs["json cfg"])
	}
	if s.Reveal() != value || (Secret{}).Reveal() != "" || !(Secret{}).IsZero() {
		t.Errorf("Reveal/IsZero broken")
	}
}

func TestConfigValidation(t *testing.T) {
	_, err := New(Config{RESTURL: "ftp://x", WSURL: "http://x", RecvWindow: time.Minute, APIKey: NewSecret("k"),
		KeepAlive: time.Hour, PingInterval: time.Second, StaleAfter: time.Second, ReconnectMin: time.Second, ReconnectMax: time.Millisecond})
	if err == nil {
		t.Fatal("New accepted a bad config")
	}
	for _, want := range []string{"Config.RESTURL \"ftp://x\"", "Config.WSURL \"http://x\"", "Config.RecvWindow 1m0s",
		"APIKey and Config.APISecret", "Config.KeepAlive 1h0m0s", "Config.StaleAfter 1s", "ReconnectMin/ReconnectMax 1s/1ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	c, err := New(Config{})
	if err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	defer c.Close()
	if c.cfg.RESTURL != ProductionRESTURL || c.cfg.WSURL != ProductionWSURL || c.ReceiveWindow() != 5*time.Second || c.cfg.KeepAlive != 30*time.Minute {
		t.Errorf("defaults = %+v", c.cfg)
	}
	if _, err := c.OpenOrders(context.Background(), "BTCUSDT"); !errors.Is(err, exchange.ErrAuth) {
		t.Errorf("private call without credentials: %v, want ErrAuth", err)
	}
}
