package binance

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/gridmesh/gridmesh/exchange"
)

// cannedTripper answers every request at once from memory: exchangeInfo
// with info, anything else with answer. No network, no server.
type cannedTripper struct{ info, answer []byte }

func (t cannedTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	b := t.answer
	if r.URL.Path == "/fapi/v1/exchangeInfo" {
		b = t.info
	}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: r}, nil
}

// BenchmarkPlaceOrderInAdapter measures the adapter's own share of a
// placement, without a network: PlaceOrder validates, encodes and signs
// the order, builds the request, hands it to an HTTP client whose round
// tripper answers from memory, and decodes the answer. The in-adapter leg
// of examples/binance's BenchmarkTickToOrder is this up to the round
// tripper; allocs/op counts the garbage of both legs.
func BenchmarkPlaceOrderInAdapter(b *testing.B) {
	rt := cannedTripper{
		info:   append(append([]byte(`{"symbols":[`), fixture(b, "rest_exchangeinfo_btcusdt_symbol.json")...), "]}"...),
		answer: fixture(b, "rest_order_docs.json"),
	}
	c := vectorClient(b, Config{RESTURL: "http://127.0.0.1:1", WSURL: "ws://127.0.0.1:1", HTTPClient: &http.Client{Transport: rt}})
	c.synced.Store(true) // no server time to ask
	if _, err := c.Rules(context.Background(), "BTCUSDT"); err != nil {
		b.Fatal(err)
	}
	// The executor gives every call a deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 1<<40)
	defer cancel()
	req := exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-b-0001", Side: exchange.Buy, TimeInForce: exchange.PostOnly,
		Price: d("60000"), Quantity: d("0.002")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.PlaceOrder(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
