package exchange

import (
	"time"

	"github.com/shopspring/decimal"
)

// FundingSettlement is one settled funding of a perpetual, as a venue's
// funding history reports it (Binance: GET /fapi/v1/fundingRate). At a
// settlement every open position pays quantity × MarkPrice × Rate: a long
// pays a positive rate and a short receives it, a negative rate the other
// way round. It is a plain value; the zero value is not meaningful.
type FundingSettlement struct {
	Symbol string
	// Time is when the settlement happened, as the venue stamps it
	// (Binance: a few milliseconds after the interval's boundary).
	Time time.Time
	// Rate is the funding rate (0.0001 is 0.01 %).
	Rate decimal.Decimal
	// MarkPrice is the mark price the settlement was charged at; zero
	// when the venue did not say (Binance's oldest records).
	MarkPrice decimal.Decimal
}

// Payment is what a position of signed quantity qty (base asset; negative
// for a short) pays at the settlement, in the quote currency: qty ×
// MarkPrice × Rate, exact; positive is paid, negative received.
func (s FundingSettlement) Payment(qty decimal.Decimal) decimal.Decimal {
	return qty.Mul(s.MarkPrice).Mul(s.Rate)
}
