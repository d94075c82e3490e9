package binance

import "encoding/json"

// Every placement and cancel is answered with an order object, decoded
// while the request's worker still holds its goroutine (and, for a
// window move, while the move's other request may still be on its way).
// encoding/json's reflection spent about as much CPU there as the rest
// of the adapter, with a dozen allocations per answer; wireOrder
// therefore decodes itself with the flat scanner (scan.go) and falls back
// to encoding/json for anything that scanner is not sure to read exactly
// as encoding/json would (FuzzFastDecoders compares the two).

// wireOrderKeys are the JSON names of wireOrder's fields.
var wireOrderKeys = []string{"symbol", "orderId", "clientOrderId", "side", "positionSide", "type", "timeInForce",
	"price", "origQty", "executedQty", "avgPrice", "status", "reduceOnly", "updateTime", "time", "code", "msg"}

// wireOrderFields is wireOrder without its UnmarshalJSON method: what
// encoding/json's reflection decodes.
type wireOrderFields wireOrder

// UnmarshalJSON decodes an order object exactly as encoding/json decodes
// its fields (unknown keys ignored, keys matched case-insensitively, null
// leaving a field as it is), without reflection when it can.
func (w *wireOrder) UnmarshalJSON(b []byte) error {
	orig := *w
	if err := fastWireOrder(b, w); err == nil {
		return nil
	}
	*w = orig
	// The reference path. The local name keeps encoding/json's error
	// messages as they were ("Go struct field wireOrder.orderId").
	type wireOrder wireOrderFields
	return json.Unmarshal(b, (*wireOrder)(w))
}

// decodeWireOrder decodes a whole answer body into w, as
// json.Unmarshal(b, w) does, without json.Unmarshal's own validation pass
// over b ahead of UnmarshalJSON's (which validates again) when the flat
// scanner reads it: one pass over the answer instead of two.
func decodeWireOrder(b []byte, w *wireOrder) error {
	orig := *w
	if err := fastWireOrder(b, w); err == nil {
		return nil
	}
	*w = orig
	return json.Unmarshal(b, w)
}

// fastWireOrder decodes the order object b into w with the flat scanner;
// any error means "decode it with encoding/json instead".
func fastWireOrder(b []byte, w *wireOrder) error {
	if !json.Valid(b) {
		return errFallback
	}
	return eachField(b, func(k, v []byte) error {
		switch string(k) {
		case "symbol":
			return setStr(&w.Symbol, v)
		case "orderId":
			return setI64(&w.OrderID, v)
		case "clientOrderId":
			return setStr(&w.ClientOrderID, v)
		case "side":
			return setStr(&w.Side, v)
		case "positionSide":
			return setStr(&w.PositionSide, v)
		case "type":
			return setStr(&w.Type, v)
		case "timeInForce":
			return setStr(&w.TimeInForce, v)
		case "price":
			return setNum(&w.Price, v)
		case "origQty":
			return setNum(&w.OrigQty, v)
		case "executedQty":
			return setNum(&w.ExecutedQty, v)
		case "avgPrice":
			return setNum(&w.AvgPrice, v)
		case "status":
			return setStr(&w.Status, v)
		case "reduceOnly":
			return setBool(&w.ReduceOnly, v)
		case "updateTime":
			return setI64(&w.UpdateTime, v)
		case "time":
			return setI64(&w.Time, v)
		case "msg":
			return setStr(&w.Msg, v)
		case "code":
			return errFallback // an error object: rare, and a pointer to set
		}
		if foldsInto(k, wireOrderKeys) {
			return errFallback
		}
		return nil
	})
}
