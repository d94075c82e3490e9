package binance

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzFastDecoders checks that the flat scanner decodes exactly what
// encoding/json decodes whenever it does not decline.
func FuzzFastDecoders(f *testing.F) {
	seedStreamCorpus(f)
	f.Add([]byte(`{"e":"ORDER_TRADE_UPDATE","o":{"s":"A","S":"B","Q":"1","q":"2"}}`))
	f.Add([]byte(`{"e":"bookTicker","b":"1","b":null,"s":"\u0041"}`))
	f.Add([]byte(`{"o":{"c":"x"},"o":{"s":"y"},"o":null}`))
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
