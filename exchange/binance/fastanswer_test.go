package binance

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// sameWireOrder checks that wireOrder's own decoding gives exactly what
// encoding/json's reflection gives — the fields, and the error or its
// absence with the same message — alone, inside an array, and over a
// value already holding fields.
func sameWireOrder(t *testing.T, b []byte) {
	t.Helper()
	prior := wireOrder{Symbol: "OLD", OrderID: 7, Price: num{d("1.5")}}
	for _, start := range []wireOrder{{}, prior} {
		got, want := start, start
		gerr := json.Unmarshal(b, &got)
		werr := reflectWireOrder(b, &want)
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("%s: error %v, encoding/json %v", b, gerr, werr)
		}
		if werr == nil && !sameOrderFields(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", b, got, want)
		}
	}
	arr := append(append([]byte("["), b...), ']')
	var gs []wireOrder
	gerr := json.Unmarshal(arr, &gs)
	ws, werr := reflectWireOrders(arr)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) || len(gs) != len(ws) {
		t.Fatalf("[%s]: %v (%d), encoding/json %v (%d)", b, gerr, len(gs), werr, len(ws))
	}
	if werr != nil {
		return // the same error; OpenOrders drops a half-decoded list
	}
	for i := range gs {
		if !sameOrderFields(gs[i], wireOrder(ws[i])) {
			t.Fatalf("[%s] element %d:\n got %+v\nwant %+v", b, i, gs[i], ws[i])
		}
	}
}

// reflectWireOrder decodes b into w with encoding/json's reflection,
// under wireOrder's name (so that error messages compare).
func reflectWireOrder(b []byte, w *wireOrder) error {
	type wireOrder wireOrderFields
	return json.Unmarshal(b, (*wireOrder)(w))
}

// reflectWireOrders decodes an array of orders the same way.
func reflectWireOrders(b []byte) ([]wireOrderFields, error) {
	type wireOrder wireOrderFields
	var ws []wireOrder
	err := json.Unmarshal(b, &ws)
	out := make([]wireOrderFields, len(ws))
	for i := range ws {
		out[i] = wireOrderFields(ws[i])
	}
	return out, err
}

// sameOrderFields compares decimals by value and exponent (their String)
// and everything else exactly.
func sameOrderFields(a, b wireOrder) bool {
	for _, p := range [][2]num{{a.Price, b.Price}, {a.OrigQty, b.OrigQty}, {a.ExecutedQty, b.ExecutedQty}, {a.AvgPrice, b.AvgPrice}} {
		if p[0].String() != p[1].String() || p[0].Exponent() != p[1].Exponent() {
			return false
		}
	}
	a.Price, a.OrigQty, a.ExecutedQty, a.AvgPrice = num{}, num{}, num{}, num{}
	b.Price, b.OrigQty, b.ExecutedQty, b.AvgPrice = num{}, num{}, num{}, num{}
	return reflect.DeepEqual(a, b)
}

func TestWireOrderDecodesAsEncodingJSON(t *testing.T) {
	cases := []string{
		string(fixture(t, "rest_order_docs.json")),
		string(fixture(t, "rest_order_gtx_real.json")),
		string(fixture(t, "rest_cancel_docs.json")),
		`{"orderId":1,"symbol":"BTCUSDT","price":"60000.10","origQty":"0.002","executedQty":"0","avgPrice":"0.00","status":"NEW"}`,
		`{"orderId":"1"}`,                  // a string for an int64: encoding/json's type error
		`{"orderId":1.5}`,                  // not an integer
		`{"orderId":99999999999999999999}`, // overflow
		`{"price":"abc"}`,                  // num's own error
		`{"price":1e3,"origQty":null,"executedQty":""}`,
		`{"symbol":null,"orderId":null,"reduceOnly":null}`,
		`{"symbol":"A","symbol":"B"}`,    // the last wins
		`{"Symbol":"A"}`,                 // case-insensitive
		`{"symbol":"A","SYMBOL":"B"}`,    // both: the last wins
		`{"ſymbol":"A"}`,                 // Unicode folding
		`{"clientOrderId":"a\"b\u0041"}`, // escapes
		`{"clientOrderId":"\xff"}`,       // invalid UTF-8 (Go's string literal)
		`{"code":-2011,"msg":"Unknown order sent."}`,
		`{"code":null}`,
		`{"reduceOnly":"true"}`,
		`{"side":1}`,
		`{"origType":"LIMIT","type":"MARKET","cumQty":"1"}`,
		`{"updateTime":-5,"time":0}`,
		`{}`, `null`, `[]`, `"x"`, `1`, `{"a":{"b":[1,{"c":"}"}]}}`,
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%.40s", c), func(t *testing.T) { sameWireOrder(t, []byte(c)) })
	}
	// An open-orders list: the error of its first bad element, as
	// encoding/json reports it.
	for _, c := range []string{
		string(fixture(t, "rest_open_orders_docs.json")),
		`[{"orderId":1},{"orderId":"2"},{"orderId":3,"side":4}]`,
		`[{"orderId":1},null,{"symbol":"B"}]`,
	} {
		var got []wireOrder
		gerr := json.Unmarshal([]byte(c), &got)
		want, werr := reflectWireOrders([]byte(c))
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Errorf("%s: error %v, encoding/json %v", c, gerr, werr)
			continue
		}
		if werr == nil {
			if len(got) != len(want) {
				t.Fatalf("%s: %d orders, encoding/json %d", c, len(got), len(want))
			}
			for i := range got {
				if !sameOrderFields(got[i], wireOrder(want[i])) {
					t.Errorf("%s element %d:\n got %+v\nwant %+v", c, i, got[i], want[i])
				}
			}
		}
	}
}

// The fast path takes the answers Binance sends; a nested or odd value
// makes it hand over to encoding/json.
func TestWireOrderFastPath(t *testing.T) {
	for _, name := range []string{"rest_order_docs.json", "rest_order_gtx_real.json", "rest_cancel_docs.json"} {
		var w wireOrder
		if err := fastWireOrder(fixture(t, name), &w); err != nil {
			t.Errorf("%s: fast path declined: %v", name, err)
		}
	}
	for _, b := range []string{`{"Symbol":"A"}`, `{"orderId":"1"}`, `{"code":-1}`, `{"clientOrderId":"a\"b"}`, `[1]`, `{`} {
		var w wireOrder
		if err := fastWireOrder([]byte(b), &w); err == nil {
			t.Errorf("%s: fast path did not decline", b)
		}
	}
}

func BenchmarkDecodeOrderAnswer(b *testing.B) {
	body := fixture(b, "rest_order_gtx_real.json")
	b.ReportAllocs()
	for b.Loop() {
		var w wireOrder
		if err := json.Unmarshal(body, &w); err != nil {
			b.Fatal(err)
		}
	}
}
