package binance

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
)

// FuzzFastDecoders checks that the flat scanner decodes exactly what
// encoding/json decodes whenever it does not decline, and that a REST
// order answer (wireOrder, which falls back itself) always decodes as
// encoding/json's reflection does.
func FuzzFastDecoders(f *testing.F) {
	seedStreamCorpus(f)
	f.Add([]byte(`{"e":"ORDER_TRADE_UPDATE","o":{"s":"A","S":"B","Q":"1","q":"2"}}`))
	f.Add([]byte(`{"e":"bookTicker","b":"1","b":null,"s":"\u0041"}`))
	f.Add([]byte(`{"o":{"c":"x"},"o":{"s":"y"},"o":null}`))
	f.Add([]byte(`{"e":"bookTicker","s":"A","b":"1","a":"2","ſ":"B"}`))
	f.Add(fixture(f, "rest_order_gtx_real.json"))
	f.Add([]byte(`{"orderId":1,"ORDERID":"2","price":null,"code":-1}`))
	f.Add([]byte(`{"e":"ORDER_TRADE_UPDATE","o":{"s":"A","ſ":"B","\u212a":"k"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		if fast, err := fastOTU(b); err == nil {
			var slow wireOTU
			if err := json.Unmarshal(b, &slow); err != nil {
				t.Fatalf("fast path accepted what encoding/json refuses (%v): %s", err, b)
			}
			if !reflect.DeepEqual(normOTU(fast), normOTU(slow)) {
				t.Fatalf("ORDER_TRADE_UPDATE paths disagree on %s:\nfast %+v\nslow %+v", b, fast, slow)
			}
		}
		sameBook(t, b)
		sameWireOrder(t, b)
		if fast, err := fastBookTicker(b); err == nil {
			var slow wireBookTicker
			if err := json.Unmarshal(b, &slow); err != nil {
				t.Fatalf("fast path accepted what encoding/json refuses (%v): %s", err, b)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("bookTicker paths disagree on %s:\nfast %+v\nslow %+v", b, fast, slow)
			}
		}
	})
}

// normOTU makes the raw expiry reason comparable (a nil and an absent
// RawMessage are the same).
func normOTU(w wireOTU) wireOTU {
	if len(w.O.ExpiryReason) == 0 {
		w.O.ExpiryReason = nil
	} else {
		w.O.ExpiryReason = append(json.RawMessage(nil), w.O.ExpiryReason...)
	}
	return w
}

func TestFastDecodersTakeTheFixtures(t *testing.T) {
	for _, name := range []string{"ws_order_trade_update_docs.json", "ws_order_trade_update_real_rebate.json"} {
		b := fixture(t, name)
		fast, err := fastOTU(b)
		if err != nil {
			t.Fatalf("%s: fast path declined: %v", name, err)
		}
		var slow wireOTU
		if err := json.Unmarshal(b, &slow); err != nil || !reflect.DeepEqual(normOTU(fast), normOTU(slow)) {
			t.Errorf("%s: fast %+v slow %+v (%v)", name, fast, slow, err)
		}
	}
	if _, err := fastBookTicker(fixture(t, "ws_book_ticker.json")); err != nil {
		t.Errorf("bookTicker fast path declined: %v", err)
	}
	// Declines: escapes, a case twin of a known key.
	for _, b := range []string{`{"e":"ORDER_TRADE_UPDATE","o":{"c":"a\"b"}}`, `{"e":"ORDER_TRADE_UPDATE","o":{"Q":"1"}}`, `{"O":{}}`} {
		if _, err := fastOTU([]byte(b)); err != errFallback {
			t.Errorf("%s: fast path did not decline (%v)", b, err)
		}
	}
}

// sameBook checks that the bookTicker decoder — fresh, reused on the same
// message, and primed with another — gives what the reference path
// (encoding/json and decimal arithmetic) gives: the same error-ness,
// symbol and time, and equal prices.
func sameBook(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := decodeBookTickerSlow(b)
	fresh := bookDecoder{cache: new(streamCache)}
	primed := bookDecoder{cache: new(streamCache)}
	_, _ = primed.decode([]byte(`{"e":"bookTicker","s":"BTCUSDT","b":"25.35190000","a":"25.36520000","B":"1","A":"2"}`))
	for i, d := range []*bookDecoder{{}, &fresh, &fresh, &primed} {
		got, err := d.decode(b)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decoder %d on %s: error %v, reference %v", i, b, err, wantErr)
		}
		if err != nil {
			continue
		}
		if got.Symbol != want.Symbol || !got.Time.Equal(want.Time) || !got.Bid.Equal(want.Bid) || !got.Ask.Equal(want.Ask) || !got.Price.Equal(want.Price) {
			t.Fatalf("decoder %d on %s:\n got %+v\nwant %+v", i, b, got, want)
		}
	}
}

func TestBookDecoderAgrees(t *testing.T) {
	for _, m := range []string{
		string(fixture(t, "ws_book_ticker.json")),
		`{"s":"BTCUSDT","b":"95000.1","a":"95000.2","T":5}`,
		`{"s":"BTCUSDT","b":"95000.1","a":"95000.15","E":7}`,
		`{"s":"BTCUSDT","b":"1e3","a":"1000.5"}`,
		`{"s":"BTCUSDT","b":"999999999999999999","a":"999999999999999999"}`,
		`{"s":"BTCUSDT","b":"0.000000000000000001","a":"900000000000000000"}`,
		`{"s":"BTCUSDT","b":"1","b":null,"a":"2"}`,
		`{"s":"BTCUSDT","b":"1","a":"2","B":"x"}`,
		`{"s":"BTCUSDT","b":"-1","a":"2"}`,
		`{"s":"BTC\u0055SDT","b":"1","a":"2"}`,
		`{"S":"BTCUSDT","b":"1","a":"2"}`,
		`{"s":"BTCUSDT","b":1.5,"a":2}`,
		`{"s":"BTCUSDT","b":"1","a":"2","u":"x"}`,
		`{"s":"BTCUSDT","a":"2"}`,
		`[1]`, `{`, `{"s":null,"b":"1","a":"2"}`,
	} {
		sameBook(t, []byte(m))
	}
	// The stream's decoder reuses the symbol and the decimals it has seen.
	d := bookDecoder{cache: new(streamCache)}
	p1, err1 := d.decode([]byte(`{"s":"BTCUSDT","b":"95000.1","a":"95000.2"}`))
	p2, err2 := d.decode([]byte(`{"s":"BTCUSDT","b":"95000.1","a":"95000.3"}`))
	if err1 != nil || err2 != nil || !p2.Price.Equal(d2("95000.2")) || !p1.Price.Equal(d2("95000.15")) || !p2.Ask.Equal(d2("95000.3")) {
		t.Fatalf("%+v %v %+v %v", p1, err1, p2, err2)
	}
}

func d2(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// Regression: encoding/json matches a key to a field under Unicode case
// folding, where a key may be longer than the field's name ("ſ", U+017F,
// folds to "s"; "\u212a", the Kelvin sign, to "k"). The fast decoders
// compared only keys of the field name's length, so they ignored such a
// key where encoding/json decoded it into the field.
func TestFastDecodersDeclineUnicodeFoldedKeys(t *testing.T) {
	for _, b := range []string{
		`{"e":"bookTicker","ſ":"BTCUSDT","b":"1","a":"2"}`,
		`{"e":"bookTicker","s":"BTCUSDT","b":"1","a":"2","ſ":"ETHUSDT"}`,
	} {
		if _, err := fastBookTicker([]byte(b)); err != errFallback {
			t.Errorf("fastBookTicker(%s) did not decline: %v", b, err)
		}
		sameBook(t, []byte(b))
	}
	for _, b := range []string{
		`{"e":"ORDER_TRADE_UPDATE","o":{"ſ":"BTCUSDT","c":"x"}}`,
		`{"e":"ORDER_TRADE_UPDATE","o":{"s":"BTCUSDT","ſ":"ETHUSDT"}}`,
		`{"e":"ORDER_TRADE_UPDATE","o":{"s":"BTCUSDT","AP":"1","ap":"2"}}`,
		`{"ORDER_TRADE_UPDATE":1,"\u212a":1,"ſ":{"s":"x"}}`,
	} {
		fast, err := fastOTU([]byte(b))
		if err == errFallback {
			continue
		}
		var slow wireOTU
		if jerr := json.Unmarshal([]byte(b), &slow); jerr != nil || err != nil || !reflect.DeepEqual(normOTU(fast), normOTU(slow)) {
			t.Errorf("fastOTU(%s) = %+v, %v; encoding/json %+v, %v", b, fast, err, slow, jerr)
		}
	}
}
