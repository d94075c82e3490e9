package risk

import (
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/shopspring/decimal"
)

// ObservationKind says what an [Observation] carries. The zero value is
// invalid.
type ObservationKind uint8

const (
	// KindPrice: Price holds the symbol's latest trade (or mid) price.
	KindPrice ObservationKind = iota + 1
	// KindKline: Kline holds a candle, final or still forming (Kline.Closed).
	KindKline
	// KindFill: Fill holds one execution of one of the grid's orders (or a
	// liquidation or ADL fill, by Fill.Kind).
	KindFill
	// KindAccount: Account holds the account as last reported, and
	// Positions the positions the update carried (possibly only the
	// changed ones: a position absent from it keeps its last value).
	KindAccount
	// KindMark: Mark holds a mark price and funding update.
	KindMark
	// KindTimer: nothing but the passage of time; the host's runner sends
	// one periodically so that monitors of silence (a stale feed) and the
	// guard's cool-down advance without market data.
	KindTimer
	// KindAlive: the symbol's price source was heard from. Heard is the
	// time of the newest message the source sent — a price that changed or
	// one that repeated the last (pricefeed.Monitor.Liveness), and Price the
	// latest price. A runner sends one per symbol with its timer, stamped
	// with its clock, so that a quiet but live feed is told apart from a
	// dead one without waking the engine on every unchanged tick. Only the
	// stale-feed monitor reads it; it is not a price observation.
	KindAlive
	// KindBooks: Books holds the grid's own books at the last price
	// (realized round trips, unrealized PnL, fees and funding), as the
	// engine keeps them; the drawdown monitor with [DrawdownGrid] reads it.
	KindBooks
)

// String returns the kind's name: "price", "kline", "fill", "account",
// "mark", "timer", "alive" or "books".
func (k ObservationKind) String() string {
	switch k {
	case KindPrice:
		return "price"
	case KindKline:
		return "kline"
	case KindFill:
		return "fill"
	case KindAccount:
		return "account"
	case KindMark:
		return "mark"
	case KindTimer:
		return "timer"
	case KindAlive:
		return "alive"
	case KindBooks:
		return "books"
	}
	return fmt.Sprintf("ObservationKind(%d)", uint8(k))
}

// Observation is one input to the runtime monitors: what happened and when.
// Time is the event's time (the venue's, or the backtest's virtual clock);
// observations are fed in time order. Kind says which of the other fields
// are set; Symbol is set for every kind but Account and Timer. Heard is
// set only for [KindAlive], Books only for [KindBooks]. It is a plain value.
type Observation struct {
	Time      time.Time
	Kind      ObservationKind
	Symbol    string
	Price     decimal.Decimal
	Kline     exchange.Kline
	Fill      exchange.Fill
	Account   exchange.Account
	Positions []exchange.Position
	Mark      exchange.MarkPriceUpdate
	Heard     time.Time // KindAlive: when the source's newest message came
	Books     Books     // KindBooks: the grid's own books
}

// Books are a grid's own books at the last price, in the quote currency,
// for the monitors that judge the grid rather than the account: Realized
// is the gross profit of its round trips (and partial exits), Unrealized
// its open position at the last price, Fees every fee its orders paid
// (signed: a rebate is negative) and Funding the funding its position paid
// (signed: negative when received). The zero value is a grid that has
// done nothing. It is a plain value.
type Books struct {
	Realized   decimal.Decimal
	Unrealized decimal.Decimal
	Fees       decimal.Decimal
	Funding    decimal.Decimal
}

// Net is the grid's PnL since it started: Realized + Unrealized − Fees −
// Funding.
func (b Books) Net() decimal.Decimal {
	return b.Realized.Add(b.Unrealized).Sub(b.Fees).Sub(b.Funding)
}

// Status is a monitor's state after an observation: Triggered while the
// monitor wants entries paused, and Reason explaining the state's last
// change (why it triggered, or why it cleared). The zero value is a
// cleared monitor with nothing to report.
type Status struct {
	Triggered bool
	Reason    string
}

// Monitor is a runtime guard: a pure state machine fed observations in time
// order, answering its status after each. It reads no clock (time comes
// with the observations, [KindTimer] ones included), starts no goroutine,
// does no I/O and ignores what does not concern it (other symbols, other
// kinds). A triggered monitor pauses the grid's entries until it clears;
// see [Guard].
//
// Monitors are not safe for concurrent use: one owner feeds them.
type Monitor interface {
	// Name identifies the monitor in transitions and logs, e.g. "price-band".
	Name() string
	// Observe feeds one observation and returns the status after it.
	Observe(o Observation) Status
}

// MonitorFunc adapts a function to a [Monitor] named Label: a host's own
// monitor, whose state lives in the function's closure. The zero value has
// no function and never triggers. Not safe for concurrent use.
type MonitorFunc struct {
	Label string
	Fn    func(o Observation) Status
}

// Name returns m.Label.
func (m MonitorFunc) Name() string { return m.Label }

// Observe calls m.Fn, or reports a cleared status when it is nil.
func (m MonitorFunc) Observe(o Observation) Status {
	if m.Fn == nil {
		return Status{}
	}
	return m.Fn(o)
}

// fmtTime formats an observation time for reasons: RFC 3339 in UTC.
func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
