package binance

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// The two hottest messages, bookTicker (every best bid/ask change) and
// ORDER_TRADE_UPDATE (every fill), are decoded by a flat scanner over
// valid JSON instead of encoding/json's reflection. It reads exact keys
// only; anything it is not sure to read exactly as encoding/json would (an
// escaped string, invalid UTF-8, a key that differs from a known one only
// in case, an unexpected value type) makes it give up, and the caller falls
// back to encoding/json, so both paths always agree (FuzzFastDecoders
// checks it).

// errFallback tells the caller to decode with encoding/json.
var errFallback = errors.New("fall back to encoding/json")

// eachField calls fn with each member of the JSON object b (which must be
// valid JSON): the key without quotes and the raw value. It stops with
// errFallback when b is not an object or a key holds an escape, and with
// fn's error.
func eachField(b []byte, fn func(key, val []byte) error) error {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errFallback
	}
	i++
	for {
		i = skipWS(b, i)
		if i >= len(b) {
			return errFallback
		}
		if b[i] == '}' {
			return nil
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
		}
		if i >= len(b) || b[i] != '"' {
			return errFallback
		}
		end := bytes.IndexByte(b[i+1:], '"')
		if end < 0 {
			return errFallback
		}
		key := b[i+1 : i+1+end]
		if bytes.IndexByte(key, '\\') >= 0 {
			return errFallback
		}
		i = skipWS(b, i+2+end)
		if i >= len(b) || b[i] != ':' {
			return errFallback
		}
		i = skipWS(b, i+1)
		j, ok := skipValue(b, i)
		if !ok {
			return errFallback
		}
		if err := fn(key, b[i:j]); err != nil {
			return err
		}
		i = j
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the value starting at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		for j := i + 1; ; {
			k := bytes.IndexByte(b[j:], '"')
			if k < 0 {
				return 0, false
			}
			end := j + k
			n := 0 // backslashes right before the quote
			for p := end - 1; p > i && b[p] == '\\'; p-- {
				n++
			}
			if n%2 == 0 {
				return end + 1, true
			}
			j = end + 1
		}
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				k, ok := skipValue(b, j)
				if !ok {
					return 0, false
				}
				j = k - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j, j > i
}

// The setters store a value exactly as encoding/json would (null leaves
// the destination unchanged), or fall back.

func setStr(dst *string, v []byte) error {
	if string(v) == "null" {
		return nil
	}
	s, err := strBody(v)
	if err != nil {
		return err
	}
	*dst = intern(s)
	return nil
}

// strBody returns the body of a JSON string value that reads as its bytes:
// quoted, without escapes, valid UTF-8; errFallback otherwise.
func strBody(v []byte) ([]byte, error) {
	if len(v) < 2 || v[0] != '"' {
		return nil, errFallback
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, errFallback
	}
	for _, c := range s {
		if c >= utf8.RuneSelf {
			if !utf8.Valid(s) {
				return nil, errFallback
			}
			break
		}
	}
	return s, nil
}

func setI64(dst *int64, v []byte) error {
	if string(v) == "null" {
		return nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return errFallback
	}
	*dst = n
	return nil
}

func setBool(dst *bool, v []byte) error {
	switch string(v) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	case "null":
	default:
		return errFallback
	}
	return nil
}

// setNum reads a decimal with num.UnmarshalJSON, which encoding/json also
// calls with the same raw bytes (null included).
func setNum(dst *num, v []byte) error { return dst.UnmarshalJSON(v) }

// foldsInto reports whether key differs only in case from one of the
// known keys (encoding/json would then decode it into that field). Case
// is Unicode's simple folding, as encoding/json's: a folded key may be
// longer than the name ("ſ", U+017F, folds to "s").
func foldsInto(key []byte, known []string) bool {
	for _, k := range known {
		if string(key) != k && bytes.EqualFold(key, []byte(k)) {
			return true
		}
	}
	return false
}

var bookTickerKeys = []string{"e", "u", "E", "T", "s", "b", "B", "a", "A"}

// fastBookTicker decodes a bookTicker payload (valid JSON) without reflection.
func fastBookTicker(b []byte) (wireBookTicker, error) {
	var w wireBookTicker
	err := eachField(b, func(k, v []byte) error {
		var err error
		switch string(k) {
		case "e":
			err = setStr(&w.Ev, v)
		case "u":
			err = setI64(&w.U, v)
		case "E":
			err = setI64(&w.E, v)
		case "T":
			err = setI64(&w.T, v)
		case "s":
			err = setStr(&w.Symbol, v)
		case "b":
			err = setNum(&w.Bid, v)
		case "B":
			err = setNum(&w.BidQty, v)
		case "a":
			err = setNum(&w.Ask, v)
		case "A":
			err = setNum(&w.AskQty, v)
		default:
			if foldsInto(k, bookTickerKeys) {
				return errFallback
			}
		}
		return err
	})
	return w, err
}

var otuKeys = []string{"e", "E", "T", "o"}

var otuOrderKeys = []string{"s", "c", "S", "o", "f", "q", "p", "ap", "sp", "x", "X", "i", "l", "z", "L", "N", "n", "T", "t",
	"b", "a", "m", "M", "R", "wt", "ot", "ps", "cp", "AP", "cr", "rp", "er"}

// fastOTU decodes an ORDER_TRADE_UPDATE payload (valid JSON) without reflection.
func fastOTU(b []byte) (wireOTU, error) { return fastOTUWith(b, nil) }

// fastOTUWith is fastOTU taking strings and decimals from a stream's
// cache (nil: none).
func fastOTUWith(b []byte, c *streamCache) (wireOTU, error) {
	var w wireOTU
	err := eachField(b, func(k, v []byte) error {
		var err error
		switch string(k) {
		case "e":
			err = setStr(&w.Ev, v)
		case "E":
			err = setI64(&w.E, v)
		case "T":
			err = setI64(&w.T, v)
		case "o":
			if string(v) == "null" {
				return nil
			}
			err = fastOTUOrder(v, &w.O, c) // a repeated "o" merges, as in encoding/json
		default:
			if foldsInto(k, otuKeys) {
				return errFallback
			}
		}
		return err
	})
	return w, err
}

func fastOTUOrder(b []byte, o *wireOTUo, c *streamCache) error {
	var m msgDecs
	return eachField(b, func(k, v []byte) error {
		var err error
		switch string(k) {
		case "s":
			err = setStrC(&o.Symbol, v, c)
		case "c":
			err = setStrC(&o.ClientOrderID, v, c)
		case "S":
			err = setStr(&o.Side, v)
		case "o":
			err = setStr(&o.Type, v)
		case "q":
			err = setNumC(&o.Qty, v, c, &m)
		case "p":
			err = setNumC(&o.Price, v, c, &m)
		case "x":
			err = setStr(&o.ExecType, v)
		case "X":
			err = setStr(&o.Status, v)
		case "i":
			err = setI64(&o.OrderID, v)
		case "l":
			err = setNumC(&o.LastQty, v, c, &m)
		case "z":
			err = setNumC(&o.CumQty, v, c, &m)
		case "L":
			err = setNumC(&o.LastPrice, v, c, &m)
		case "ap":
			err = setNumC(&o.AvgPrice, v, c, &m)
		case "N":
			err = setStrC(&o.FeeAsset, v, c)
		case "n":
			err = setNumC(&o.Fee, v, c, &m)
		case "T":
			err = setI64(&o.TradeTime, v)
		case "t":
			err = setI64(&o.TradeID, v)
		case "m":
			err = setBool(&o.Maker, v)
		case "R":
			err = setBool(&o.ReduceOnly, v)
		case "ps":
			err = setStr(&o.PositionSide, v)
		case "er":
			o.ExpiryReason = json.RawMessage(v) // aliases b: read before b is reused
		case "f", "sp", "b", "a", "M", "wt", "ot", "cp", "AP", "cr", "rp":
			// Named in wireOTUo as skip: any value is accepted and ignored.
		default:
			if foldsInto(k, otuOrderKeys) {
				return errFallback
			}
		}
		return err
	})
}

// decodeBookTickerWire decodes a bookTicker: the fast path for valid JSON,
// encoding/json otherwise (and for whatever the fast path declines).
func decodeBookTickerWire(b []byte) (wireBookTicker, error) {
	if json.Valid(b) {
		if w, err := fastBookTicker(b); err == nil {
			return w, nil
		}
	}
	var w wireBookTicker
	err := json.Unmarshal(b, &w)
	return w, err
}

// decodeOTUWire decodes an ORDER_TRADE_UPDATE the same way, with a
// stream's cache (nil: none).
func decodeOTUWire(b []byte, c *streamCache) (wireOTU, error) {
	if json.Valid(b) {
		if w, err := fastOTUWith(b, c); err == nil {
			return w, nil
		}
	}
	var w wireOTU
	err := json.Unmarshal(b, &w)
	return w, err
}
