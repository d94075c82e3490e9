package binancetest

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type depthEvent struct {
	E        string      `json:"e"`
	Time     int64       `json:"E"` // present so that "E" does not land in e
	TxTime   int64       `json:"T"`
	Symbol   string      `json:"s"`
	First    int64       `json:"U"`
	Last     int64       `json:"u"`
	PrevLast int64       `json:"pu"`
	Bids     [][2]string `json:"b"`
	Asks     [][2]string `json:"a"`
}

func readDepth(t *testing.T, c *websocket.Conn) depthEvent {
	t.Helper()
	var w struct {
		Stream string     `json:"stream"`
		Data   depthEvent `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(readRaw(t, c)), &w))
	return w.Data
}

type snapshot struct {
	LastUpdateID int64       `json:"lastUpdateId"`
	Bids         [][2]string `json:"bids"`
	Asks         [][2]string `json:"asks"`
}

func depthSnapshot(t *testing.T, s *Server) snapshot {
	t.Helper()
	var d snapshot
	require.NoError(t, jsonUnmarshal(get(t, s, "/fapi/v1/depth", "symbol=BTCUSDT&limit=1000").body, &d))
	return d
}

func toMap(ls [][2]string) map[string]string {
	m := map[string]string{}
	for _, l := range ls {
		m[l[0]] = l[1]
	}
	return m
}

func apply(m map[string]string, ls [][2]string) {
	for _, l := range ls {
		if dec(l[1]).IsZero() {
			delete(m, l[0])
		} else {
			m[l[0]] = l[1]
		}
	}
}

// TestDepthDiffFollowsSnapshot runs the documented local order book
// procedure: buffer the @depth stream, take GET depth, drop events with
// u < lastUpdateId, start with the event holding lastUpdateId in [U, u],
// check pu against the previous u, apply; the result equals a later
// snapshot.
func TestDepthDiffFollowsSnapshot(t *testing.T) {
	s := newLive(t)
	ctx := t.Context()
	c := dialWS(t, s, "/public/stream?streams=btcusdt@depth@100ms")
	defer c.Close()
	require.NoError(t, s.WaitConns(ctx, "public", 1))
	order := func(params string) {
		a := call(t, s, "POST", "/fapi/v1/order", "symbol=BTCUSDT&type=LIMIT&timeInForce=GTC&"+params, true, time.Now().UnixMilli(), APIKey)
		require.Equal(t, 200, a.status, a.body)
	}
	order("side=BUY&quantity=0.003&price=59999.9")                                                              // event 1
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("60000.5")))                                              // event 2
	snap := depthSnapshot(t, s)                                                                                 // between 2 and 3
	order("side=SELL&quantity=0.004&price=60010")                                                               // event 3
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("59999.9")))                                              // event 4: fills the buy
	order("side=BUY&quantity=0.002&price=59000")                                                                // event 5
	a := call(t, s, "DELETE", "/fapi/v1/allOpenOrders", "symbol=BTCUSDT", true, time.Now().UnixMilli(), APIKey) // event 6
	require.Equal(t, 200, a.status, a.body)

	bids, asks := toMap(snap.Bids), toMap(snap.Asks)
	var prev int64
	applied := 0
	for i := 0; i < 6; i++ {
		ev := readDepth(t, c)
		assert.Equal(t, "depthUpdate", ev.E)
		assert.Equal(t, "BTCUSDT", ev.Symbol)
		if i > 0 {
			assert.Equal(t, prev, ev.PrevLast, "event %d: pu is the previous u", i)
		}
		prev = ev.Last
		if ev.Last < snap.LastUpdateID {
			continue
		}
		if applied == 0 {
			assert.LessOrEqual(t, ev.First, snap.LastUpdateID, "futures rule")
			assert.GreaterOrEqual(t, ev.Last, snap.LastUpdateID, "futures rule")
			assert.LessOrEqual(t, ev.First, snap.LastUpdateID+1, "spot rule")
			assert.GreaterOrEqual(t, ev.Last, snap.LastUpdateID+1, "spot rule")
		}
		apply(bids, ev.Bids)
		apply(asks, ev.Asks)
		applied++
	}
	assert.Equal(t, 4, applied, "events 3 to 6 follow the snapshot")
	final := depthSnapshot(t, s)
	assert.Equal(t, toMap(final.Bids), bids)
	assert.Equal(t, toMap(final.Asks), asks)
	assert.Equal(t, prev+1, final.LastUpdateID)
}

func TestPartialDepthAndTickers(t *testing.T) {
	s := newLive(t)
	ctx := t.Context()
	c := dialWS(t, s, "/public/ws/btcusdt@depth5/btcusdt@bookTicker")
	defer c.Close()
	m := dialWS(t, s, "/market/ws/btcusdt@kline_1h/btcusdt@markPrice")
	defer m.Close()
	require.NoError(t, s.WaitConns(ctx, "", 2))
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("60100")))
	got := map[string]map[string]any{}
	for i := 0; i < 2; i++ {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(readRaw(t, c)), &ev))
		got[ev["e"].(string)] = ev
	}
	p := got["depthUpdate"]
	require.NotNil(t, p)
	assert.Len(t, p["b"], 5)
	assert.Len(t, p["a"], 5)
	assert.Equal(t, []any{"60099.90", "1.000"}, p["b"].([]any)[0])
	assert.Equal(t, []any{"60100.10", "1.000"}, p["a"].([]any)[0])
	bt := got["bookTicker"]
	require.NotNil(t, bt)
	assert.Equal(t, "60099.90", bt["b"])
	assert.Equal(t, p["u"], bt["u"], "bookTicker u is the book's update ID")
	for i := 0; i < 2; i++ {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(readRaw(t, m)), &ev))
		got[ev["e"].(string)] = ev
	}
	k := got["kline"]["k"].(map[string]any)
	assert.Equal(t, "1h", k["i"])
	assert.Equal(t, "60100.00", k["c"])
	assert.Equal(t, float64(k["t"].(float64)+3600000-1), k["T"])
	assert.Equal(t, "60100.00000000", got["markPriceUpdate"]["p"])
	assert.Equal(t, "0.00010000", got["markPriceUpdate"]["r"])
}

// TestStreamNamesCase: symbols must be lower case and the rest spelled as
// documented; other spellings are accepted and stay silent.
func TestStreamNamesCase(t *testing.T) {
	s := newLive(t)
	ctx := t.Context()
	wrong := dialWS(t, s, "/market/ws/BTCUSDT@aggTrade/btcusdt@AGGTRADE/btcusdt@kline_1M")
	defer wrong.Close()
	right := dialWS(t, s, "/market/ws/btcusdt@aggTrade")
	defer right.Close()
	require.NoError(t, s.WaitConns(ctx, "market", 2))
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("60100")))
	assert.Contains(t, readRaw(t, right), `"e":"aggTrade"`)
	// kline_1M (a month) does carry data: it is a real stream.
	assert.Contains(t, readRaw(t, wrong), `"i":"1M"`)
	assert.Empty(t, quiet(wrong, 100*time.Millisecond), "a misspelt stream carried data")
}

// TestPeriodicStreams: partial depth and markPrice go out on their
// cadence without any market change, !markPrice@arr with every symbol.
func TestPeriodicStreams(t *testing.T) {
	eth := Symbol{Name: "ETHUSDT", TickSize: dec("0.01"), Price: dec("3000")}
	s := NewServer(WithSymbol(BTCUSDT()), WithSymbol(eth))
	defer s.Close()
	c := dialWS(t, s, "/public/ws/ethusdt@depth10@100ms")
	defer c.Close()
	m := dialWS(t, s, "/market/stream?streams=!markPrice@arr@1s/btcusdt@markPrice@1s")
	defer m.Close()
	k := dialWS(t, s, "/market/ws/ethusdt@kline_4h")
	defer k.Close()
	for i := 0; i < 2; i++ {
		ev := readDepth2(t, c)
		assert.Equal(t, "ETHUSDT", ev.Symbol)
		assert.Len(t, ev.Bids, 10)
		assert.Equal(t, "2999.99", ev.Bids[0][0])
	}
	seen := map[string]string{}
	for len(seen) < 2 {
		var w struct {
			Stream string          `json:"stream"`
			Data   json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(readRaw(t, m)), &w))
		seen[w.Stream] = string(w.Data)
	}
	var arr []map[string]any
	require.NoError(t, json.Unmarshal([]byte(seen["!markPrice@arr@1s"]), &arr))
	require.Len(t, arr, 2)
	assert.Equal(t, "BTCUSDT", arr[0]["s"])
	assert.Equal(t, "3000.00000000", arr[1]["p"])
	assert.True(t, strings.Contains(seen["btcusdt@markPrice@1s"], `"e":"markPriceUpdate"`))
	var kl struct {
		K map[string]any `json:"k"`
	}
	require.NoError(t, json.Unmarshal([]byte(readRaw(t, k)), &kl))
	assert.Equal(t, []any{"4h", "3000.00", "3000.00", 0.0, false, -1.0}, []any{kl.K["i"], kl.K["o"], kl.K["c"], kl.K["n"], kl.K["x"], kl.K["f"]},
		"an empty candle at the market price before any trade")
}

func readDepth2(t *testing.T, c *websocket.Conn) depthEvent {
	t.Helper()
	var ev depthEvent
	require.NoError(t, json.Unmarshal([]byte(readRaw(t, c)), &ev))
	return ev
}

// TestKlineClosedWhenBucketTurns: when a new minute starts, the last
// candle goes out once more with x true, then the new one.
func TestKlineClosedWhenBucketTurns(t *testing.T) {
	var now atomic.Int64
	now.Store(fixedMs)
	s := newLive(t, WithClock(func() time.Time { return time.UnixMilli(now.Load()) }))
	c := dialWS(t, s, "/market/ws/btcusdt@kline_1m")
	defer c.Close()
	require.NoError(t, s.WaitConns(t.Context(), "market", 1))
	kline := func() map[string]any {
		var ev struct {
			K map[string]any `json:"k"`
		}
		require.NoError(t, json.Unmarshal([]byte(readRaw(t, c)), &ev))
		return ev.K
	}
	minute := float64(fixedNow.Truncate(time.Minute).UnixMilli())
	require.NoError(t, s.SetPrice(t.Context(), "BTCUSDT", dec("60100")))
	k := kline()
	assert.Equal(t, []any{minute, false, "60100.00"}, []any{k["t"], k["x"], k["c"]})
	now.Store(fixedMs + 60_000)
	require.NoError(t, s.SetPrice(t.Context(), "BTCUSDT", dec("60200")))
	k = kline()
	assert.Equal(t, []any{minute, true, "60100.00"}, []any{k["t"], k["x"], k["c"]}, "the closed minute")
	k = kline()
	assert.Equal(t, []any{minute + 60_000, false, "60200.00", "60200.00"}, []any{k["t"], k["x"], k["o"], k["c"]})
}

// TestDepthDiffAfterQuietBook: while nobody follows the depth streams the
// update IDs still advance, and a late subscriber's procedure still ends
// on the snapshot's book.
func TestDepthDiffAfterQuietBook(t *testing.T) {
	s := newLive(t)
	ctx := t.Context()
	first := depthSnapshot(t, s).LastUpdateID
	a := placeOrder(t, s, "side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.003&price=59000&newClientOrderId=q1")
	require.Equal(t, 200, a.status, a.body)
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("60300")))
	snap0 := depthSnapshot(t, s)
	assert.Greater(t, snap0.LastUpdateID, first)

	c := dialWS(t, s, "/public/ws/btcusdt@depth")
	defer c.Close()
	require.NoError(t, s.WaitConns(ctx, "public", 1))
	snap := depthSnapshot(t, s)
	require.NoError(t, s.SetPrice(ctx, "BTCUSDT", dec("60200")))
	a = call(t, s, "DELETE", "/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=q1", true, time.Now().UnixMilli(), APIKey)
	require.Equal(t, 200, a.status, a.body)
	bids, asks := toMap(snap.Bids), toMap(snap.Asks)
	var prev int64
	for i := 0; i < 2; i++ {
		ev := readDepth2(t, c)
		if i == 0 {
			assert.LessOrEqual(t, ev.First, snap.LastUpdateID)
			assert.GreaterOrEqual(t, ev.Last, snap.LastUpdateID)
		} else {
			assert.Equal(t, prev, ev.PrevLast)
		}
		prev = ev.Last
		apply(bids, ev.Bids)
		apply(asks, ev.Asks)
	}
	final := depthSnapshot(t, s)
	assert.Equal(t, toMap(final.Bids), bids)
	assert.Equal(t, toMap(final.Asks), asks)
	assert.NotContains(t, bids, "59000.00")
}
