package binance

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// The bookTicker path allocates only the decimals it hands out. A decimal
// costs two allocations (its big.Int and the word behind it), so the
// decoder reads prices as int64 parts, computes the midpoint in int64,
// validates the quantities it does not return without building them, and
// — kept per stream by bookDecoder — reuses the symbol string and takes
// the bid, ask and midpoint decimals from the stream's cache: a book
// moves within a few hundred ticks for minutes at a time, so most of its
// prices have been seen (decimals are immutable, so sharing them is safe).

// plainParts parses -?digits(.digits)? with at most 18 digits into
// coef × 10^exp without allocating; ok is false for any other form.
func plainParts(b []byte) (coef int64, exp int32, ok bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		neg, i = true, 1
	}
	digits, frac, dot := 0, 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 18 {
				return 0, 0, false
			}
			coef = coef*10 + int64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot && digits > 0:
			dot = true
		default:
			return 0, 0, false
		}
	}
	if digits == 0 || (dot && frac == 0) {
		return 0, 0, false
	}
	if neg {
		coef = -coef
	}
	return coef, int32(-frac), true
}

// numRaw is a num's JSON value as num.UnmarshalJSON reads it: quotes
// removed, and zero for "", null and "0".
func numRaw(v []byte) (raw []byte, zero bool) {
	if len(v) >= 2 && v[0] == '"' {
		v = v[1 : len(v)-1]
	}
	return v, len(v) == 0 || string(v) == "null" || string(v) == "0"
}

// priceSide is one side of the book as the decoder read it.
type priceSide struct {
	coef  int64
	exp   int32
	plain bool            // coef and exp hold the value
	dec   decimal.Decimal // the value as a decimal, once built
	built bool
}

// read parses the raw JSON value of a price: plain parts without
// allocating, else through num (exponents, long numbers).
func (p *priceSide) read(v []byte) error {
	raw, zero := numRaw(v)
	if zero {
		*p = priceSide{plain: true, dec: decimal.Zero, built: true}
		return nil
	}
	if c, e, ok := plainParts(raw); ok {
		*p = priceSide{coef: c, exp: e, plain: true}
		return nil
	}
	var n num
	if err := n.UnmarshalJSON(v); err != nil {
		return err
	}
	*p = priceSide{dec: n.Decimal, built: true}
	return nil
}

func (p *priceSide) positive() bool {
	if p.built {
		return p.dec.IsPositive()
	}
	return p.coef > 0
}

// decimal returns the side as a decimal, from the cache (nil: new).
func (p *priceSide) decimal(c *streamCache) decimal.Decimal {
	if !p.built {
		p.dec, p.built = c.dec(p.coef, p.exp), true
	}
	return p.dec
}

// pow10 holds 10^0 … 10^18.
var pow10 = func() (t [19]int64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

// midParts returns (a + b) / 2 as exact int64 parts when nothing
// overflows.
func midParts(a, b priceSide) (coef int64, exp int32, ok bool) {
	if !a.plain || !b.plain || a.built || b.built {
		return 0, 0, false
	}
	e := min(a.exp, b.exp)
	scale := func(c int64, from int32) (int64, bool) {
		k := from - e
		if k > 18 || (c != 0 && (c > math.MaxInt64/pow10[k] || c < math.MinInt64/pow10[k])) {
			return 0, false
		}
		return c * pow10[k], true
	}
	ca, ok1 := scale(a.coef, a.exp)
	cb, ok2 := scale(b.coef, b.exp)
	if !ok1 || !ok2 || ca < 0 || cb < 0 || ca > math.MaxInt64-cb {
		return 0, 0, false
	}
	s := ca + cb
	if s%2 == 0 {
		return s / 2, e, true
	}
	if s > math.MaxInt64/5 || e == math.MinInt32 {
		return 0, 0, false
	}
	return s * 5, e - 1, true
}

// bookDecoder decodes the bookTicker messages of one stream, keeping the
// symbol string and a cache of price decimals between messages. Not safe
// for concurrent use: a stream's one reader owns it. The zero value is
// ready.
type bookDecoder struct {
	symbol string
	cache  *streamCache // nil: every decimal is new (DecodeBookTicker)
}

// DecodeBookTicker decodes a bookTicker payload into a PriceUpdate whose
// Price is the bid/ask midpoint.
func DecodeBookTicker(b []byte) (exchange.PriceUpdate, error) {
	var d bookDecoder
	return d.decode(b)
}

// decode is DecodeBookTicker with the stream's memory.
func (d *bookDecoder) decode(b []byte) (exchange.PriceUpdate, error) {
	if !json.Valid(b) {
		return decodeBookTickerSlow(b)
	}
	var (
		symbol                   string
		t, e                     int64
		bidRaw, askRaw, bq, aq   []byte
		hasBid, hasAsk, bqs, aqs bool
	)
	err := eachField(b, func(k, v []byte) error {
		switch string(k) {
		case "s":
			if string(v) == "null" {
				return nil
			}
			if len(v) >= 2 && v[0] == '"' && d.symbol != "" && string(v[1:len(v)-1]) == d.symbol {
				symbol = d.symbol
				return nil
			}
			return setStr(&symbol, v)
		case "T":
			return setI64(&t, v)
		case "E":
			return setI64(&e, v)
		case "b":
			bidRaw, hasBid = v, true
		case "a":
			askRaw, hasAsk = v, true
		case "B":
			bq, bqs = v, true
		case "A":
			aq, aqs = v, true
		case "e":
			var ev string
			return setStr(&ev, v)
		case "u":
			var u int64
			return setI64(&u, v)
		default:
			if foldsInto(k, bookTickerKeys) {
				return errFallback
			}
		}
		return nil
	})
	if err != nil {
		return decodeBookTickerSlow(b)
	}
	fail := func(err error) (exchange.PriceUpdate, error) {
		return exchange.PriceUpdate{}, &StreamError{Event: "bookTicker", Err: err}
	}
	// The quantities are not returned but must be numbers, as for
	// encoding/json.
	for _, q := range [...]struct {
		v   []byte
		set bool
	}{{bq, bqs}, {aq, aqs}} {
		if !q.set {
			continue
		}
		if raw, zero := numRaw(q.v); !zero {
			if _, _, ok := plainParts(raw); !ok {
				var n num
				if err := n.UnmarshalJSON(q.v); err != nil {
					return fail(err)
				}
			}
		}
	}
	var bid, ask priceSide
	if hasBid {
		if err := bid.read(bidRaw); err != nil {
			return fail(err)
		}
	}
	if hasAsk {
		if err := ask.read(askRaw); err != nil {
			return fail(err)
		}
	}
	if symbol == "" || !hasBid || !hasAsk || !bid.positive() || !ask.positive() {
		return fail(fmt.Errorf("missing symbol, bid or ask"))
	}
	if symbol != d.symbol {
		d.symbol = symbol
	}
	u := exchange.PriceUpdate{Symbol: symbol, Time: msTime(t)}
	if t == 0 {
		u.Time = msTime(e)
	}
	c, x, exact := midParts(bid, ask)
	u.Bid = bid.decimal(d.cache)
	u.Ask = ask.decimal(d.cache)
	if exact {
		u.Price = d.cache.dec(c, x)
	} else {
		u.Price = u.Bid.Add(u.Ask).Div(two)
	}
	return u, nil
}

// decodeBookTickerSlow is the reference path: encoding/json (through the
// wire decoder) and decimal arithmetic.
func decodeBookTickerSlow(b []byte) (exchange.PriceUpdate, error) {
	w, err := decodeBookTickerWire(b)
	if err != nil {
		return exchange.PriceUpdate{}, &StreamError{Event: "bookTicker", Err: err}
	}
	if w.Symbol == "" || !w.Bid.IsPositive() || !w.Ask.IsPositive() {
		return exchange.PriceUpdate{}, &StreamError{Event: "bookTicker", Err: fmt.Errorf("missing symbol, bid or ask")}
	}
	t := w.T
	if t == 0 {
		t = w.E
	}
	return exchange.PriceUpdate{
		Symbol: w.Symbol,
		Price:  w.Bid.Add(w.Ask.Decimal).Div(two),
		Bid:    w.Bid.Decimal,
		Ask:    w.Ask.Decimal,
		Time:   msTime(t),
	}, nil
}
