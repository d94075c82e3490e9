package binance

import (
	"strconv"

	"github.com/shopspring/decimal"
)

// A decimal costs two allocations and a string one, and a grid's stream
// repeats the same few of them all day: its levels' prices, its order
// quantity, its symbol, the client order ID and order ID of each order's
// NEW, PARTIALLY_FILLED and FILLED events. A streamCache, owned by one
// stream's reader, hands out each value built once. Decimals and strings
// are immutable, so sharing them is safe. Each table is cleared when it
// reaches cacheMax entries, which bounds its memory.
type streamCache struct {
	decs map[decKey]decimal.Decimal
	strs map[string]string
	ids  map[int64]string
}

// decKey is a decimal's value as coef × 10^exp.
type decKey struct {
	coef int64
	exp  int32
}

// cacheMax bounds each table of a streamCache.
const cacheMax = 1024

// dec returns coef × 10^exp; a nil cache builds a new decimal.
func (c *streamCache) dec(coef int64, exp int32) decimal.Decimal {
	if c == nil {
		return decimal.New(coef, exp)
	}
	k := decKey{coef, exp}
	if d, ok := c.decs[k]; ok {
		return d
	}
	if c.decs == nil {
		c.decs = make(map[decKey]decimal.Decimal, 64)
	} else if len(c.decs) >= cacheMax {
		clear(c.decs)
	}
	d := decimal.New(coef, exp)
	c.decs[k] = d
	return d
}

// str returns b as a string (b is a validated, unescaped JSON string
// body); a nil cache interns only the common wire strings.
func (c *streamCache) str(b []byte) string {
	if s, ok := knownString(b); ok {
		return s
	}
	if c == nil {
		return string(b)
	}
	if s, ok := c.strs[string(b)]; ok {
		return s
	}
	if c.strs == nil {
		c.strs = make(map[string]string, 64)
	} else if len(c.strs) >= cacheMax {
		clear(c.strs)
	}
	s := string(b)
	c.strs[s] = s
	return s
}

// id returns the decimal string of an order or trade ID.
func (c *streamCache) id(n int64) string {
	if c == nil {
		return strconv.FormatInt(n, 10)
	}
	if s, ok := c.ids[n]; ok {
		return s
	}
	if c.ids == nil {
		c.ids = make(map[int64]string, 64)
	} else if len(c.ids) >= cacheMax {
		clear(c.ids)
	}
	s := strconv.FormatInt(n, 10)
	c.ids[n] = s
	return s
}

// msgDecs reuses, within one message, the decimal of a value already read
// (ORDER_TRADE_UPDATE repeats q in l and z, p in L): it serves the
// stateless decoders, which have no streamCache.
type msgDecs struct {
	n    int
	keys [8]decKey
	vals [8]decimal.Decimal
}

// dec returns coef × 10^exp from the message's values, the stream cache,
// or a new decimal.
func (m *msgDecs) dec(c *streamCache, coef int64, exp int32) decimal.Decimal {
	if c != nil {
		return c.dec(coef, exp)
	}
	k := decKey{coef, exp}
	for i := 0; i < m.n; i++ {
		if m.keys[i] == k {
			return m.vals[i]
		}
	}
	d := decimal.New(coef, exp)
	if m.n < len(m.keys) {
		m.keys[m.n], m.vals[m.n] = k, d
		m.n++
	}
	return d
}

// setNumC is setNum through the caches: plain decimals come from them,
// anything else through num.UnmarshalJSON, exactly as encoding/json reads
// it.
func setNumC(dst *num, v []byte, c *streamCache, m *msgDecs) error {
	raw, zero := numRaw(v)
	if zero {
		dst.Decimal = decimal.Zero
		return nil
	}
	if coef, exp, ok := plainParts(raw); ok {
		dst.Decimal = m.dec(c, coef, exp)
		return nil
	}
	return dst.UnmarshalJSON(v)
}

// setStrC is setStr through the cache.
func setStrC(dst *string, v []byte, c *streamCache) error {
	if string(v) == "null" {
		return nil
	}
	s, err := strBody(v)
	if err != nil {
		return err
	}
	*dst = c.str(s)
	return nil
}
