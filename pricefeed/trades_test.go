package pricefeed_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/pricefeed"
)

const (
	spotTrades = "testdata/binance_spot_BTCUSDT_20240808T2354_20240809T0005_trades.head2000.csv.gz"
	usdmTrades = "testdata/binance_usdm_BTCUSDT_20240808T2354_2359_trades.head2000.csv.gz"
	krakenFile = "testdata/kraken_BTCUSDT_trades_2023-11-17.head2000.csv.gz"
	spotBook   = "testdata/binance_spot_BTCUSDT_20240808T2354_20240809T0005_bookticker.head2000.csv.gz"
	usdmBook   = "testdata/binance_usdm_BTCUSDT_20240808T2354_2359_bookticker.head2000.csv.gz"
)

// spotRules are Binance spot BTCUSDT's increments.
var spotRules = rules("0.01", "0.00001")

func TestReadTradesRecorded(t *testing.T) {
	tests := []struct {
		file  string
		rules exchange.Rules
		first []pricefeed.Trade
		last  pricefeed.Trade
	}{
		{spotTrades, spotRules, []pricefeed.Trade{
			// …,1723161255342,3735683259,61837.63000000,0.02000000,true
			{Time: 1723161255342, Price: 6183763, Qty: 2000, BuyerMaker: true},
			{Time: 1723161255617, Price: 6183763, Qty: 4800, BuyerMaker: true},
			// …,1723161255617,3735683261,61837.63000000,0.00009000,true
			{Time: 1723161255617, Price: 6183763, Qty: 9, BuyerMaker: true},
		}, pricefeed.Trade{Time: 1723161351137, Price: 6178464, Qty: 10, BuyerMaker: false}},
		{usdmTrades, btcRules, []pricefeed.Trade{
			// …,1723161256322,5266583935,61800.30,0.006,false
			{Time: 1723161256322, Price: 618003, Qty: 6},
			{Time: 1723161256344, Price: 618003, Qty: 199},
			{Time: 1723161256431, Price: 618003, Qty: 45},
		}, pricefeed.Trade{Time: 1723161305825, Price: 618199, Qty: 20, BuyerMaker: true}},
		{krakenFile, rules("0.1", "0.00000001"), []pricefeed.Trade{
			// 1700179206662,5504897,market,buy,36160.9,0.00039906,14.430368754
			{Time: 1700179206662, Price: 361609, Qty: 39906},
			{Time: 1700179213246, Price: 361532, Qty: 27660},
			{Time: 1700179240748, Price: 361607, Qty: 51751},
			// 1700204527112,5506898,limit,sell,36331.1,0.00825886,300.053468546
		}, pricefeed.Trade{Time: 1700204527112, Price: 363311, Qty: 825886, BuyerMaker: true}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ts, err := pricefeed.ReadTradesFile(tt.file, tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			if len(ts) != 2000 {
				t.Fatalf("got %d trades, want 2000", len(ts))
			}
			if !reflect.DeepEqual(ts[:3], tt.first) || ts[1999] != tt.last {
				t.Errorf("got %+v … %+v,\nwant %+v … %+v", ts[:3], ts[1999], tt.first, tt.last)
			}
			plain, err := pricefeed.ReadTrades(bytes.NewReader(gunzip(t, tt.file)), tt.rules)
			if err != nil || !reflect.DeepEqual(plain, ts) {
				t.Errorf("plain decode differs from gzip (err %v)", err)
			}
		})
	}
}

func TestReadTradesDumps(t *testing.T) {
	// Rows in the layouts of data.binance.vision's aggTrades and trades
	// dumps (spot: no header, True/False, µs times since 2025; futures:
	// header, true/false, ms).
	want := []pricefeed.Trade{
		{Time: 1723161256322, Price: 618003, Qty: 6, BuyerMaker: false},
		{Time: 1723161256344, Price: 618004, Qty: 199, BuyerMaker: true},
	}
	tests := []struct{ name, in string }{
		{"aggTrades futures header", "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n" +
			"2328497445,61800.30,0.006,5266583935,5266583935,1723161256322,false\n" +
			"2328497446,61800.40,0.199,5266583936,5266583937,1723161256344,true\n"},
		{"aggTrades futures headerless", "2328497445,61800.30,0.006,5266583935,5266583935,1723161256322,false\n" +
			"2328497446,61800.40,0.199,5266583936,5266583937,1723161256344,true\n"},
		{"aggTrades spot headerless µs", "2328497445,61800.30000000,0.00600000,5266583935,5266583935,1723161256322123,False,True\n" +
			"2328497446,61800.40000000,0.19900000,5266583936,5266583937,1723161256344999,True,True\n"},
		{"aggTrades header with best match", "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match\n" +
			"2328497445,61800.30,0.006,5266583935,5266583935,1723161256322,false,true\n" +
			"2328497446,61800.40,0.199,5266583936,5266583937,1723161256344,true,true\n"},
		{"trades futures header", "id,price,qty,quote_qty,time,is_buyer_maker\n" +
			"5266583935,61800.30,0.006,370.8018,1723161256322,false\n" +
			"5266583936,61800.40,0.199,12298.2796,1723161256344,true\n"},
		{"trades futures headerless", "5266583935,61800.30,0.006,370.8018,1723161256322,false\n" +
			"5266583936,61800.40,0.199,12298.2796,1723161256344,true\n"},
		{"trades spot headerless µs", "5266583935,61800.30000000,0.00600000,370.80180000,1723161256322000,False,True\n" +
			"5266583936,61800.40000000,0.19900000,12298.27960000,1723161256344000,True,True\n"},
		{"trades header with best match", "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match\n" +
			"5266583935,61800.30,0.006,370.8018,1723161256322,FALSE,TRUE\n" +
			"5266583936,61800.40,0.199,12298.2796,1723161256344,TRUE,TRUE\n"},
		{"stream", "local_ts_ns,event_time_ms,trade_time_ms,trade_id,price,qty,is_buyer_maker\n" +
			"1723161255088176367,1723161256323,1723161256322,5266583935,61800.30,0.006,false\n" +
			"1723161255088230567,1723161256345,1723161256344,5266583936,61800.40,0.199,true\n"},
		{"kraken", "timestamp,id,type,side,price,amount,cost\n" +
			"1723161256322,1,market,buy,61800.3,0.006,370.8018\n" +
			"1723161256344,2,limit,SELL,61800.4,0.199,12298.2796\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pricefeed.ReadTrades(strings.NewReader(tt.in), btcRules)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestReadTradesErrors(t *testing.T) {
	const agg = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
	const kr = "timestamp,id,type,side,price,amount,cost\n"
	tests := []struct {
		name   string
		in     string
		line   int
		column string
		text   string
		is     error
	}{
		{"unknown header", "time,price,qty\n", 1, "", "time,price,qty", pricefeed.ErrFormat},
		{"stream header without its last column", "local_ts_ns,event_time_ms,trade_time_ms,trade_id,price,qty\n", 1, "", "local_ts_ns,event_time_ms,trade_time_ms,trade_id,price,qty", pricefeed.ErrFormat},
		{"5 columns headerless", "1,2,3,4,5\n", 1, "", "1,2,3,4,5", pricefeed.ErrFormat},
		{"missing column", agg + "1,61800.3,0.006,5,5,1723161256322\n", 2, "", "1,61800.3,0.006,5,5,1723161256322", pricefeed.ErrFieldCount},
		{"bad bool", agg + "1,61800.3,0.006,5,5,1723161256322,yes\n", 2, "is_buyer_maker", "yes", pricefeed.ErrSyntax},
		{"bad time", agg + "1,61800.3,0.006,5,5,17231612S6322,true\n", 2, "transact_time", "17231612S6322", pricefeed.ErrSyntax},
		{"bad price", agg + "1,61800.3.1,0.006,5,5,1723161256322,true\n", 2, "price", "61800.3.1", pricefeed.ErrSyntax},
		{"zero price", agg + "1,0.00,0.006,5,5,1723161256322,true\n", 2, "price", "0.00", pricefeed.ErrRange},
		{"price rounds to zero", agg + "1,0.04,0.006,5,5,1723161256322,true\n", 2, "price", "0.04", pricefeed.ErrRange},
		{"negative quantity", agg + "1,61800.3,-0.006,5,5,1723161256322,true\n", 2, "quantity", "-0.006", pricefeed.ErrRange},
		{"time goes back", agg + "1,61800.3,0.006,5,5,1723161256322,true\n2,61800.3,0.006,6,6,1723161256321,true\n", 3, "transact_time", "1723161256321", pricefeed.ErrOrder},
		{"kraken side", kr + "1700179206662,5504897,market,hold,36160.9,0.00039906,14.43\n", 2, "side", "hold", pricefeed.ErrSyntax},
		{"kraken float seconds", kr + "1700179206.662,5504897,market,buy,36160.9,0.00039906,14.43\n", 2, "timestamp", "1700179206.662", pricefeed.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pricefeed.ReadTrades(strings.NewReader(tt.in), btcRules)
			var ce *pricefeed.CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, %v; want a *CSVError", got, err)
			}
			if ce.Line != tt.line || ce.Column != tt.column || ce.Text != tt.text || !errors.Is(err, tt.is) {
				t.Errorf("got %v (line %d column %q text %q), want line %d column %q text %q matching %v", err, ce.Line, ce.Column, ce.Text, tt.line, tt.column, tt.text, tt.is)
			}
		})
	}
	if _, err := pricefeed.ReadTrades(strings.NewReader(""), exchange.Rules{}); err == nil {
		t.Error("zero rules: no error")
	}
}

// TestReadTradesRoundTrip writes random trades in every layout and checks
// they decode to exactly what was written.
func TestReadTradesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	r := rules("0.01", "0.00001")
	tf, qf := func(v exchange.Ticks) string { return formatTicks(int64(v), 2) }, func(v exchange.Steps) string { return formatTicks(int64(v), 5) }
	b := func(v bool) string {
		return []string{"false", "true", "False", "True"}[rng.IntN(2)*2+map[bool]int{false: 0, true: 1}[v]]
	}
	layouts := []struct {
		header string
		row    func(tr pricefeed.Trade, ms int64) string
	}{
		{"local_ts_ns,event_time_ms,trade_time_ms,trade_id,price,qty,is_buyer_maker", func(tr pricefeed.Trade, ms int64) string {
			return fmt.Sprintf("%d,%d,%d,7,%s,%s,%s", tr.Time*1e6-1, tr.Time+1, tr.Time, tf(tr.Price), qf(tr.Qty), b(tr.BuyerMaker))
		}},
		{"agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker,is_best_match", func(tr pricefeed.Trade, ms int64) string {
			return fmt.Sprintf("1,%s,%s,2,3,%d,%s,True", tf(tr.Price), qf(tr.Qty), ms, b(tr.BuyerMaker))
		}},
		{"", func(tr pricefeed.Trade, ms int64) string { // aggTrades, futures, headerless
			return fmt.Sprintf("1,%s,%s,2,3,%d,%s", tf(tr.Price), qf(tr.Qty), ms, b(tr.BuyerMaker))
		}},
		{"", func(tr pricefeed.Trade, ms int64) string { // trades, spot, headerless
			return fmt.Sprintf("1,%s,%s,1.5,%d,%s,True", tf(tr.Price), qf(tr.Qty), ms, b(tr.BuyerMaker))
		}},
		{"id,price,qty,quote_qty,time,is_buyer_maker", func(tr pricefeed.Trade, ms int64) string {
			return fmt.Sprintf("1,%s,%s,1.5,%d,%s", tf(tr.Price), qf(tr.Qty), ms, b(tr.BuyerMaker))
		}},
		{"timestamp,id,type,side,price,amount,cost", func(tr pricefeed.Trade, ms int64) string {
			return fmt.Sprintf("%d,9,limit,%s,%s,%s,1.5", tr.Time, map[bool]string{false: "buy", true: "sell"}[tr.BuyerMaker], tf(tr.Price), qf(tr.Qty))
		}},
	}
	for iter := range 300 {
		lay := layouts[iter%len(layouts)]
		n := 1 + rng.IntN(40)
		want := make([]pricefeed.Trade, n)
		tm := 1e12 + rng.Int64N(1e12)
		for i := range want {
			tm += rng.Int64N(3) * rng.Int64N(1000)
			want[i] = pricefeed.Trade{Time: tm, Price: exchange.Ticks(1 + rng.Int64N(1e10)), Qty: exchange.Steps(rng.Int64N(1e9)), BuyerMaker: rng.IntN(2) == 1}
		}
		var buf bytes.Buffer
		if lay.header != "" {
			buf.WriteString(lay.header + "\n")
		}
		for _, tr := range want {
			ms := tr.Time
			if rng.IntN(2) == 0 {
				ms = ms*1000 + rng.Int64N(1000) // microseconds
			}
			buf.WriteString(lay.row(tr, ms) + "\n")
		}
		got, err := pricefeed.ReadTrades(&buf, r)
		if err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("iteration %d: got %+v, want %+v", iter, got, want)
		}
	}
}

func FuzzReadTrades(f *testing.F) {
	for _, file := range []string{spotTrades, usdmTrades, krakenFile} {
		f.Add(gunzip(f, file)[:1500])
	}
	f.Add([]byte("1,61800.30,0.006,2,2,1723161256322,false\n"))
	f.Add([]byte("1,61800.30,0.006,1.5,1723161256322000,True,True\r\n"))
	f.Add([]byte("id,price,qty,quote_qty,time,is_buyer_maker\n1,1,1,1,1,true\n"))
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("1,61800.30,0.006,2,2,1723161256322,false,true\n"))
	zw.Close()
	f.Add(z.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		ts, err := pricefeed.ReadTrades(bytes.NewReader(in), btcRules)
		if err != nil {
			if ts != nil {
				t.Fatalf("trades %v with error %v", ts, err)
			}
			return
		}
		for i, tr := range ts {
			if tr.Price <= 0 || tr.Qty < 0 || (i > 0 && tr.Time < ts[i-1].Time) {
				t.Fatalf("trade %d breaks the checks: %+v", i, tr)
			}
		}
	})
}

func TestReadBookTicksRecorded(t *testing.T) {
	tests := []struct {
		file      string
		rules     exchange.Rules
		first     pricefeed.BookTick
		firstMid  exchange.Ticks
		last      pricefeed.BookTick
		secondTim int64
	}{
		// 1723161254087891268,,,50093239212,61837.63000000,3.78826000,61837.64000000,1.54698000
		{spotBook, spotRules,
			pricefeed.BookTick{Time: 1723161254087, Bid: 6183763, BidQty: 378826, Ask: 6183764, AskQty: 154698}, 6183764,
			// 1723161278762011237,,,50093250107,61849.49000000,2.15174000,61849.50000000,1.14730000
			pricefeed.BookTick{Time: 1723161278762, Bid: 6184949, BidQty: 215174, Ask: 6184950, AskQty: 114730}, 1723161254116},
		// 1723161255088169167,1723161256313,1723161256313,5123107839020,61800.20,2.507,61800.30,2.510
		{usdmBook, btcRules,
			pricefeed.BookTick{Time: 1723161256313, Bid: 618002, BidQty: 2507, Ask: 618003, AskQty: 2510}, 618003,
			// 1723161265724115235,1723161266991,1723161266991,5123108688124,61808.50,0.319,61808.60,5.761
			pricefeed.BookTick{Time: 1723161266991, Bid: 618085, BidQty: 319, Ask: 618086, AskQty: 5761}, 1723161256322},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			bs, err := pricefeed.ReadBookTicksFile(tt.file, tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			if len(bs) != 2000 || bs[0] != tt.first || bs[1999] != tt.last || bs[1].Time != tt.secondTim {
				t.Fatalf("got %d ticks: %+v, %+v … %+v", len(bs), bs[0], bs[1], bs[len(bs)-1])
			}
			if m := bs[0].Mid(); m != tt.firstMid {
				t.Errorf("Mid() = %d, want %d", m, tt.firstMid)
			}
		})
	}
}

func TestBookTickMid(t *testing.T) {
	tests := []struct {
		bid, ask, want exchange.Ticks
	}{
		{10, 10, 10},
		{10, 11, 11}, // half a tick rounds up
		{10, 12, 11},
		{10, 13, 12}, // 11.5 → 12
		{1, 2, 2},
		{0, 1, 1},
		{-3, 0, -1}, // −1.5 → −1: up, toward +∞
		{-4, -3, -3},
		{1<<62 + 1, 1<<62 + 2, 1<<62 + 2},
		{9223372036854775806, 9223372036854775807, 9223372036854775807}, // no overflow
	}
	for _, tt := range tests {
		if got := (pricefeed.BookTick{Bid: tt.bid, Ask: tt.ask}).Mid(); got != tt.want {
			t.Errorf("Mid(%d, %d) = %d, want %d", tt.bid, tt.ask, got, tt.want)
		}
	}
}

func TestReadBookTicksErrors(t *testing.T) {
	const h = "local_ts_ns,event_time_ms,transaction_time_ms,update_id,bid_price,bid_qty,ask_price,ask_qty\n"
	tests := []struct {
		name   string
		in     string
		line   int
		column string
		text   string
		is     error
	}{
		{"no header", "1723161255088169167,1723161256313,1723161256313,5,61800.20,2.507,61800.30,2.510\n", 1, "", "1723161255088169167,1723161256313,1723161256313,5,61800.20,2.507,61800.30,2.510", pricefeed.ErrFormat},
		{"crossed", h + "1723161255088169167,1723161256313,1723161256313,5,61800.40,2.507,61800.30,2.510\n", 2, "ask_price", "61800.30", pricefeed.ErrRange},
		{"zero bid", h + "1723161255088169167,1723161256313,1723161256313,5,0,2.507,61800.30,2.510\n", 2, "bid_price", "0", pricefeed.ErrRange},
		{"negative size", h + "1723161255088169167,1723161256313,1723161256313,5,61800.20,-2.507,61800.30,2.510\n", 2, "bid_qty", "-2.507", pricefeed.ErrRange},
		{"bad event time", h + "1723161255088169167,17231612563l3,1723161256313,5,61800.20,2.507,61800.30,2.510\n", 2, "event_time_ms", "17231612563l3", pricefeed.ErrSyntax},
		{"no time at all", h + ",,,5,61800.20,2.507,61800.30,2.510\n", 2, "local_ts_ns", "", pricefeed.ErrSyntax},
		{"time goes back", h + "1723161255088169167,1723161256313,,5,61800.20,2.507,61800.30,2.510\n1723161255088169168,,1723161256312,5,61800.20,2.507,61800.30,2.510\n", 3, "transaction_time_ms", "1723161256312", pricefeed.ErrOrder},
		{"short row", h + "1723161255088169167,1723161256313,1723161256313,5,61800.20,2.507,61800.30\n", 2, "", "1723161255088169167,1723161256313,1723161256313,5,61800.20,2.507,61800.30", pricefeed.ErrFieldCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pricefeed.ReadBookTicks(strings.NewReader(tt.in), btcRules)
			var ce *pricefeed.CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, %v; want a *CSVError", got, err)
			}
			if ce.Line != tt.line || ce.Column != tt.column || ce.Text != tt.text || !errors.Is(err, tt.is) {
				t.Errorf("got %v (line %d column %q text %q), want line %d column %q text %q matching %v", err, ce.Line, ce.Column, ce.Text, tt.line, tt.column, tt.text, tt.is)
			}
		})
	}
}

func FuzzReadBookTicks(f *testing.F) {
	for _, file := range []string{spotBook, usdmBook} {
		f.Add(gunzip(f, file)[:1500])
	}
	f.Add([]byte("local_ts_ns,event_time_ms,transaction_time_ms,update_id,bid_price,bid_qty,ask_price,ask_qty\n1,,,1,1,1,1,1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		bs, err := pricefeed.ReadBookTicks(bytes.NewReader(in), btcRules)
		if err != nil {
			if bs != nil {
				t.Fatalf("ticks %v with error %v", bs, err)
			}
			return
		}
		for i, b := range bs {
			if b.Bid <= 0 || b.Bid > b.Ask || b.BidQty < 0 || b.AskQty < 0 || (i > 0 && b.Time < bs[i-1].Time) {
				t.Fatalf("tick %d breaks the checks: %+v", i, b)
			}
			if m := b.Mid(); m < b.Bid || m > b.Ask {
				t.Fatalf("tick %d: mid %d outside [%d, %d]", i, m, b.Bid, b.Ask)
			}
		}
	})
}

func BenchmarkDecodeTrades(b *testing.B) {
	plain := gunzip(b, usdmTrades)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		ts, err := pricefeed.ReadTrades(bytes.NewReader(plain), btcRules)
		if err != nil {
			b.Fatal(err)
		}
		rows += len(ts)
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
