package backtest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// Funding is how a backtest charges funding on a perpetual. At each
// settlement every open position pays position × mark × rate: longs pay a
// positive rate and shorts receive it (a negative rate the other way).
//
// The zero value charges no funding. With Settlements set, those are
// charged (recorded ones: [ReadFundingFile]); otherwise, with a non-zero
// Rate, that constant rate is charged every Interval (default 8 h) at
// UTC boundaries (00:00, 08:00, 16:00 for 8 h).
//
// The mark of a settlement is its MarkPrice when the record has one (the
// REST history's markPrice), else the close of the candle that contains
// the settlement time; funding is charged before that candle's prices are
// replayed, on the position held at the settlement. A settlement in a gap
// of the candles uses the open of the next candle. Settlements before the
// first candle or after the last are not charged.
type Funding struct {
	// Rate is a constant funding rate per settlement (0.0001 is 0.01 %),
	// used when Settlements is empty. At most 8 decimals.
	Rate decimal.Decimal
	// Interval between settlements of the constant Rate (default 8 h).
	Interval time.Duration
	// Settlements are the recorded settlements, in time order.
	Settlements []Settlement
}

// Settlement is one funding settlement. The zero value is not meaningful.
// It is a plain value.
type Settlement struct {
	// Symbol is the symbol it belongs to when the record says so (the REST
	// history, or a file named like Binance's "BTCUSDT-fundingRate-…"), else "".
	Symbol string
	// Time is the settlement boundary (Binance stamps settlements a few ms
	// after it; the readers round to the interval).
	Time time.Time
	// Interval is the symbol's funding interval at this settlement.
	Interval time.Duration
	// Rate is the funding rate (0.0001 is 0.01 %).
	Rate decimal.Decimal
	// MarkPrice is the mark price of the settlement, zero when unknown.
	MarkPrice decimal.Decimal
}

// ErrFundingData is matched by every error of the funding readers; each
// names the line (or record) and the value.
var ErrFundingData = errors.New("backtest: funding data")

// maxStampSkew is how far a recorded settlement time may lie from its
// interval boundary: Binance stamps a few ms after it.
const maxStampSkew = time.Minute

// ReadFundingFile reads recorded settlements from a file: Binance's public
// data CSV ([ReadFundingCSV], plain or gzip) or the JSON array of
// GET /fapi/v1/fundingRate ([ReadFundingJSON]), told apart by the first
// character. A file named like Binance's archive, "BTCUSDT-fundingRate-…",
// gives its symbol to every settlement that has none.
func ReadFundingFile(path string) ([]Settlement, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("backtest: funding: %w", err)
	}
	defer f.Close()
	out, err := ReadFunding(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if sym, _, ok := strings.Cut(filepath.Base(path), "-fundingRate"); ok && sym != "" {
		for i := range out {
			if out[i].Symbol == "" {
				out[i].Symbol = sym
			}
		}
	}
	return out, nil
}

// ReadFunding reads settlements in either layout ([ReadFundingCSV] or
// [ReadFundingJSON]), plain or gzip, told apart by the content.
func ReadFunding(r io.Reader) ([]Settlement, error) {
	br, err := gunzip(r)
	if err != nil {
		return nil, err
	}
	for {
		b, err := br.Peek(1)
		if err != nil {
			return nil, fmt.Errorf("%w: empty", ErrFundingData)
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
			continue
		case '[':
			return readFundingJSON(br)
		}
		return readFundingCSV(br)
	}
}

func gunzip(r io.Reader) (*bufio.Reader, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(2); err == nil && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrFundingData, err)
		}
		return bufio.NewReader(zr), nil
	}
	return br, nil
}

// ReadFundingCSV reads Binance's public-data funding layout
// (data.binance.vision futures/um/monthly/fundingRate), plain or gzip:
//
//	calc_time,funding_interval_hours,last_funding_rate
//	1746316800001,8,0.00000370
//
// calc_time is in ms UTC, stamped a few ms after the settlement boundary:
// each is rounded to the nearest multiple of its row's interval, and one
// more than a minute away is an error. The header is optional. Times must
// increase.
func ReadFundingCSV(r io.Reader) ([]Settlement, error) {
	br, err := gunzip(r)
	if err != nil {
		return nil, err
	}
	return readFundingCSV(br)
}

func readFundingCSV(r io.Reader) ([]Settlement, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var out []Settlement
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFundingData, err)
		}
		if line == 1 && len(rec) > 0 && strings.TrimSpace(rec[0]) == "calc_time" {
			continue
		}
		bad := func(field, v, reason string) error {
			return fmt.Errorf("%w: line %d: %s %q %s", ErrFundingData, line, field, v, reason)
		}
		if len(rec) != 3 {
			return nil, fmt.Errorf("%w: line %d: %d fields, want calc_time,funding_interval_hours,last_funding_rate", ErrFundingData, line, len(rec))
		}
		ms, err := strconv.ParseInt(strings.TrimSpace(rec[0]), 10, 64)
		if err != nil || ms <= 0 {
			return nil, bad("calc_time", rec[0], "is not a positive time in ms")
		}
		h, err := strconv.Atoi(strings.TrimSpace(rec[1]))
		if err != nil || h < 1 || h > 24 {
			return nil, bad("funding_interval_hours", rec[1], "is not a whole number of hours from 1 to 24")
		}
		s, err := settlement(ms, time.Duration(h)*time.Hour, rec[2])
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrFundingData, line, err)
		}
		if n := len(out); n > 0 && !s.Time.After(out[n-1].Time) {
			return nil, bad("calc_time", rec[0], "is not after the previous settlement "+out[n-1].Time.UTC().Format(time.RFC3339))
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no settlements", ErrFundingData)
	}
	return out, nil
}

// settlement rounds ms to the interval and parses the rate.
func settlement(ms int64, ivl time.Duration, rate string) (Settlement, error) {
	iv := ivl.Milliseconds()
	b := (ms + iv/2) / iv * iv
	if d := ms - b; d > maxStampSkew.Milliseconds() || d < -maxStampSkew.Milliseconds() {
		return Settlement{}, fmt.Errorf("time %d is %d ms from the nearest %s boundary", ms, d, ivl)
	}
	r, err := decimal.NewFromString(strings.TrimSpace(rate))
	if err != nil {
		return Settlement{}, fmt.Errorf("rate %q is not a decimal", rate)
	}
	if _, err := exchange.RateFromDecimal(r); err != nil {
		return Settlement{}, fmt.Errorf("rate %q: %w", rate, err)
	}
	return Settlement{Time: time.UnixMilli(b).UTC(), Interval: ivl, Rate: r}, nil
}

// fundingRecord is one element of GET /fapi/v1/fundingRate.
type fundingRecord struct {
	Symbol      string          `json:"symbol"`
	FundingTime json.RawMessage `json:"fundingTime"`
	FundingRate string          `json:"fundingRate"`
	MarkPrice   string          `json:"markPrice"`
}

// ReadFundingJSON reads the JSON array of Binance's GET /fapi/v1/fundingRate:
//
//	[{"symbol":"BTCUSDT","fundingTime":1746316800001,"fundingRate":"0.00000370","markPrice":"95809.50000000"}]
//
// fundingTime is rounded to the nearest hour (every interval's boundaries
// are whole hours); the interval is the gap to the previous settlement (8 h
// for the first). markPrice may be absent or empty (old records). Times
// must increase.
func ReadFundingJSON(r io.Reader) ([]Settlement, error) {
	br, err := gunzip(r)
	if err != nil {
		return nil, err
	}
	return readFundingJSON(br)
}

func readFundingJSON(r io.Reader) ([]Settlement, error) {
	var recs []fundingRecord
	dec := json.NewDecoder(r)
	if err := dec.Decode(&recs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFundingData, err)
	}
	out := make([]Settlement, 0, len(recs))
	for i, rec := range recs {
		ms, err := strconv.ParseInt(string(bytes.Trim(rec.FundingTime, `"`)), 10, 64)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("%w: record %d: fundingTime %s is not a positive time in ms", ErrFundingData, i, rec.FundingTime)
		}
		ivl := 8 * time.Hour
		s, err := settlement(ms, time.Hour, rec.FundingRate)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d: %w", ErrFundingData, i, err)
		}
		if n := len(out); n > 0 {
			if !s.Time.After(out[n-1].Time) {
				return nil, fmt.Errorf("%w: record %d: fundingTime %d is not after the previous settlement %s", ErrFundingData, i, ms, out[n-1].Time.Format(time.RFC3339))
			}
			ivl = s.Time.Sub(out[n-1].Time)
		}
		s.Interval, s.Symbol = ivl, rec.Symbol
		if rec.MarkPrice != "" {
			m, err := decimal.NewFromString(rec.MarkPrice)
			if err != nil || m.IsNegative() {
				return nil, fmt.Errorf("%w: record %d: markPrice %q is not a price", ErrFundingData, i, rec.MarkPrice)
			}
			s.MarkPrice = m
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no settlements", ErrFundingData)
	}
	return out, nil
}

// charge is one settlement to charge, in the run's units.
type charge struct {
	ms   int64 // settlement time, Unix ms
	rate exchange.Rate
	mark decimal.Decimal // zero: the candle's close
}

// schedule turns cfg.Funding into the settlements to charge within
// [from, to) (Unix ms), checking every field.
func schedule(f Funding, symbol string, from, to int64) ([]charge, error) {
	if len(f.Settlements) > 0 {
		out := make([]charge, 0, len(f.Settlements))
		for i, s := range f.Settlements {
			if s.Symbol != "" && symbol != "" && s.Symbol != symbol {
				return nil, fmt.Errorf("backtest: Funding.Settlements[%d] is for %s, not %s", i, s.Symbol, symbol)
			}
			r, err := exchange.RateFromDecimal(s.Rate)
			if err != nil {
				return nil, fmt.Errorf("backtest: Funding.Settlements[%d].Rate: %w", i, err)
			}
			if s.MarkPrice.IsNegative() {
				return nil, fmt.Errorf("backtest: Funding.Settlements[%d].MarkPrice %s is negative", i, s.MarkPrice)
			}
			ms := s.Time.UnixMilli()
			if i > 0 && ms <= f.Settlements[i-1].Time.UnixMilli() {
				return nil, fmt.Errorf("backtest: Funding.Settlements[%d].Time %s is not after the previous one", i, s.Time.UTC().Format(time.RFC3339))
			}
			if ms >= from && ms < to {
				out = append(out, charge{ms: ms, rate: r, mark: s.MarkPrice})
			}
		}
		return out, nil
	}
	if f.Rate.IsZero() {
		return nil, nil
	}
	r, err := exchange.RateFromDecimal(f.Rate)
	if err != nil {
		return nil, fmt.Errorf("backtest: Funding.Rate: %w", err)
	}
	ivl := f.Interval
	if ivl == 0 {
		ivl = 8 * time.Hour
	}
	if ivl < time.Minute || ivl%time.Minute != 0 {
		return nil, fmt.Errorf("backtest: Funding.Interval %s must be a whole number of minutes", ivl)
	}
	iv := ivl.Milliseconds()
	var out []charge
	for ms := (from + iv - 1) / iv * iv; ms < to; ms += iv {
		out = append(out, charge{ms: ms, rate: r})
	}
	return out, nil
}
