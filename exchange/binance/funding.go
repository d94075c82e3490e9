package binance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// fundingPage is the most settlements one GET /fapi/v1/fundingRate returns.
const fundingPage = 1000

// fundingMaxPages bounds one FundingHistory call: 20 pages of 1000 are
// about 18 years of 8-hour settlements, or 2 years of hourly ones.
const fundingMaxPages = 20

// FundingHistory lists the symbol's settled fundings at or after since,
// oldest first (GET /fapi/v1/fundingRate with startTime, 1000 per page:
// public, no signature; Binance counts it against a limit of its own, 500
// requests per 5 minutes per IP shared with fundingInfo, and 1 here).
// Each has the rate and the mark price it was charged at; a record
// without a mark price (Binance's oldest) has MarkPrice zero. A malformed
// answer is an error naming the record and the field.
func (c *Client) FundingHistory(ctx context.Context, symbol string, since time.Time) ([]exchange.FundingSettlement, error) {
	if symbol == "" {
		return nil, fmt.Errorf("binance: funding history: symbol is empty")
	}
	var out []exchange.FundingSettlement
	start := since
	for range fundingMaxPages {
		var p params
		p.add("symbol", symbol)
		if !start.IsZero() {
			p.addInt("startTime", start.UnixMilli())
		}
		p.addInt("limit", fundingPage)
		body, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/fundingRate", params: p, op: exchange.OpFundingRate})
		if err != nil {
			return nil, err
		}
		page, err := decodeFundingHistory(body)
		if err != nil {
			return nil, err
		}
		for _, s := range page {
			if s.Symbol == "" {
				s.Symbol = symbol
			}
			if s.Symbol != symbol || s.Time.Before(since) || (len(out) > 0 && !s.Time.After(out[len(out)-1].Time)) {
				continue // another symbol's, too old, or the page boundary seen twice
			}
			out = append(out, s)
		}
		if len(page) < fundingPage {
			return out, nil
		}
		next := page[len(page)-1].Time.Add(time.Millisecond)
		if !next.After(start) {
			return out, nil
		}
		start = next
	}
	return out, nil
}

// wireFunding is one record of GET /fapi/v1/fundingRate:
//
//	{"symbol":"BTCUSDT","fundingTime":1746316800001,"fundingRate":"0.00000370","markPrice":"95809.50000000"}
type wireFunding struct {
	Symbol      string          `json:"symbol"`
	FundingTime json.Number     `json:"fundingTime"`
	FundingRate string          `json:"fundingRate"`
	MarkPrice   json.RawMessage `json:"markPrice"`
}

// decodeFundingHistory parses the answer of GET /fapi/v1/fundingRate.
func decodeFundingHistory(body []byte) ([]exchange.FundingSettlement, error) {
	var ws []wireFunding
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&ws); err != nil {
		return nil, fmt.Errorf("binance: fundingRate: malformed answer: %w", err)
	}
	out := make([]exchange.FundingSettlement, 0, len(ws))
	for i, w := range ws {
		ms, err := w.FundingTime.Int64()
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("binance: fundingRate: record %d: fundingTime %q is not a positive integer of milliseconds", i, w.FundingTime)
		}
		rate, err := decimal.NewFromString(w.FundingRate)
		if err != nil {
			return nil, fmt.Errorf("binance: fundingRate: record %d: fundingRate %q: %w", i, w.FundingRate, err)
		}
		var mark decimal.Decimal
		var ms2 string
		if len(w.MarkPrice) > 0 && string(w.MarkPrice) != "null" {
			if err := json.Unmarshal(w.MarkPrice, &ms2); err != nil {
				return nil, fmt.Errorf("binance: fundingRate: record %d: markPrice %s is not a string", i, w.MarkPrice)
			}
		}
		if ms2 != "" {
			if mark, err = decimal.NewFromString(ms2); err != nil || mark.IsNegative() {
				return nil, fmt.Errorf("binance: fundingRate: record %d: markPrice %q is not a price", i, ms2)
			}
		}
		out = append(out, exchange.FundingSettlement{Symbol: w.Symbol, Time: time.UnixMilli(ms), Rate: rate, MarkPrice: mark})
	}
	return out, nil
}
