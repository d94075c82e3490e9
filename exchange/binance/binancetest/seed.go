package binancetest

// This file: seeding the kline history (WithKlines, WithKlineFile) and the
// reader of recorded kline files.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Kline is one seeded candle. It has the fields of exchange.Kline that a
// history needs (copy them over; the server imports nothing of the
// repository). Zero QuoteVolume, TakerBuyVolume, TakerBuyQuoteVolume and
// Trades are served as zero.
type Kline struct {
	OpenTime               time.Time
	Open, High, Low, Close decimal.Decimal
	Volume                 decimal.Decimal // base asset
	QuoteVolume            decimal.Decimal
	TakerBuyVolume         decimal.Decimal
	TakerBuyQuoteVolume    decimal.Decimal
	Trades                 int64
}

type seed struct {
	symbol, interval string
	klines           []Kline
	r                io.Reader
	file             bool
}

// WithKlines seeds a symbol's kline history with candles of one interval
// (any of 1m … 1M), oldest first, so GET /fapi/v1/klines answers with real
// candles from the first call. Higher intervals are aggregated from them
// (a 1h candle from sixty 1m ones); finer intervals return an empty list.
// Price moves then extend the history at the seeded interval. When the
// symbol's Price is zero it starts at the last close.
func WithKlines(symbol, interval string, klines []Kline) Option {
	return optionFunc(func(o *options) {
		o.seeds = append(o.seeds, seed{symbol: symbol, interval: interval, klines: klines})
	})
}

// WithKlineFile is WithKlines reading a recorded file: a Binance
// public-data kline CSV (data.binance.vision, 12 columns, with or without
// its header), a 6-column open_time,open,high,low,close,volume CSV, or the
// JSON array GET /fapi/v1/klines returns; plain or gzip-compressed. Open
// times are Unix milliseconds (microseconds, as in newer dumps, are
// recognised by their size). New reports a malformed file with its line.
func WithKlineFile(symbol, interval string, r io.Reader) Option {
	return optionFunc(func(o *options) {
		o.seeds = append(o.seeds, seed{symbol: symbol, interval: interval, r: r, file: true})
	})
}

// ErrKlineFile is wrapped by every error of a malformed kline file.
var ErrKlineFile = errors.New("binancetest: malformed kline file")

// ReadKlines decodes a recorded kline file in one of the formats
// WithKlineFile accepts.
func ReadKlines(r io.Reader) ([]Kline, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrKlineFile, err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	data, err := io.ReadAll(br)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKlineFile, err)
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		return readJSONKlines(t)
	}
	return readCSVKlines(data)
}

func readJSONKlines(data []byte) ([]Kline, error) {
	var rows [][]json.RawMessage
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("%w: JSON: %w", ErrKlineFile, err)
	}
	out := make([]Kline, 0, len(rows))
	for i, row := range rows {
		fields := make([]string, len(row))
		for j, f := range row {
			var s string
			if err := json.Unmarshal(f, &s); err != nil {
				s = string(f) // numbers: open time, trades
			}
			fields[j] = s
		}
		k, err := klineFromFields(fields)
		if err != nil {
			return nil, fmt.Errorf("%w: element %d: %w", ErrKlineFile, i, err)
		}
		out = append(out, k)
	}
	return out, nil
}

func readCSVKlines(data []byte) ([]Kline, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var out []Kline
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKlineFile, err)
		}
		if line == 1 && len(rec) > 0 && strings.TrimSpace(rec[0]) == "open_time" {
			continue
		}
		k, err := klineFromFields(rec)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrKlineFile, line, err)
		}
		out = append(out, k)
	}
}

// klineFromFields decodes open_time, open, high, low, close, volume and,
// when present, close_time, quote_volume, count, taker_buy_volume and
// taker_buy_quote_volume.
func klineFromFields(f []string) (Kline, error) {
	if len(f) != 6 && len(f) != 12 {
		return Kline{}, fmt.Errorf("%d fields, want 6 (OHLCV) or 12 (Binance kline)", len(f))
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(f[0]), 10, 64)
	if err != nil || ms < 0 {
		return Kline{}, fmt.Errorf("open_time %q is not a non-negative integer", f[0])
	}
	if ms > 1e14 { // microseconds
		ms /= 1000
	}
	k := Kline{OpenTime: time.UnixMilli(ms).UTC()}
	dec := func(name, v string, dst *decimal.Decimal) error {
		d, err := decimal.NewFromString(strings.TrimSpace(v))
		if err != nil || d.IsNegative() {
			return fmt.Errorf("%s %q is not a non-negative decimal", name, v)
		}
		*dst = d
		return nil
	}
	for _, c := range []struct {
		name string
		i    int
		dst  *decimal.Decimal
	}{{"open", 1, &k.Open}, {"high", 2, &k.High}, {"low", 3, &k.Low}, {"close", 4, &k.Close}, {"volume", 5, &k.Volume}} {
		if err := dec(c.name, f[c.i], c.dst); err != nil {
			return Kline{}, err
		}
	}
	if len(f) == 12 {
		for _, c := range []struct {
			name string
			i    int
			dst  *decimal.Decimal
		}{{"quote_volume", 7, &k.QuoteVolume}, {"taker_buy_volume", 9, &k.TakerBuyVolume}, {"taker_buy_quote_volume", 10, &k.TakerBuyQuoteVolume}} {
			if err := dec(c.name, f[c.i], c.dst); err != nil {
				return Kline{}, err
			}
		}
		n, err := strconv.ParseInt(strings.TrimSpace(f[8]), 10, 64)
		if err != nil || n < 0 {
			return Kline{}, fmt.Errorf("count %q is not a non-negative integer", f[8])
		}
		k.Trades = n
	}
	return k, nil
}

// candlesOf checks seeded klines against their interval and converts them:
// open times on the interval's boundaries, strictly increasing, and
// low ≤ open, close ≤ high.
func candlesOf(sd seed, iv interval) ([]candle, error) {
	out := make([]candle, 0, len(sd.klines))
	for i, k := range sd.klines {
		open := k.OpenTime.UnixMilli()
		where := fmt.Sprintf("kline %d (open %s)", i, k.OpenTime.UTC().Format(time.RFC3339))
		if iv.open(open) != open {
			return nil, fmt.Errorf("%s is not on a %s boundary", where, iv.name)
		}
		if n := len(out); n > 0 && out[n-1].open >= open {
			return nil, fmt.Errorf("%s is not after the previous kline", where)
		}
		if k.High.LessThan(decimal.Max(k.Open, k.Close, k.Low)) || k.Low.GreaterThan(decimal.Min(k.Open, k.Close)) {
			return nil, fmt.Errorf("%s: low %s, open %s, close %s, high %s are not ordered low ≤ open, close ≤ high", where, k.Low, k.Open, k.Close, k.High)
		}
		out = append(out, candle{open: open, o: k.Open, h: k.High, l: k.Low, c: k.Close, vol: k.Volume,
			quoteVol: k.QuoteVolume, takerBase: k.TakerBuyVolume, tkQ: k.TakerBuyQuoteVolume, trades: k.Trades})
	}
	return out, nil
}

// applySeeds loads the seeded histories into the books, reporting every
// problem at once.
func (s *Server) applySeeds(seeds []seed) error {
	var errs []error
	done := map[string]bool{}
	for _, sd := range seeds {
		name := fmt.Sprintf("WithKlines(%q, %q)", sd.symbol, sd.interval)
		if sd.file {
			name = fmt.Sprintf("WithKlineFile(%q, %q)", sd.symbol, sd.interval)
		}
		b, ok := s.books[sd.symbol]
		if !ok {
			errs = append(errs, fmt.Errorf("binancetest: %s: symbol %q is not listed", name, sd.symbol))
			continue
		}
		if done[sd.symbol] {
			errs = append(errs, fmt.Errorf("binancetest: %s: symbol %q is already seeded", name, sd.symbol))
			continue
		}
		iv, ok := parseInterval(sd.interval)
		if !ok {
			errs = append(errs, fmt.Errorf("binancetest: %s: interval %q is not one of 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M", name, sd.interval))
			continue
		}
		if sd.file {
			if sd.r == nil {
				errs = append(errs, fmt.Errorf("binancetest: %s: nil reader", name))
				continue
			}
			ks, err := ReadKlines(sd.r)
			if err != nil {
				errs = append(errs, fmt.Errorf("binancetest: %s: %w", name, err))
				continue
			}
			sd.klines = ks
		}
		cs, err := candlesOf(sd, iv)
		if err != nil {
			errs = append(errs, fmt.Errorf("binancetest: %s: %w", name, err))
			continue
		}
		done[sd.symbol] = true
		b.base, b.candles = iv, cs
	}
	return errors.Join(errs...)
}
