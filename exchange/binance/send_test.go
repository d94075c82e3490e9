package binance

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gridmesh/gridmesh/exchange"
)

// wireLog records every byte a client's connections write.
type wireLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

type loggedConn struct {
	net.Conn
	log *wireLog
}

func (c loggedConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.buf.Write(p)
	c.log.mu.Unlock()
	return c.Conn.Write(p)
}

func (l *wireLog) transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return loggedConn{Conn: c, log: l}, nil
	}
	return tr
}

// orderServer answers exchangeInfo and the server time like Binance and
// hands order placements to order.
func orderServer(t *testing.T, order http.HandlerFunc) *httptest.Server {
	t.Helper()
	info := append(append([]byte(`{"symbols":[`), fixture(t, "rest_exchangeinfo_btcusdt_symbol.json")...), "]}"...)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fapi/v1/time":
			_, _ = rw.Write([]byte(`{"serverTime":1700000000000}`))
		case "/fapi/v1/exchangeInfo":
			_, _ = rw.Write(info)
		default:
			order(rw, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestPlaceOrderHeadersOnTheWire: the order's headers go out exactly as
// net/http writes a Header.Set header — canonical name, one value each.
func TestPlaceOrderHeadersOnTheWire(t *testing.T) {
	answer := fixture(t, "rest_order_docs.json")
	srv := orderServer(t, func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if got := r.Header.Values("X-MBX-APIKEY"); len(got) != 1 || got[0] != vectorKey {
			t.Errorf("API key header values = %q", got)
		}
		_, _ = rw.Write(answer)
	})
	var wl wireLog
	tr := wl.transport()
	defer tr.CloseIdleConnections()
	c := vectorClient(t, Config{RESTURL: srv.URL, WSURL: "ws://127.0.0.1:1", HTTPClient: &http.Client{Transport: tr}})
	req := exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-b-0001", Side: exchange.Buy, TimeInForce: exchange.PostOnly,
		Price: d("60000"), Quantity: d("0.002")}
	if _, err := c.PlaceOrder(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	wl.mu.Lock()
	raw := wl.buf.String()
	wl.mu.Unlock()
	i := strings.Index(raw, "POST /fapi/v1/order ")
	if i < 0 {
		t.Fatalf("no order placement on the wire:\n%s", raw)
	}
	head := raw[i : i+strings.Index(raw[i:], "\r\n\r\n")+2]
	for _, want := range []string{"\r\nContent-Type: application/x-www-form-urlencoded\r\n", "\r\nX-Mbx-Apikey: " + vectorKey + "\r\n"} {
		if strings.Count(head, want) != 1 {
			t.Errorf("request head lacks %q once:\n%s", want, head)
		}
	}
}

// TestPlaceOrderWrittenOrNot: a placement whose connection drops after
// the request was written has an unknown outcome; one that could not be
// written at all did not reach the venue.
func TestPlaceOrderWrittenOrNot(t *testing.T) {
	srv := orderServer(t, func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := rw.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_ = conn.Close() // the request arrived; no answer
	})
	c := vectorClient(t, Config{RESTURL: srv.URL, WSURL: "ws://127.0.0.1:1"})
	req := exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-b-0001", Side: exchange.Buy, TimeInForce: exchange.PostOnly,
		Price: d("60000"), Quantity: d("0.002")}
	_, err := c.PlaceOrder(context.Background(), req)
	var uo *exchange.UnknownOutcomeError
	if !errors.As(err, &uo) || uo.Op != "place" {
		t.Fatalf("dropped after the write: %v, want an UnknownOutcomeError of place", err)
	}

	// The same client, its connection refused before anything is written.
	c.http = &http.Client{Transport: refusingTripper{}}
	_, err = c.PlaceOrder(context.Background(), req)
	if errors.As(err, &uo) || !errors.Is(err, exchange.ErrUnavailable) {
		t.Fatalf("refused before the write: %v, want ErrUnavailable and no unknown outcome", err)
	}
}

// refusingTripper fails every request without writing it.
type refusingTripper struct{}

func (refusingTripper) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}
