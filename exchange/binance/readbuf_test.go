package binance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gorilla/websocket"
)

func TestReadMessageInto(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789abcdef"), 300) // 4,800 bytes: grows past readBufStart
	for _, tc := range []struct {
		name string
		msg  []byte
		buf  []byte // the buffer handed in (its old bytes must not leak into the answer)
	}{
		{"empty message, no buffer", nil, nil},
		{"short message, no buffer", []byte(`{"e":"bookTicker"}`), nil},
		{"long message, no buffer", long, nil},
		{"short message into a used buffer", []byte(`{"a":1}`), append(make([]byte, 0, 64), "stale stale stale"...)},
		{"long message into a small used buffer", long, append(make([]byte, 0, 8), "stale"...)},
		{"message exactly filling the buffer", []byte("12345678"), make([]byte, 0, 8)},
	} {
		for _, rd := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{
			{"whole", func(r io.Reader) io.Reader { return r }},
			{"one byte at a time", iotest.OneByteReader},
			{"half reads", iotest.HalfReader},
			{"EOF with the last data", iotest.DataErrReader},
		} {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				got, err := readMessageInto(tc.buf[:0], rd.wrap(bytes.NewReader(tc.msg)))
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if !bytes.Equal(got, tc.msg) {
					t.Fatalf("got %q, want %q", got, tc.msg)
				}
			})
		}
	}
}

func TestReadMessageIntoError(t *testing.T) {
	boom := fmt.Errorf("boom")
	r := io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(boom))
	got, err := readMessageInto(nil, r)
	if err != boom {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if string(got) != "partial" {
		t.Fatalf("got %q, want the bytes read before the error", got)
	}
}

// TestReadLoopReusedBufferDeliversEachMessage runs the stream reader over
// a real WebSocket whose messages shrink and grow around the buffer's
// sizes (including one above readBufKeep, after which the buffer is
// dropped): each message reaches the handler whole, with no byte of an
// earlier, longer one.
func TestReadLoopReusedBufferDeliversEachMessage(t *testing.T) {
	msgs := [][]byte{
		[]byte(`{"e":"bookTicker","s":"BTCUSDT","b":"60000.1","a":"60000.2"}`),
		bytes.Repeat([]byte("x"), 3000),
		[]byte(`{}`),
		bytes.Repeat([]byte("y"), readBufKeep+100),
		[]byte(`{"e":"ORDER_TRADE_UPDATE"}`),
		bytes.Repeat([]byte("z"), readBufStart),
		[]byte(`a`),
	}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for _, m := range msgs {
			if err := conn.WriteMessage(websocket.TextMessage, m); err != nil {
				return
			}
		}
		// Hold the connection until the client closes it.
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := vectorClient(t, Config{RESTURL: srv.URL, WSURL: "ws" + strings.TrimPrefix(srv.URL, "http")})
	conn, err := c.dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var (
		mu  sync.Mutex
		got []string
	)
	done := make(chan error, 1)
	go func() {
		done <- c.readLoop(context.Background(), conn, func(_ context.Context, msg []byte) bool {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, string(msg))
			return len(got) < len(msgs)
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("readLoop: %v", err)
		}
	case <-time.After(10 * time.Second):
		conn.Close()
		<-done
		t.Fatal("readLoop did not deliver every message")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(msgs) {
		t.Fatalf("got %d messages, want %d", len(got), len(msgs))
	}
	for i, m := range msgs {
		if got[i] != string(m) {
			t.Errorf("message %d: got %d bytes %.40q…, want %d bytes %.40q…", i, len(got[i]), got[i], len(m), m)
		}
	}
}

// TestStreamDecodersKeepNoInputBytes checks the rule the reused read
// buffer relies on: what a stream's decoder returns shares no byte with
// the message. Each message is decoded from a buffer that is then
// overwritten by the next message (as the stream's reader does), and the
// results must still read as they did when decoded from a private copy.
func TestStreamDecodersKeepNoInputBytes(t *testing.T) {
	lines := func(name string) [][]byte {
		var out [][]byte
		for _, l := range bytes.Split(bytes.TrimSpace(fixture(t, name)), []byte("\n")) {
			out = append(out, l)
		}
		return out
	}
	var userMsgs [][]byte
	for _, name := range []string{"ws_order_trade_update_docs.json", "ws_order_trade_update_real_rebate.json",
		"ws_account_update.json", "ws_margin_call.json", "ws_account_config_leverage.json", "ws_account_config_multi.json"} {
		userMsgs = append(userMsgs, fixture(t, name))
	}
	userMsgs = append(userMsgs, lines("ws_order_trade_update_lifecycle.jsonl")...)
	// An expiry reason and an escaped client ID take the other paths.
	userMsgs = append(userMsgs,
		[]byte(`{"e":"ORDER_TRADE_UPDATE","E":1,"T":1,"o":{"s":"BTCUSDT","c":"g1-b-0009","S":"SELL","o":"LIMIT","f":"GTX","q":"0.002","p":"61000.0","ap":"0","x":"EXPIRED","X":"EXPIRED","i":77,"l":"0","z":"0","L":"0","T":1,"t":0,"m":false,"R":false,"ps":"BOTH","rp":"0","er":"8"}}`),
		[]byte(`{"e":"ORDER_TRADE_UPDATE","E":2,"T":2,"o":{"s":"BTCUSDT","c":"g1-\u0062-0010","S":"BUY","o":"LIMIT","f":"GTX","q":"0.002","p":"59000.0","ap":"0","x":"NEW","X":"NEW","i":78,"l":"0","z":"0","L":"0","T":2,"t":0,"m":false,"R":false,"ps":"BOTH","rp":"0"}}`))

	var cache streamCache
	book := bookDecoder{cache: new(streamCache)}
	decoders := []struct {
		name   string
		msgs   [][]byte
		decode func([]byte) (any, error)
	}{
		{"user stream (cached)", userMsgs, func(b []byte) (any, error) {
			m, err := decodeUserMessageWith(b, &cache)
			return m.event, err
		}},
		{"user stream (stateless)", userMsgs, func(b []byte) (any, error) {
			m, err := decodeUserMessage(b)
			return m.event, err
		}},
		{"bookTicker (stream decoder)", [][]byte{fixture(t, "ws_book_ticker.json"),
			[]byte(`{"e":"bookTicker","u":1,"E":2,"T":3,"s":"ETHUSDT","b":"3000.12","B":"1","a":"3000.13","A":"2"}`)},
			func(b []byte) (any, error) { return book.decode(b) }},
		{"aggTrade", [][]byte{fixture(t, "ws_agg_trade.json")}, func(b []byte) (any, error) { return DecodeAggTrade(b) }},
		{"markPrice", [][]byte{fixture(t, "ws_mark_price.json")}, func(b []byte) (any, error) { return DecodeMarkPrice(b) }},
		{"kline", [][]byte{fixture(t, "ws_kline.json")}, func(b []byte) (any, error) { return DecodeKline(b) }},
	}
	for _, dc := range decoders {
		t.Run(dc.name, func(t *testing.T) {
			var buf []byte
			var kept []any
			var want []string
			for _, m := range dc.msgs {
				ref, err := dc.decode(bytes.Clone(m))
				if err != nil {
					t.Fatalf("decode %s: %v", m, err)
				}
				want = append(want, fmt.Sprintf("%+v", ref))
				buf = append(buf[:0], m...)
				v, err := dc.decode(buf)
				if err != nil {
					t.Fatalf("decode %s: %v", m, err)
				}
				kept = append(kept, v)
			}
			for i := range buf {
				buf[i] = '#'
			}
			for i, v := range kept {
				if got := fmt.Sprintf("%+v", v); got != want[i] {
					t.Errorf("message %d changed when the buffer was reused:\n got %s\nwant %s", i, got, want[i])
				}
			}
		})
	}
}
