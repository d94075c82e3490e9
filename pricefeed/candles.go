package pricefeed

import (
	"fmt"
	"io"
	"slices"

	"github.com/gridmesh/gridmesh/exchange"
)

// Candle is one decoded kline of any interval (the shipped data is 1-minute):
// prices in ticks and volume in steps of the symbol's [exchange.Rules].
// The zero value is a candle at the Unix epoch with every price zero; it is
// not one a reader returns. A Candle is a plain value, safe to copy.
type Candle struct {
	OpenTime               int64 // Unix milliseconds
	Open, High, Low, Close exchange.Ticks
	Volume                 exchange.Steps // base-asset volume in steps (rounded to the nearest step)
}

// Path returns the four ticks a candle is replayed as, in the order the
// price most plausibly took. The rule is the common backtesting convention:
// a green (or flat) candle, Close ≥ Open, went open → low → high → close,
// dipping before it rose; a red candle, Close < Open, went
// open → high → low → close. Prices inside the path are assumed to move
// monotonically between these points, so a level between two of them is
// touched once on the way.
func (c Candle) Path() [4]exchange.Ticks {
	if c.Close >= c.Open {
		return [4]exchange.Ticks{c.Open, c.Low, c.High, c.Close}
	}
	return [4]exchange.Ticks{c.Open, c.High, c.Low, c.Close}
}

// The kline layouts ReadCandles knows, by header.
var (
	ohlcvColumns = []string{"open_time", "open", "high", "low", "close", "volume"}
	// binanceKlineColumns is the data.binance.vision kline dump layout.
	binanceKlineColumns = []string{"open_time", "open", "high", "low", "close", "volume",
		"close_time", "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore"}
)

// ReadCandles decodes a whole kline CSV, plain or gzip-compressed (told
// apart by the gzip magic bytes), in either layout:
//
//   - OHLCV, 6 columns, as freqtrade exports it:
//     open_time,open,high,low,close,volume
//   - the Binance public-data (data.binance.vision) kline dump, 12 columns:
//     open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore
//     Only the first six are decoded; the rest must be present.
//
// The header row is optional: a file whose first field starts with a digit
// has none, and its layout is told by its column count. Header names are
// matched ignoring case and surrounding spaces. Blank lines, a UTF-8 byte
// order mark and CRLF line ends are accepted. open_time may be in
// milliseconds, microseconds (Binance spot dumps since 2025) or nanoseconds,
// told apart by magnitude, and is returned in milliseconds.
//
// Prices are parsed straight into ticks with [exchange.Rules.TickParser] and
// volume into steps with [exchange.Rules.StepParser]; off-grid values round
// to the nearest increment. No decimal is built per row.
//
// Every row is checked: prices positive, volume not negative,
// high ≥ max(open, close) ≥ min(open, close) ≥ low, and open_time strictly
// increasing. The first bad row stops decoding with a [*CSVError] naming the
// line, the column and the text. An input with no rows gives no candles and
// no error.
func ReadCandles(r io.Reader, rules exchange.Rules) ([]Candle, error) {
	return readCandles(r, rules)
}

// ReadCandlesFile is [ReadCandles] on the named file.
func ReadCandlesFile(path string, rules exchange.Rules) ([]Candle, error) {
	return readFile(path, rules, readCandles)
}

func readCandles(r io.Reader, rules exchange.Rules) ([]Candle, error) {
	tp, sp, err := parsers(rules)
	if err != nil {
		return nil, err
	}
	size := inputSize(r)
	l, err := newLineReader(r)
	if err != nil {
		return nil, err
	}
	d := candleDecoder{l: l, tp: &tp, sp: &sp}
	out := make([]Candle, 0, l.rowsHint(size, 48))
	first := true
	for {
		if err := l.next(); err != nil {
			if err == io.EOF {
				return out, nil
			}
			return nil, err
		}
		if first {
			first = false
			isHeader, err := d.layout()
			if err != nil {
				return nil, err
			}
			if isHeader {
				continue
			}
		}
		c, err := d.row()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// candleDecoder decodes kline rows of one layout.
type candleDecoder struct {
	l       *lineReader
	tp, sp  *exchange.GridParser
	columns []string
	prev    int64
	rows    int
}

// layout picks the layout from the first line and reports whether it is a
// header.
func (d *candleDecoder) layout() (bool, error) {
	names := d.l.header()
	if names == nil {
		switch d.l.n {
		case len(ohlcvColumns):
			d.columns = ohlcvColumns
		case len(binanceKlineColumns):
			d.columns = binanceKlineColumns
		default:
			return false, d.l.rowError(fmt.Errorf("%w: %d columns without a header, want 6 (OHLCV) or 12 (Binance kline dump)", ErrFormat, d.l.n))
		}
		return false, nil
	}
	switch {
	case slices.Equal(names, ohlcvColumns):
		d.columns = ohlcvColumns
	case slices.Equal(names, binanceKlineColumns):
		d.columns = binanceKlineColumns
	default:
		return true, d.l.rowError(fmt.Errorf("%w: kline header, want %q or the 12-column Binance dump header", ErrFormat, "open_time,open,high,low,close,volume"))
	}
	return true, nil
}

func (d *candleDecoder) row() (Candle, error) {
	l := d.l
	if err := l.checkCount(len(d.columns)); err != nil {
		return Candle{}, err
	}
	var c Candle
	var err error
	if c.OpenTime, err = l.parseTime("open_time", l.field(0)); err != nil {
		return Candle{}, err
	}
	var px [4]int64
	for i := range px {
		if px[i], err = l.gridField(d.tp, d.columns[1+i], l.field(1+i)); err != nil {
			return Candle{}, err
		}
		if px[i] <= 0 {
			return Candle{}, l.fieldError(d.columns[1+i], l.field(1+i), fmt.Errorf("%w: price must be positive", ErrRange))
		}
	}
	v, err := l.gridField(d.sp, "volume", l.field(5))
	if err != nil {
		return Candle{}, err
	}
	if v < 0 {
		return Candle{}, l.fieldError("volume", l.field(5), fmt.Errorf("%w: volume must not be negative", ErrRange))
	}
	c.Open, c.High, c.Low, c.Close, c.Volume = exchange.Ticks(px[0]), exchange.Ticks(px[1]), exchange.Ticks(px[2]), exchange.Ticks(px[3]), exchange.Steps(v)
	if c.High < max(c.Open, c.Close) {
		return Candle{}, l.fieldError("high", l.field(2), fmt.Errorf("%w: high below open or close", ErrOHLC))
	}
	if c.Low > min(c.Open, c.Close) {
		return Candle{}, l.fieldError("low", l.field(3), fmt.Errorf("%w: low above open or close", ErrOHLC))
	}
	if d.rows > 0 && c.OpenTime <= d.prev {
		return Candle{}, l.fieldError("open_time", l.field(0), fmt.Errorf("%w: open_time %d not after the previous row's %d", ErrOrder, c.OpenTime, d.prev))
	}
	d.prev = c.OpenTime
	d.rows++
	return c, nil
}
