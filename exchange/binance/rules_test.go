package binance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// TestMarketOrderRules: MARKET orders are checked against MARKET_LOT_SIZE
// (BTCUSDT 0.001 to 120 in the sheet's capture), LIMIT orders against
// LOT_SIZE (up to 1000), before anything is sent.
func TestMarketOrderRules(t *testing.T) {
	var orders atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/fapi/v1/time":
			fmt.Fprintf(rw, `{"serverTime":%d}`, time.Now().UnixMilli())
		case "/fapi/v1/exchangeInfo":
			_, _ = rw.Write(append(append([]byte(`{"symbols":[`), fixture(t, "rest_exchangeinfo_btcusdt_symbol.json")...), "]}"...))
		case "/fapi/v1/order":
			orders.Add(1)
			_, _ = rw.Write(fixture(t, "rest_order_docs.json"))
		}
	}))
	defer srv.Close()
	c := vectorClient(t, Config{RESTURL: srv.URL, WSURL: "ws://127.0.0.1:1"})
	ctx := context.Background()
	market := func(qty string) exchange.OrderRequest {
		return exchange.OrderRequest{Symbol: "BTCUSDT", Side: exchange.Sell, Type: exchange.Market, Quantity: d(qty), ReduceOnly: true}
	}
	limit := func(qty string) exchange.OrderRequest {
		return exchange.OrderRequest{Symbol: "BTCUSDT", Side: exchange.Buy, Type: exchange.Limit, TimeInForce: exchange.GTC, Price: d("60000"), Quantity: d(qty)}
	}
	cases := []struct {
		req  exchange.OrderRequest
		err  string
		sent bool
	}{
		{market("120"), "", true},
		{market("0.001"), "", true},
		{market("120.001"), "BTCUSDT: quantity 120.001 is above the market maximum 120 (send it in parts: Rules.SplitMarketQty)", false},
		{market("500"), "BTCUSDT: quantity 500 is above the market maximum 120 (send it in parts: Rules.SplitMarketQty)", false},
		{market("0.0005"), "BTCUSDT: quantity 0.0005 is not a multiple of 0.001", false},
		{limit("500"), "", true}, // the market maximum does not bind a limit order
		{limit("1000.001"), "BTCUSDT: quantity 1000.001 is above MaxQty 1000", false},
	}
	for _, tc := range cases {
		before := orders.Load()
		_, err := c.PlaceOrder(ctx, tc.req)
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s %s: %v", tc.req.Type, tc.req.Quantity, err)
			}
		} else if err == nil || err.Error() != tc.err || !errors.Is(err, exchange.ErrInvalidOrder) {
			t.Errorf("%s %s: error %v, want %q", tc.req.Type, tc.req.Quantity, err, tc.err)
		}
		if sent := orders.Load() > before; sent != tc.sent {
			t.Errorf("%s %s: sent = %v, want %v", tc.req.Type, tc.req.Quantity, sent, tc.sent)
		}
	}
	// The rules say how to close 250 BTC at market: three parts.
	r, err := c.Rules(ctx, "BTCUSDT")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := r.SplitMarketQty(d("250"))
	if err != nil || len(parts) != 3 || parts[0].String() != "83.334" || parts[2].String() != "83.333" {
		t.Errorf("SplitMarketQty(250) = %v, %v", parts, err)
	}
	for _, p := range parts {
		if _, err := c.PlaceOrder(ctx, market(p.String())); err != nil {
			t.Errorf("part %s: %v", p, err)
		}
	}
}
