package binance

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gridmesh/gridmesh/exchange"
)

// BenchmarkPlaceOrder measures the adapter's own work for one order on
// loopback: validate, encode, sign, POST and decode the answer of a local
// server that answers at once. allocs/op is the adapter's and net/http's
// share of the garbage between a decided order and its request.
func BenchmarkPlaceOrder(b *testing.B) {
	answer := fixture(b, "rest_order_docs.json")
	info := append(append([]byte(`{"symbols":[`), fixture(b, "rest_exchangeinfo_btcusdt_symbol.json")...), "]}"...)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/fapi/v1/time":
			_, _ = rw.Write([]byte(`{"serverTime":` + strconv.FormatInt(1700000000000, 10) + `}`))
		case "/fapi/v1/exchangeInfo":
			_, _ = rw.Write(info)
		default:
			_, _ = rw.Write(answer)
		}
	}))
	defer srv.Close()
	c := vectorClient(b, Config{RESTURL: srv.URL, WSURL: "ws://127.0.0.1:1"})
	ctx := context.Background()
	req := exchange.OrderRequest{Symbol: "BTCUSDT", ClientOrderID: "g1-b-0001", Side: exchange.Buy, TimeInForce: exchange.PostOnly,
		Price: d("60000"), Quantity: d("0.002")}
	if _, err := c.PlaceOrder(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.PlaceOrder(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
