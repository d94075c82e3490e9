package binance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func eq(t *testing.T, what string, got, want decimal.Decimal) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFixturesCovered makes sure no testdata payload is left undecoded.
func TestFixturesCovered(t *testing.T) {
	decoded := map[string]bool{}
	for _, n := range decodedFixtures {
		decoded[n] = true
	}
	files, _ := filepath.Glob("testdata/*.json*")
	for _, f := range files {
		if !decoded[filepath.Base(f)] {
			t.Errorf("testdata %s is not decoded by any test", f)
		}
	}
}

var decodedFixtures = []string{
	"rest_exchangeinfo_docs.json", "rest_exchangeinfo_btcusdt_symbol.json", "rest_order_docs.json", "rest_order_gtx_real.json",
	"rest_batch_docs.json", "rest_batch_real_5022.json", "rest_cancel_docs.json", "rest_open_orders_docs.json",
	"rest_account_v3.json", "rest_account_config.json", "rest_position_risk_v3.json", "rest_position_risk_v2.json",
	"rest_symbol_config.json", "rest_klines_docs.json", "rest_klines_live.json", "rest_time.json", "rest_cancel_all.json",
	"rest_leverage.json", "rest_countdown.json", "rest_listen_key.json", "rest_listen_key_put.json",
	"ws_book_ticker.json", "ws_agg_trade.json", "ws_mark_price.json", "ws_kline.json", "ws_order_trade_update_docs.json",
	"ws_order_trade_update_lifecycle.jsonl", "ws_order_trade_update_real_rebate.json", "ws_trade_lite.json",
	"ws_account_update.json", "ws_account_config_leverage.json", "ws_account_config_multi.json", "ws_margin_call.json",
	"ws_listen_key_expired.json", "ws_subscribe.json",
}

func TestDecodeExchangeInfo(t *testing.T) {
	syms, limits, problems, err := decodeExchangeInfo(fixture(t, "rest_exchangeinfo_docs.json"))
	if err != nil || len(problems) != 0 {
		t.Fatalf("decode: %v %v", err, problems)
	}
	blz := syms["BLZUSDT"]
	want := exchange.Rules{Symbol: "BLZUSDT", TickSize: d("0.0001"), StepSize: d("1"), MinQty: d("1"), MinNotional: d("5.0")}
	if blz.rules.Symbol != want.Symbol || !blz.rules.TickSize.Equal(want.TickSize) || !blz.rules.StepSize.Equal(want.StepSize) ||
		!blz.rules.MinQty.Equal(want.MinQty) || !blz.rules.MinNotional.Equal(want.MinNotional) || blz.status != "TRADING" {
		t.Errorf("BLZUSDT = %+v, want %+v", blz, want)
	}
	eq(t, "BLZUSDT MaxQty", blz.rules.MaxQty, d("10000000"))
	eq(t, "BLZUSDT MarketMinQty", blz.rules.MarketMinQty, d("1"))
	eq(t, "BLZUSDT MarketMaxQty", blz.rules.MarketMaxQty, d("590119"))
	eq(t, "BLZUSDT maxPrice", blz.maxPrice, d("300"))
	wantLimits := []exchange.RateLimit{
		{Scope: "order", Interval: 10 * time.Second, Limit: 300},
		{Scope: "request", Interval: time.Minute, Limit: 2400},
		{Scope: "order", Interval: time.Minute, Limit: 1200},
	}
	if len(limits) != len(wantLimits) {
		t.Fatalf("limits = %+v", limits)
	}
	for i := range wantLimits {
		if limits[i] != wantLimits[i] {
			t.Errorf("limit %d = %+v, want %+v", i, limits[i], wantLimits[i])
		}
	}
	sym := fixture(t, "rest_exchangeinfo_btcusdt_symbol.json")
	syms, _, _, err = decodeExchangeInfo([]byte(`{"symbols":[` + string(sym) + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	btc := syms["BTCUSDT"].rules
	eq(t, "tick", btc.TickSize, d("0.1"))
	eq(t, "step", btc.StepSize, d("0.001"))
	eq(t, "minQty", btc.MinQty, d("0.001"))
	eq(t, "minNotional", btc.MinNotional, d("50"))
	eq(t, "MaxQty (LOT_SIZE, not MARKET_LOT_SIZE)", btc.MaxQty, d("1000"))
	eq(t, "MarketMinQty (MARKET_LOT_SIZE)", btc.MarketMinQty, d("0.001"))
	eq(t, "MarketMaxQty (MARKET_LOT_SIZE)", btc.MarketMaxQty, d("120"))
	eq(t, "market step", syms["BTCUSDT"].marketStep, d("0.001"))
	// A symbol whose rules do not validate is skipped and reported.
	syms, _, problems, _ = decodeExchangeInfo([]byte(`{"symbols":[{"symbol":"BADUSDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0"}]}]}`))
	if len(syms) != 0 || len(problems) != 1 || !strings.Contains(problems[0].Error(), "BADUSDT") {
		t.Errorf("bad symbol: %v %v", syms, problems)
	}
}

func TestDecodeRESTOrders(t *testing.T) {
	var w wireOrder
	if err := json.Unmarshal(fixture(t, "rest_order_docs.json"), &w); err != nil {
		t.Fatal(err)
	}
	o := w.order()
	if o.OrderID != "22542179" || o.ClientOrderID != "testOrder" || o.Side != exchange.Buy || o.PositionSide != exchange.PositionShort ||
		o.Status != exchange.StatusNew || o.Symbol != "BTCUSDT" || !o.UpdateTime.Equal(time.UnixMilli(1566818724722)) {
		t.Errorf("docs order = %+v", o)
	}
	eq(t, "origQty", o.Quantity, d("10"))
	eq(t, "avgPrice", o.AvgPrice, d("0"))

	if err := json.Unmarshal(fixture(t, "rest_order_gtx_real.json"), &w); err != nil {
		t.Fatal(err)
	}
	o = w.order()
	if o.OrderID != "1405234856" || o.TimeInForce != exchange.PostOnly || !o.ReduceOnly || o.PositionSide != exchange.PositionShort || o.Symbol != "PHBUSDT" {
		t.Errorf("GTX order = %+v", o)
	}
	eq(t, "price", o.Price, d("1.124"))
	eq(t, "qty", o.Quantity, d("22"))

	var c Client
	var items []json.RawMessage
	if err := json.Unmarshal(fixture(t, "rest_batch_docs.json"), &items); err != nil {
		t.Fatal(err)
	}
	r0, r1 := c.batchItem("place", items[0], time.Time{}), c.batchItem("place", items[1], time.Time{})
	if r0.Err != nil || r0.Order.OrderID != "22542179" || !errors.Is(r1.Err, exchange.ErrReduceOnlyRejected) {
		t.Errorf("docs batch = %+v, %+v", r0, r1)
	}
	if err := json.Unmarshal(fixture(t, "rest_batch_real_5022.json"), &items); err != nil {
		t.Fatal(err)
	}
	r0, r1 = c.batchItem("place", items[0], time.Time{}), c.batchItem("place", items[1], time.Time{})
	var ve *exchange.VenueError
	if !errors.Is(r0.Err, exchange.ErrPostOnlyRejected) || !errors.As(r0.Err, &ve) || ve.Code != -5022 || r1.Err != nil || r1.Order.ClientOrderID != "shrtnclsa772eeb9868c4dc98a43aab8fa64" {
		t.Errorf("real batch = %+v, %+v", r0, r1)
	}

	if err := json.Unmarshal(fixture(t, "rest_cancel_docs.json"), &w); err != nil {
		t.Fatal(err)
	}
	if o := w.order(); o.Status != exchange.StatusCanceled || o.OrderID != "283194212" || o.ClientOrderID != "myOrder1" {
		t.Errorf("cancel = %+v", o)
	}
	var ws []wireOrder
	if err := json.Unmarshal(fixture(t, "rest_open_orders_docs.json"), &ws); err != nil || len(ws) != 1 {
		t.Fatalf("open orders: %v %d", err, len(ws))
	}
	if o := ws[0].order(); o.ClientOrderID != "abc" || o.OrderID != "1917641" || !o.UpdateTime.Equal(time.UnixMilli(1579276756075)) {
		t.Errorf("open order = %+v", o)
	} else {
		eq(t, "open qty", o.Quantity, d("0.40"))
	}
	if hasNegativeCode(fixture(t, "rest_cancel_all.json")) {
		t.Error(`{"code":200} taken for an error`)
	}
}

func TestDecodeRESTAccount(t *testing.T) {
	var a wireAccount
	if err := json.Unmarshal(fixture(t, "rest_account_v3.json"), &a); err != nil {
		t.Fatal(err)
	}
	eq(t, "totalWallet", a.TotalWalletBalance.Decimal, d("103.12345678"))
	if len(a.Assets) != 1 || a.Assets[0].Asset != "USDT" {
		t.Fatalf("assets = %+v", a.Assets)
	}
	eq(t, "USDT wallet", a.Assets[0].WalletBalance.Decimal, d("23.72469206"))
	var ac wireAccountConfig
	if err := json.Unmarshal(fixture(t, "rest_account_config.json"), &ac); err != nil || !ac.DualSidePosition || !ac.CanTrade || ac.MultiAssetsMargin {
		t.Errorf("accountConfig = %+v %v", ac, err)
	}
	var pr []wirePositionRisk
	if err := json.Unmarshal(fixture(t, "rest_position_risk_v3.json"), &pr); err != nil || len(pr) != 1 {
		t.Fatalf("positionRisk v3: %v", err)
	}
	eq(t, "ADA amount", pr[0].PositionAmt.Decimal, d("30"))
	eq(t, "ADA entry", pr[0].EntryPrice.Decimal, d("0.385"))
	eq(t, "ADA mark", pr[0].MarkPrice.Decimal, d("0.41047590"))
	eq(t, "ADA upnl", pr[0].UnRealizedProfit.Decimal, d("0.76427700"))
	if err := json.Unmarshal(fixture(t, "rest_position_risk_v2.json"), &pr); err != nil || len(pr) != 1 || pr[0].PositionSide != "LONG" {
		t.Fatalf("positionRisk v2: %v %+v", err, pr)
	}
	eq(t, "v2 liquidation", pr[0].LiquidationPrice.Decimal, d("19731.45529116"))
	var sc []wireSymbolConfig
	if err := json.Unmarshal(fixture(t, "rest_symbol_config.json"), &sc); err != nil || sc[0].Leverage != 21 || parseMarginMode(sc[0].MarginType) != exchange.Cross {
		t.Errorf("symbolConfig = %+v %v", sc, err)
	}
	var lev struct{ Leverage int }
	if err := json.Unmarshal(fixture(t, "rest_leverage.json"), &lev); err != nil || lev.Leverage != 21 {
		t.Errorf("leverage = %+v %v", lev, err)
	}
	var cd struct{ Symbol, CountdownTime string }
	if err := json.Unmarshal(fixture(t, "rest_countdown.json"), &cd); err != nil || cd.CountdownTime != "100000" {
		t.Errorf("countdown = %+v %v", cd, err)
	}
	for _, f := range []string{"rest_listen_key.json", "rest_listen_key_put.json"} {
		var lk struct{ ListenKey string }
		if err := json.Unmarshal(fixture(t, f), &lk); err != nil || len(lk.ListenKey) != 64 {
			t.Errorf("%s: %+v %v", f, lk, err)
		}
	}
	var tm struct{ ServerTime int64 }
	if err := json.Unmarshal(fixture(t, "rest_time.json"), &tm); err != nil || tm.ServerTime != 1499827319559 {
		t.Errorf("time = %+v %v", tm, err)
	}
}

func TestDecodeRESTKlines(t *testing.T) {
	now := time.UnixMilli(1789478219999)
	ks, err := decodeRESTKlines("BTCUSDT", "1m", fixture(t, "rest_klines_live.json"), now)
	if err != nil || len(ks) != 1 {
		t.Fatalf("live klines: %v %d", err, len(ks))
	}
	k := ks[0]
	if !k.OpenTime.Equal(time.UnixMilli(1789478160000)) || !k.CloseTime.Equal(time.UnixMilli(1789478219999)) || !k.Closed || k.Interval != "1m" {
		t.Errorf("kline = %+v", k)
	}
	eq(t, "open", k.Open, d("76936.20"))
	eq(t, "high", k.High, d("76965.50"))
	eq(t, "low", k.Low, d("76936.10"))
	eq(t, "close", k.Close, d("76965.40"))
	eq(t, "volume", k.Volume, d("20.680"))
	ks, err = decodeRESTKlines("X", "1d", fixture(t, "rest_klines_docs.json"), time.UnixMilli(1499644799998))
	if err != nil || len(ks) != 1 || ks[0].Closed {
		t.Fatalf("docs klines: %v %+v", err, ks)
	}
	eq(t, "docs volume", ks[0].Volume, d("148976.11427815"))
	if _, err := decodeRESTKlines("X", "1m", []byte(`[[1,"1"]]`), now); err == nil {
		t.Error("short row accepted")
	}
}

func TestDecodeMarketStreams(t *testing.T) {
	p, err := DecodeBookTicker(fixture(t, "ws_book_ticker.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Symbol != "BNBUSDT" || !p.Time.Equal(time.UnixMilli(1568014460891)) {
		t.Errorf("bookTicker = %+v", p)
	}
	eq(t, "bid", p.Bid, d("25.35190000"))
	eq(t, "ask", p.Ask, d("25.36520000"))
	eq(t, "mid", p.Price, d("25.35855"))

	p, err = DecodeAggTrade(fixture(t, "ws_agg_trade.json"))
	if err != nil || p.Symbol != "BTCUSDT" || !p.Time.Equal(time.UnixMilli(123456785)) || !p.Bid.IsZero() {
		t.Fatalf("aggTrade = %+v %v", p, err)
	}
	eq(t, "trade price", p.Price, d("0.001"))

	m, err := DecodeMarkPrice(fixture(t, "ws_mark_price.json"))
	if err != nil || m.Symbol != "BTCUSDT" || !m.NextFundingTime.Equal(time.UnixMilli(1562306400000)) || !m.Time.Equal(time.UnixMilli(1562305380000)) {
		t.Fatalf("markPrice = %+v %v", m, err)
	}
	eq(t, "mark", m.MarkPrice, d("11794.15"))
	eq(t, "index", m.IndexPrice, d("11784.62659091"))
	eq(t, "funding", m.FundingRate, d("0.00038167"))

	k, err := DecodeKline(fixture(t, "ws_kline.json"))
	if err != nil || k.Symbol != "BTCUSDT" || k.Interval != "1m" || k.Closed || !k.OpenTime.Equal(time.UnixMilli(1638747660000)) || !k.CloseTime.Equal(time.UnixMilli(1638747719999)) {
		t.Fatalf("kline = %+v %v", k, err)
	}
	eq(t, "o", k.Open, d("0.0010"))
	eq(t, "h", k.High, d("0.0025"))
	eq(t, "l", k.Low, d("0.0015"))
	eq(t, "c", k.Close, d("0.0020"))
	eq(t, "v", k.Volume, d("1000"))
}

func user(t *testing.T, b []byte) userMessage {
	t.Helper()
	m, err := decodeUserMessage(b)
	if err != nil {
		t.Fatalf("decodeUserMessage(%s): %v", b, err)
	}
	return m
}

func TestDecodeOrderTradeUpdates(t *testing.T) {
	u, err := DecodeOrderTradeUpdate(fixture(t, "ws_order_trade_update_docs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Symbol != "BTCUSDT" || u.ClientOrderID != "TEST" || u.Side != exchange.Sell || u.Status != exchange.StatusNew || u.OrderID != "8886774" ||
		u.PositionSide != exchange.PositionLong || u.Kind != exchange.ExecNormal || !u.LastFillQty.IsZero() || u.TradeID != "" || u.Reason != "" ||
		!u.Time.Equal(time.UnixMilli(1568879465650)) {
		t.Errorf("docs update = %+v", u)
	}
	eq(t, "q", u.Quantity, d("0.001"))

	lines := bytes.Split(bytes.TrimSpace(fixture(t, "ws_order_trade_update_lifecycle.jsonl")), []byte("\n"))
	want := []struct {
		status            exchange.OrderStatus
		filled, last, fee string
		trade             string
	}{
		{exchange.StatusNew, "0", "0", "0", ""},
		{exchange.StatusPartiallyFilled, "0.001", "0.001", "0.012", "900001"},
		{exchange.StatusFilled, "0.002", "0.001", "0.012", "900002"},
	}
	for i, line := range lines {
		m := user(t, line)
		u := m.event.Order
		if !m.deliver || m.event.Kind != exchange.EventOrder || u.Status != want[i].status || u.ClientOrderID != "g1-b-0001" || u.TradeID != want[i].trade {
			t.Errorf("lifecycle %d = %+v", i, m)
		}
		eq(t, "filled", u.FilledQty, d(want[i].filled))
		eq(t, "last", u.LastFillQty, d(want[i].last))
		eq(t, "fee", u.Fee, d(want[i].fee))
		if i > 0 && (!u.Maker || u.FeeAsset != "USDT" || !u.LastFillPrice.Equal(d("60000.0"))) {
			t.Errorf("lifecycle %d fill = %+v", i, u)
		}
	}

	u, err = DecodeOrderTradeUpdate(fixture(t, "ws_order_trade_update_real_rebate.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The maker rebate arrives negative and stays negative: fee < 0 is a rebate.
	eq(t, "rebate", u.Fee, d("-0.00074625"))
	if u.FeeAsset != "BUSD" || !u.Maker || u.Status != exchange.StatusFilled || u.TradeID != "87445238" || u.ClientOrderID != "ios_3pdK38TLtMRjqN6y5WBZ" {
		t.Errorf("real fill = %+v", u)
	}
	eq(t, "last price", u.LastFillPrice, d("2487.51"))
	eq(t, "average price", u.AvgPrice, d("2487.51"))

	// Liquidation and ADL are told by their client order IDs, expiry by er.
	base := string(fixture(t, "ws_order_trade_update_docs.json"))
	for _, c := range []struct {
		from, to string
		kind     exchange.ExecKind
		reason   string
	}{
		{`"c": "TEST"`, `"c": "autoclose-1700000000"`, exchange.ExecLiquidation, ""},
		{`"c": "TEST"`, `"c": "adl_autoclose"`, exchange.ExecADL, ""},
		{`"o": "TRAILING_STOP_MARKET"`, `"o": "LIQUIDATION"`, exchange.ExecLiquidation, ""},
		{`"er": "0"`, `"er": "4"`, exchange.ExecNormal, "reduce-only knock-out"},
		{`"er": "0"`, `"er": "5"`, exchange.ExecNormal, "account liquidated"},
	} {
		u, err := DecodeOrderTradeUpdate([]byte(strings.Replace(base, c.from, c.to, 1)))
		if err != nil || u.Kind != c.kind || u.Reason != c.reason {
			t.Errorf("%s: kind %v reason %q err %v, want %v %q", c.to, u.Kind, u.Reason, err, c.kind, c.reason)
		}
	}
	// AMENDMENT events carry "M" (modifyId) beside "m" (maker): both decode.
	amend := strings.Replace(base, `"x": "NEW"`, `"x": "AMENDMENT", "M": "mod-1"`, 1)
	if _, err := DecodeOrderTradeUpdate([]byte(amend)); err != nil {
		t.Errorf("AMENDMENT with M: %v", err)
	}
	if _, err := DecodeOrderTradeUpdate(fixture(t, "ws_trade_lite.json")); err == nil {
		t.Error("TRADE_LITE decoded as ORDER_TRADE_UPDATE")
	}
}

func TestDecodeUserEvents(t *testing.T) {
	if m := user(t, fixture(t, "ws_trade_lite.json")); m.deliver || m.keyExpired {
		t.Errorf("TRADE_LITE = %+v, want ignored", m)
	}
	m := user(t, fixture(t, "ws_account_update.json"))
	ev := m.event
	if !m.deliver || ev.Kind != exchange.EventAccount || ev.Reason != "ORDER" || len(ev.Balances) != 2 || len(ev.Positions) != 3 || !ev.Time.Equal(time.UnixMilli(1564745798939)) {
		t.Fatalf("ACCOUNT_UPDATE = %+v", m)
	}
	eq(t, "USDT wallet", ev.Balances[0].WalletBalance, d("122624.12345678"))
	short := ev.Positions[2]
	if short.Symbol != "BTCUSDT" || short.PositionSide != exchange.PositionShort || short.MarginMode != exchange.Isolated {
		t.Errorf("short = %+v", short)
	}
	eq(t, "short qty", short.Quantity, d("-10"))
	eq(t, "short entry", short.EntryPrice, d("6563.86000"))
	eq(t, "short upnl", short.UnrealizedPnL, d("-1423.15600"))

	m = user(t, fixture(t, "ws_account_config_leverage.json"))
	if m.event.Kind != exchange.EventConfig || m.event.Reason != "leverage BTCUSDT 25" {
		t.Errorf("leverage config = %+v", m.event)
	}
	m = user(t, fixture(t, "ws_account_config_multi.json"))
	if m.event.Kind != exchange.EventConfig || m.event.Reason != "multi-assets true" {
		t.Errorf("multi-assets config = %+v", m.event)
	}
	m = user(t, fixture(t, "ws_margin_call.json"))
	if m.event.Kind != exchange.EventMarginCall || len(m.event.Positions) != 1 || m.event.Reason != "margin call, cross wallet 3.16812045" {
		t.Fatalf("MARGIN_CALL = %+v", m.event)
	}
	p := m.event.Positions[0]
	if p.Symbol != "ETHUSDT" || p.PositionSide != exchange.PositionLong {
		t.Errorf("margin call position = %+v", p)
	}
	eq(t, "mark", p.MarkPrice, d("187.17127"))
	eq(t, "qty", p.Quantity, d("1.327"))
	if m := user(t, fixture(t, "ws_listen_key_expired.json")); !m.keyExpired || m.deliver {
		t.Errorf("listenKeyExpired = %+v", m)
	}
	// A control answer and unknown events are ignored.
	for _, b := range []string{`{"result":null,"id":1}`, `{"e":"GRID_UPDATE","E":1}`, `{"e":"ALGO_UPDATE","E":1,"o":{}}`} {
		if m := user(t, []byte(b)); m.deliver || m.keyExpired {
			t.Errorf("%s = %+v, want ignored", b, m)
		}
	}
	// The client's SUBSCRIBE request is valid JSON the stream never sends us.
	var sub struct {
		Method string
		Params []string
		ID     int
	}
	if err := json.Unmarshal(fixture(t, "ws_subscribe.json"), &sub); err != nil || sub.Method != "SUBSCRIBE" || sub.ID != 1 {
		t.Errorf("subscribe = %+v %v", sub, err)
	}
	// Malformed messages are errors naming the event, never panics.
	for _, b := range []string{`{"e":"ORDER_TRADE_UPDATE","o":{"q":"abc"}}`, `{"e":"ACCOUNT_UPDATE"}`, `not json`} {
		_, err := decodeUserMessage([]byte(b))
		var se *StreamError
		if !errors.As(err, &se) {
			t.Errorf("%s: error %v, want *StreamError", b, err)
		}
	}
}

func seedStreamCorpus(f *testing.F) {
	files, _ := filepath.Glob("testdata/ws_*")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		for _, line := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(line)) > 0 {
				f.Add(line)
			}
		}
		f.Add(b)
	}
}

func FuzzDecodeUserMessage(f *testing.F) {
	seedStreamCorpus(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeUserMessage(b)
		if err != nil {
			var se *StreamError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not *StreamError", err)
			}
			return
		}
		if m.deliver && (m.event.Kind < exchange.EventOrder || m.event.Kind > exchange.EventConfig) {
			t.Fatalf("delivered kind %v", m.event.Kind)
		}
		if m.deliver && m.event.Kind == exchange.EventOrder {
			if u, err := DecodeOrderTradeUpdate(b); err != nil || u != m.event.Order && !sameUpdate(u, m.event.Order) {
				t.Fatalf("DecodeOrderTradeUpdate disagrees: %+v vs %+v (%v)", u, m.event.Order, err)
			}
		}
		sameWithCache(t, b, m, err)
	})
}

// sameWithCache checks that the user stream's cached decoding (a cache
// primed with a fixture, then the message twice) gives exactly what the
// stateless decoding gives.
func sameWithCache(t *testing.T, b []byte, want userMessage, wantErr error) {
	t.Helper()
	var c streamCache
	_, _ = decodeUserMessageWith([]byte(`{"e":"ORDER_TRADE_UPDATE","E":1,"o":{"s":"BTCUSDT","c":"x","S":"BUY","q":"1","p":"2","i":3,"t":4,"N":"USDT","n":"0.1"}}`), &c)
	for i := 0; i < 2; i++ {
		got, err := decodeUserMessageWith(b, &c)
		if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("cached decoding %d of %s:\n got %+v (%v)\nwant %+v (%v)", i, b, got, err, want, wantErr)
		}
	}
}

func sameUpdate(a, b exchange.OrderUpdate) bool {
	return a.OrderID == b.OrderID && a.ClientOrderID == b.ClientOrderID && a.Status == b.Status && a.FilledQty.Equal(b.FilledQty)
}

func FuzzDecodeMarketStreams(f *testing.F) {
	seedStreamCorpus(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := DecodeBookTicker(b); err == nil && (!p.Bid.IsPositive() || !p.Ask.IsPositive() || p.Symbol == "") {
			t.Fatalf("bookTicker accepted %+v", p)
		}
		if p, err := DecodeAggTrade(b); err == nil && !p.Price.IsPositive() {
			t.Fatalf("aggTrade accepted %+v", p)
		}
		if m, err := DecodeMarkPrice(b); err == nil && !m.MarkPrice.IsPositive() {
			t.Fatalf("markPrice accepted %+v", m)
		}
		_, _ = DecodeKline(b)
		_, _ = decodeRESTKlines("X", "1m", b, time.Time{})
		_, _, _, _ = decodeExchangeInfo(b)
	})
}

// BenchmarkDecodeOrderTradeUpdate measures one ORDER_TRADE_UPDATE fill
// event through the stateless user-stream decoder (the real captured fill
// of the sheet).
func BenchmarkDecodeOrderTradeUpdate(b *testing.B) {
	msg, err := os.ReadFile("testdata/ws_order_trade_update_real_rebate.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		m, err := decodeUserMessage(msg)
		if err != nil || !m.deliver {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeOrderTradeUpdateStream decodes as the user stream does,
// with its cache, a grid's traffic: 2,048 orders, each with its own client
// order ID, order ID and trade ID, at 8 price levels and one quantity; for
// each its NEW, then its FILLED event. New IDs cost their strings; the
// repeated prices, quantity, fee, symbol and asset cost nothing once seen.
func BenchmarkDecodeOrderTradeUpdateStream(b *testing.B) {
	var msgs [][]byte
	for i := range 2048 {
		price := fmt.Sprintf("%d.5", 60000+10*(i%8))
		msgs = append(msgs,
			[]byte(fmt.Sprintf(`{"e":"ORDER_TRADE_UPDATE","T":1643186482920,"E":1643186482925,"o":{"s":"BTCUSDT","c":"g1-b-%d","S":"BUY","o":"LIMIT","f":"GTX","q":"0.002","p":"%s","ap":"0","sp":"0","x":"NEW","X":"NEW","i":%d,"l":"0","z":"0","L":"0","n":"0","N":"USDT","T":1643186482920,"t":0,"b":"0","a":"0","m":false,"R":false,"wt":"CONTRACT_PRICE","ot":"LIMIT","ps":"BOTH","cp":false,"rp":"0","pP":false,"si":0,"ss":0}}`,
				i, price, 2844843857+i)),
			[]byte(fmt.Sprintf(`{"e":"ORDER_TRADE_UPDATE","T":1643186482920,"E":1643186482925,"o":{"s":"BTCUSDT","c":"g1-b-%d","S":"BUY","o":"LIMIT","f":"GTX","q":"0.002","p":"%s","ap":"%[2]s","sp":"0","x":"TRADE","X":"FILLED","i":%d,"l":"0.002","z":"0.002","L":"%[2]s","n":"-0.0024","N":"USDT","T":1643186482920,"t":%d,"b":"0","a":"0","m":true,"R":false,"wt":"CONTRACT_PRICE","ot":"LIMIT","ps":"BOTH","cp":false,"rp":"0","pP":false,"si":0,"ss":0}}`,
				i, price, 2844843857+i, 87445238+i)))
	}
	var c streamCache
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m, err := decodeUserMessageWith(msgs[i%len(msgs)], &c)
		if err != nil || !m.deliver {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDecodeBookTicker decodes the sheet's bookTicker with the
// stateless DecodeBookTicker.
func BenchmarkDecodeBookTicker(b *testing.B) {
	msg, err := os.ReadFile("testdata/ws_book_ticker.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBookTicker(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBookTickerStream decodes as a price stream does: one
// decoder with its cache for the stream, over 4,096 messages of a random
// walk of the book (each message moves the bid or the ask one tick, 0.1,
// keeping the spread between 1 and 4 ticks) around 95,000.
func BenchmarkDecodeBookTickerStream(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	bid, ask := int64(950000), int64(950001) // tenths
	var msgs [][]byte
	for i := range 4096 {
		switch step := int64(rng.IntN(2)*2 - 1); {
		case rng.IntN(2) == 0 && ask-(bid+step) >= 1 && ask-(bid+step) <= 4:
			bid += step
		case ask+step-bid >= 1 && ask+step-bid <= 4:
			ask += step
		default:
			bid, ask = bid+step, ask+step
		}
		msgs = append(msgs, []byte(fmt.Sprintf(`{"e":"bookTicker","u":%d,"E":1568014460893,"T":1568014460891,"s":"BTCUSDT","b":"%d.%d","B":"3.121","a":"%d.%d","A":"0.066"}`,
			400900217+i, bid/10, bid%10, ask/10, ask%10)))
	}
	d := bookDecoder{cache: new(streamCache)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := d.decode(msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
