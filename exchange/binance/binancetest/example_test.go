package binancetest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gridmesh/gridmesh/exchange/binance/binancetest"
)

// A server seeded with three recorded 1m candles answers klines of any
// interval from its first request: here one 3m candle aggregated from
// them.
func ExampleWithKlineFile() {
	recorded := `open_time,open,high,low,close,volume
1746372780000,95505.4,95505.5,95502.7,95502.7,16.536
1746372840000,95502.8,95502.8,95478.0,95478.1,28.313
1746372900000,95478.1,95490.0,95470.2,95488.8,10.000
`
	srv, err := binancetest.New(binancetest.WithoutPeriodicStreams(),
		binancetest.WithSymbol(binancetest.Symbol{Name: "BTCUSDT"}), // BTCUSDT's filters, no price
		binancetest.WithKlineFile("BTCUSDT", "1m", strings.NewReader(recorded)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	resp, err := http.Get(srv.URL() + "/fapi/v1/klines?symbol=BTCUSDT&interval=3m&startTime=0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	fmt.Println(srv.Price("BTCUSDT")) // the last close
	// Output:
	// [[1746372780000,"95505.40","95505.50","95470.20","95488.80","54.849",1746372959999,"0",0,"0.000","0","0"]]
	// 95488.8
}
