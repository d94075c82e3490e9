package binance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

func TestRedactURL(t *testing.T) {
	const k = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
	cases := []struct{ in, want string }{
		{"wss://fstream.binance.com/private/ws/" + k, "wss://fstream.binance.com/private/ws/[REDACTED]"},
		{"wss://fstream.binance.com/private/ws/" + k + "?events=ORDER_TRADE_UPDATE", "wss://fstream.binance.com/private/ws/[REDACTED]?events=ORDER_TRADE_UPDATE"},
		{"wss://fstream.binance.com/private/ws?listenKey=" + k + "&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE",
			"wss://fstream.binance.com/private/ws?listenKey=[REDACTED]&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE"},
		{"wss://fstream.binance.com/private/stream?listenKey=k1aaaa&events=ORDER_TRADE_UPDATE&listenKey=k2bbbb&events=ACCOUNT_UPDATE",
			"wss://fstream.binance.com/private/stream?listenKey=[REDACTED]&events=ORDER_TRADE_UPDATE&listenKey=[REDACTED]&events=ACCOUNT_UPDATE"},
		{"wss://fstream.binance.com/private/stream/" + k, "wss://fstream.binance.com/private/stream/[REDACTED]"},
		{"ws://127.0.0.1:9/private/ws?listenkey=" + k, "ws://127.0.0.1:9/private/ws?listenkey=[REDACTED]"},
		{"wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice", "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice"},
		{"wss://fstream.binance.com/public/ws/btcusdt@bookTicker", "wss://fstream.binance.com/public/ws/btcusdt@bookTicker"},
		{"https://fapi.binance.com/fapi/v1/order", "https://fapi.binance.com/fapi/v1/order"},
	}
	for _, tc := range cases {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
		for _, key := range listenKeysIn(tc.in) {
			if strings.Contains(redactURL(tc.in), key) {
				t.Errorf("redactURL(%s) keeps key %s", tc.in, key)
			}
		}
	}
	if got := listenKeysIn("wss://x/private/stream?listenKey=k1aaaa&events=A&listenKey=k2bbbb"); len(got) != 2 || got[0] != "k1aaaa" || got[1] != "k2bbbb" {
		t.Errorf("listenKeysIn = %q", got)
	}
}

// leakTransport answers the time, rules and listen-key creation and fails
// every other request the way mode says, recording what each request
// carried that must never be shown.
type leakTransport struct {
	mode      string
	listenKey string
	mu        sync.Mutex
	secrets   []string // signatures and signed payloads seen
}

func (lt *leakTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	ok := func(s string) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(s)), Request: req}, nil
	}
	switch {
	case req.URL.Path == "/fapi/v1/time":
		return ok(fmt.Sprintf(`{"serverTime":%d}`, time.Now().UnixMilli()))
	case req.URL.Path == "/fapi/v1/exchangeInfo":
		return ok(`{"symbols":[{"symbol":"BTCUSDT","status":"TRADING","filters":[{"filterType":"PRICE_FILTER","minPrice":"0.10","maxPrice":"4529764","tickSize":"0.10"},{"filterType":"LOT_SIZE","minQty":"0.001","stepSize":"0.001","maxQty":"1000"},{"filterType":"MIN_NOTIONAL","notional":"5"}]}]}`)
	case req.URL.Path == "/fapi/v1/listenKey" && req.Method == http.MethodPost && lt.listenKey != "":
		return ok(`{"listenKey":"` + lt.listenKey + `"}`)
	}
	signed := req.URL.RawQuery + string(body)
	lt.mu.Lock()
	if q, err := url.ParseQuery(signed); err == nil && q.Get("signature") != "" {
		lt.secrets = append(lt.secrets, q.Get("signature"), req.URL.RawQuery, string(body))
	}
	lt.mu.Unlock()
	switch lt.mode {
	case "echo": // a proxy or custom transport that quotes what it got
		return nil, fmt.Errorf("upstream refused %s %s key=%s body=%s", req.Method, req.URL, req.Header.Get("X-MBX-APIKEY"), body)
	case "timeout":
		<-req.Context().Done()
		return nil, req.Context().Err()
	case "venue": // a venue answer that quotes the request
		return &http.Response{StatusCode: 400, Header: http.Header{}, Request: req,
			Body: io.NopCloser(strings.NewReader(fmt.Sprintf(`{"code":-1022,"msg":"Signature for this request is not valid: %s"}`, signed)))}, nil
	}
	return nil, errors.New("connection reset by peer")
}

const (
	leakKey    = "LEAKKEYd6a8f4c2b1e09f7a3c5d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
	leakSecret = "LEAKSECRET3e1c0b9a8f7e6d5c4b3a29180f7e6d5c4b3a2918f0e7d6c5b4a3928"
	leakListen = "LEAKLISTENpqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65"
)

// logSinks is the adapter's logger and the host's, writing the same
// records as text and as JSON.
type logSinks struct {
	mu   sync.Mutex
	text bytes.Buffer
	json bytes.Buffer
}

func (s *logSinks) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text.Write(p)
}

type jsonSink struct{ s *logSinks }

func (j jsonSink) Write(p []byte) (int, error) {
	j.s.mu.Lock()
	defer j.s.mu.Unlock()
	return j.s.json.Write(p)
}

func (s *logSinks) loggers() (*slog.Logger, *slog.Logger) {
	o := &slog.HandlerOptions{Level: slog.LevelDebug}
	return slog.New(slog.NewTextHandler(s, o)), slog.New(slog.NewJSONHandler(jsonSink{s}, o))
}

func (s *logSinks) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text.String() + s.json.String()
}

// teeHandler sends every record to both handlers.
type teeHandler struct{ a, b slog.Handler }

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.a.Enabled(ctx, l) }
func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	return errors.Join(h.a.Handle(ctx, r.Clone()), h.b.Handle(ctx, r.Clone()))
}
func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{h.a.WithAttrs(as), h.b.WithAttrs(as)}
}
func (h teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{h.a.WithGroup(n), h.b.WithGroup(n)}
}

func (s *logSinks) logger() *slog.Logger {
	t, j := s.loggers()
	return slog.New(teeHandler{t.Handler(), j.Handler()})
}

// errorForms is every way a host may print an error.
func errorForms(err error, host *slog.Logger) string {
	host.Warn("call failed", "err", err)
	host.LogAttrs(context.Background(), slog.LevelWarn, "call failed", slog.Any("error", err), slog.String("text", err.Error()))
	return err.Error() + "\n" + fmt.Sprintf("%v\n%+v\n%#v\n%s\n%q", err, err, err, err, err)
}

func assertClean(t *testing.T, where, s string, secrets []string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Errorf("%s shows %.24q…:\n%s", where, sec, s)
		}
	}
}

// TestNoSecretInErrorsOrLogs runs every signed call (and the listen-key
// calls) through failing transports — refused, a transport quoting the
// request, a timeout, a venue answer quoting the request — and scans the
// error in every print form and the adapter's and the host's slog output
// (text and JSON) for the signature, the signed query or body, the secret
// and the API key.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	ctx := context.Background()
	d := decimal.RequireFromString
	limit := exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-b-1", Side: exchange.Buy, Type: exchange.Limit,
		TimeInForce: exchange.PostOnly, Price: d("60000"), Quantity: d("0.002")}
	calls := map[string]func(c *Client) error{
		"PlaceOrder":  func(c *Client) error { _, err := c.PlaceOrder(ctx, limit); return err },
		"PlaceOrders": func(c *Client) error { _, err := c.PlaceOrders(ctx, []exchange.OrderRequest{limit, limit}); return err },
		"CancelOrder": func(c *Client) error {
			_, err := c.CancelOrder(ctx, exchange.CancelRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-b-1"})
			return err
		},
		"CancelOrders": func(c *Client) error {
			_, err := c.CancelOrders(ctx, []exchange.CancelRequest{{Symbol: "BTCUSDT", OrderID: "12"}, {Symbol: "BTCUSDT", OrderID: "13"}})
			return err
		},
		"CancelAllOrders": func(c *Client) error { return c.CancelAllOrders(ctx, "BTCUSDT") },
		"ArmCancelAll":    func(c *Client) error { return c.ArmCancelAll(ctx, "BTCUSDT", time.Minute) },
		"QueryOrder":      func(c *Client) error { _, err := c.QueryOrder(ctx, "BTCUSDT", "g1-b-1"); return err },
		"QueryOrderByID":  func(c *Client) error { _, err := c.QueryOrderByID(ctx, "BTCUSDT", "12"); return err },
		"OpenOrders":      func(c *Client) error { _, err := c.OpenOrders(ctx, "BTCUSDT"); return err },
		"Fills":           func(c *Client) error { _, err := c.Fills(ctx, "BTCUSDT", time.Now().Add(-time.Hour)); return err },
		"Account":         func(c *Client) error { _, err := c.Account(ctx); return err },
		"Positions":       func(c *Client) error { _, err := c.Positions(ctx, "BTCUSDT"); return err },
		"SetLeverage":     func(c *Client) error { _, err := c.SetLeverage(ctx, "BTCUSDT", 5); return err },
		"SetPositionMode": func(c *Client) error { return c.SetPositionMode(ctx, exchange.Hedge) },
		"listenKey POST":  func(c *Client) error { _, err := c.listenKey(ctx, http.MethodPost); return err },
		"listenKey PUT":   func(c *Client) error { _, err := c.listenKey(ctx, http.MethodPut); return err },
		"listenKey DELETE": func(c *Client) error {
			_, err := c.listenKey(ctx, http.MethodDelete)
			return err
		},
	}
	for _, mode := range []string{"refused", "echo", "timeout", "venue"} {
		for name, call := range calls {
			t.Run(mode+"/"+name, func(t *testing.T) {
				var sinks logSinks
				lt := &leakTransport{mode: mode}
				c, err := New(Config{APIKey: NewSecret(leakKey), APISecret: NewSecret(leakSecret), RESTURL: "http://127.0.0.1:9",
					WSURL: "ws://127.0.0.1:9", HTTPClient: &http.Client{Transport: lt}, Logger: sinks.logger(),
					RequestTimeout: 20 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				err = call(c)
				if err == nil {
					t.Fatal("the call did not fail")
				}
				if mode == "timeout" && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, exchange.ErrUnknownOutcome) {
					t.Errorf("a timeout became %v", err)
				}
				out := errorForms(err, sinks.logger())
				lt.mu.Lock()
				secrets := append([]string{leakKey, leakSecret}, lt.secrets...)
				lt.mu.Unlock()
				if name != "listenKey POST" && name != "listenKey PUT" && name != "listenKey DELETE" && len(secrets) == 2 {
					t.Fatal("no signed request reached the transport")
				}
				assertClean(t, "error", out, secrets)
				assertClean(t, "log", sinks.String(), secrets)
				if !strings.Contains(out, "/fapi/") && mode != "venue" {
					t.Errorf("the error does not name the path: %s", err)
				}
			})
		}
	}
}

// TestNoListenKeyInStreamErrorsOrLogs dials every stream through a dialer
// whose proxy step fails quoting the URL, and scans the logs; then dials
// the other private URL forms (?listenKey=, several keys) and scans the
// errors.
func TestNoListenKeyInStreamErrorsOrLogs(t *testing.T) {
	var sinks logSinks
	lt := &leakTransport{mode: "refused", listenKey: leakListen}
	c, err := New(Config{APIKey: NewSecret(leakKey), APISecret: NewSecret(leakSecret), RESTURL: "http://127.0.0.1:9",
		WSURL: "ws://127.0.0.1:9", HTTPClient: &http.Client{Transport: lt}, Logger: sinks.logger(),
		ReconnectMin: time.Millisecond, ReconnectMax: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.dialer.Proxy = func(r *http.Request) (*url.URL, error) {
		return nil, fmt.Errorf("proxy refused %s (%s)", r.URL, r.URL.RawQuery)
	}
	secrets := []string{leakKey, leakSecret, leakListen}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	drain := func(open func() (func(), error)) {
		wait, err := open()
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); wait() }()
	}
	drain(func() (func(), error) {
		ch, err := c.SubscribeUserData(ctx)
		return func() {
			for range ch {
			}
		}, err
	})
	drain(func() (func(), error) {
		ch, err := c.SubscribePrices(ctx, "BTCUSDT")
		return func() {
			for range ch {
			}
		}, err
	})
	drain(func() (func(), error) {
		ch, err := c.SubscribeKlines(ctx, "BTCUSDT", "1m")
		return func() {
			for range ch {
			}
		}, err
	})
	drain(func() (func(), error) {
		ch, err := c.SubscribeMarkPrice(ctx, "BTCUSDT")
		return func() {
			for range ch {
			}
		}, err
	})
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(sinks.String(), "stream connect failed") < 16 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	logs := sinks.String()
	for _, want := range []string{"private/ws/[REDACTED]", "btcusdt@bookTicker", "btcusdt@kline_1m", "btcusdt@markPrice@1s"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs never name %s:\n%.2000s", want, logs)
		}
	}
	assertClean(t, "stream logs", logs, secrets)

	for _, u := range []string{
		c.cfg.WSURL + "/private/ws/" + leakListen,
		c.cfg.WSURL + "/private/ws?listenKey=" + leakListen + "&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE",
		c.cfg.WSURL + "/private/stream?listenKey=" + leakListen + "&events=ORDER_TRADE_UPDATE&listenKey=" + leakListen + "x&events=ACCOUNT_UPDATE",
	} {
		_, err := c.dial(context.Background(), u)
		if err == nil {
			t.Fatalf("dial %s succeeded", u)
		}
		var host logSinks
		out := errorForms(err, host.logger())
		assertClean(t, "dial error", out+host.String(), secrets)
		if !strings.Contains(out, "[REDACTED]") {
			t.Errorf("dial error does not show where the key was: %s", err)
		}
	}
}
