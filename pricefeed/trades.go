package pricefeed

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/gridmesh/gridmesh/exchange"
)

// Trade is one decoded public trade: its time, price in ticks and quantity
// in steps of the symbol's [exchange.Rules], and whether the buyer was the
// maker (so the taker sold). The zero value is not a trade a reader returns.
// A Trade is a plain value, safe to copy.
type Trade struct {
	Time       int64          // Unix milliseconds
	Price      exchange.Ticks // trade price in ticks
	Qty        exchange.Steps // base-asset quantity in steps (rounded to the nearest step)
	BuyerMaker bool           // the buyer was the resting order: a taker sell
}

// tradeLayout says where a trade CSV layout keeps each value.
type tradeLayout struct {
	name    string
	columns []string
	time    int
	price   int
	qty     int
	maker   int  // column of is_buyer_maker, or of the taker side when side is set
	side    bool // the maker column holds the taker's side ("buy"/"sell")
}

// The trade layouts ReadTrades knows.
var (
	streamTrades = tradeLayout{name: "binance-stream trades",
		columns: []string{"local_ts_ns", "event_time_ms", "trade_time_ms", "trade_id", "price", "qty", "is_buyer_maker"},
		time:    2, price: 4, qty: 5, maker: 6}
	aggTrades = tradeLayout{name: "Binance aggTrades dump",
		columns: []string{"agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time", "is_buyer_maker", "is_best_match"},
		time:    5, price: 1, qty: 2, maker: 6}
	dumpTrades = tradeLayout{name: "Binance trades dump",
		columns: []string{"id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"},
		time:    4, price: 1, qty: 2, maker: 5}
	krakenTrades = tradeLayout{name: "Kraken trades",
		columns: []string{"timestamp", "id", "type", "side", "price", "amount", "cost"},
		time:    0, price: 4, qty: 5, maker: 3, side: true}
)

// ReadTrades decodes a whole trade CSV, plain or gzip-compressed (told apart
// by the gzip magic bytes), in any of these layouts:
//
//   - binance-stream trades (recorded from the @trade WebSocket stream),
//     header required:
//     local_ts_ns,event_time_ms,trade_time_ms,trade_id,price,qty,is_buyer_maker
//     Time is trade_time_ms.
//   - the Binance public-data aggTrades dump, header optional:
//     agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker[,is_best_match]
//   - the Binance public-data trades dump, header optional:
//     id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]
//   - Kraken trades (freqtrade's export), header required:
//     timestamp,id,type,side,price,amount,cost
//     timestamp is in ms; side is the taker's ("buy" or "sell"), so
//     BuyerMaker is side == "sell".
//
// A headerless Binance dump is told apart by its column count: 8 is
// aggTrades with is_best_match, 6 is trades without it, and 7 is trades
// (spot) when its sixth column is a boolean and aggTrades (futures) when it
// is a time. Times in milliseconds, microseconds (Binance spot dumps since
// 2025) or nanoseconds are told apart by magnitude, row by row, and
// returned in milliseconds. Booleans are true/false in any of the
// spellings true, True, TRUE.
//
// Prices are parsed straight into ticks and quantities into steps
// ([exchange.Rules.TickParser], [exchange.Rules.StepParser]); off-grid values
// round to the nearest increment, so a quantity below half a step becomes 0.
// Rows are checked: price positive, quantity not negative, time never
// earlier than the previous row's (equal times are normal). The first bad row
// stops decoding with a [*CSVError]. An input with no rows gives no trades
// and no error.
func ReadTrades(r io.Reader, rules exchange.Rules) ([]Trade, error) {
	return readTrades(r, rules)
}

// ReadTradesFile is [ReadTrades] on the named file.
func ReadTradesFile(path string, rules exchange.Rules) ([]Trade, error) {
	return readFile(path, rules, readTrades)
}

func parsers(rules exchange.Rules) (tp, sp exchange.GridParser, err error) {
	if tp, err = rules.TickParser(); err != nil {
		return tp, sp, fmt.Errorf("pricefeed: rules: %w", err)
	}
	if sp, err = rules.StepParser(); err != nil {
		return tp, sp, fmt.Errorf("pricefeed: rules: %w", err)
	}
	return tp, sp, nil
}

func readTrades(r io.Reader, rules exchange.Rules) ([]Trade, error) {
	tp, sp, err := parsers(rules)
	if err != nil {
		return nil, err
	}
	size := inputSize(r)
	l, err := newLineReader(r)
	if err != nil {
		return nil, err
	}
	out := make([]Trade, 0, l.rowsHint(size, 64))
	var lay tradeLayout
	var ncols int
	var prev int64
	for first := true; ; first = false {
		if err := l.next(); err != nil {
			if err == io.EOF {
				return out, nil
			}
			return nil, err
		}
		if first {
			isHeader, err := tradeLayoutOf(l, &lay, &ncols)
			if err != nil {
				return nil, err
			}
			if isHeader {
				continue
			}
		}
		if err := l.checkCount(ncols); err != nil {
			return nil, err
		}
		var t Trade
		if t.Time, err = l.parseTime(lay.columns[lay.time], l.field(lay.time)); err != nil {
			return nil, err
		}
		p, err := l.gridField(&tp, lay.columns[lay.price], l.field(lay.price))
		if err != nil {
			return nil, err
		}
		if p <= 0 {
			return nil, l.fieldError(lay.columns[lay.price], l.field(lay.price), fmt.Errorf("%w: price must be positive", ErrRange))
		}
		q, err := l.gridField(&sp, lay.columns[lay.qty], l.field(lay.qty))
		if err != nil {
			return nil, err
		}
		if q < 0 {
			return nil, l.fieldError(lay.columns[lay.qty], l.field(lay.qty), fmt.Errorf("%w: quantity must not be negative", ErrRange))
		}
		t.Price, t.Qty = exchange.Ticks(p), exchange.Steps(q)
		mb := l.field(lay.maker)
		if lay.side {
			switch {
			case bytes.EqualFold(mb, []byte("buy")):
				t.BuyerMaker = false
			case bytes.EqualFold(mb, []byte("sell")):
				t.BuyerMaker = true
			default:
				return nil, l.fieldError(lay.columns[lay.maker], mb, fmt.Errorf("%w: side must be buy or sell", ErrSyntax))
			}
		} else if t.BuyerMaker, err = l.boolField(lay.columns[lay.maker], mb); err != nil {
			return nil, err
		}
		if len(out) > 0 && t.Time < prev {
			return nil, l.fieldError(lay.columns[lay.time], l.field(lay.time), fmt.Errorf("%w: time %d before the previous row's %d", ErrOrder, t.Time, prev))
		}
		prev = t.Time
		out = append(out, t)
	}
}

// tradeLayoutOf picks the trade layout from the first line and reports
// whether that line is a header.
func tradeLayoutOf(l *lineReader, lay *tradeLayout, ncols *int) (bool, error) {
	names := l.header()
	if names != nil {
		for _, cand := range []tradeLayout{streamTrades, aggTrades, dumpTrades, krakenTrades} {
			switch {
			case slices.Equal(names, cand.columns):
				*lay, *ncols = cand, len(cand.columns)
				return true, nil
			case (cand.name == aggTrades.name || cand.name == dumpTrades.name) && slices.Equal(names, cand.columns[:len(cand.columns)-1]):
				*lay, *ncols = cand, len(cand.columns)-1
				return true, nil
			}
		}
		return true, l.rowError(fmt.Errorf("%w: not a trade header (binance-stream trades, Binance aggTrades or trades dump, Kraken trades)", ErrFormat))
	}
	*ncols = l.n
	switch l.n {
	case 8:
		*lay = aggTrades
	case 6:
		*lay = dumpTrades
	case 7:
		if _, ok := parseBool(l.field(5)); ok {
			*lay = dumpTrades
		} else {
			*lay = aggTrades
		}
	default:
		return false, l.rowError(fmt.Errorf("%w: %d columns without a header, want a Binance aggTrades (7 or 8) or trades (6 or 7) dump", ErrFormat, l.n))
	}
	return false, nil
}

// BookTick is one decoded best bid/ask update: prices in ticks, sizes in
// steps of the symbol's [exchange.Rules]. The zero value is not one a reader
// returns. A BookTick is a plain value, safe to copy.
type BookTick struct {
	Time           int64 // Unix milliseconds
	Bid, Ask       exchange.Ticks
	BidQty, AskQty exchange.Steps
}

// Mid returns the midpoint of Bid and Ask in ticks, rounded half up (toward
// +∞) when the spread is an odd number of ticks: bid 10, ask 11 gives 11.
// When the recorded prices lie on the tick grid, as a venue's own book
// always does, this is the exact midpoint rounded half up; prices off the
// grid were first rounded to the nearest tick by the reader.
func (b BookTick) Mid() exchange.Ticks { return midTicks(b.Bid, b.Ask) }

// midTicks is (a+b)/2 rounded half up, without overflow.
func midTicks(a, b exchange.Ticks) exchange.Ticks {
	return a>>1 + b>>1 + (a&1+b&1+1)>>1
}

var bookTickerColumns = []string{"local_ts_ns", "event_time_ms", "transaction_time_ms", "update_id", "bid_price", "bid_qty", "ask_price", "ask_qty"}

// ReadBookTicks decodes a whole binance-stream bookTicker CSV (recorded
// from the @bookTicker WebSocket stream), plain or gzip-compressed, header
// required:
//
//	local_ts_ns,event_time_ms,transaction_time_ms,update_id,bid_price,bid_qty,ask_price,ask_qty
//
// Time is event_time_ms when present, else transaction_time_ms, else the
// local receive time local_ts_ns (Binance's spot bookTicker carries no event
// time, so those columns are empty), always in milliseconds. Use
// [BookTick.Mid] for the mid price in ticks.
//
// Rows are checked: bid and ask positive with bid ≤ ask, sizes not
// negative, time never earlier than the previous row's. The first bad row
// stops decoding with a [*CSVError].
func ReadBookTicks(r io.Reader, rules exchange.Rules) ([]BookTick, error) {
	tp, sp, err := parsers(rules)
	if err != nil {
		return nil, err
	}
	size := inputSize(r)
	l, err := newLineReader(r)
	if err != nil {
		return nil, err
	}
	out := make([]BookTick, 0, l.rowsHint(size, 96))
	var prev int64
	c := bookTickerColumns
	for first := true; ; first = false {
		if err := l.next(); err != nil {
			if err == io.EOF {
				return out, nil
			}
			return nil, err
		}
		if first {
			if names := l.header(); !slices.Equal(names, c) {
				return nil, l.rowError(fmt.Errorf("%w: not a bookTicker header, want %q", ErrFormat, "local_ts_ns,event_time_ms,transaction_time_ms,update_id,bid_price,bid_qty,ask_price,ask_qty"))
			}
			continue
		}
		if err := l.checkCount(len(c)); err != nil {
			return nil, err
		}
		var b BookTick
		ti := 1
		for ti < 3 && len(l.field(ti)) == 0 {
			ti++
		}
		if ti == 3 {
			ti = 0
		}
		if b.Time, err = l.parseTime(c[ti], l.field(ti)); err != nil {
			return nil, err
		}
		var v [4]int64
		for i := range v {
			p := &tp
			if i%2 == 1 {
				p = &sp
			}
			if v[i], err = l.gridField(p, c[4+i], l.field(4+i)); err != nil {
				return nil, err
			}
			if v[i] < 0 || (i%2 == 0 && v[i] == 0) {
				return nil, l.fieldError(c[4+i], l.field(4+i), fmt.Errorf("%w: prices must be positive and sizes not negative", ErrRange))
			}
		}
		b.Bid, b.BidQty, b.Ask, b.AskQty = exchange.Ticks(v[0]), exchange.Steps(v[1]), exchange.Ticks(v[2]), exchange.Steps(v[3])
		if b.Bid > b.Ask {
			return nil, l.fieldError("ask_price", l.field(6), fmt.Errorf("%w: ask below bid %s", ErrRange, l.field(4)))
		}
		if len(out) > 0 && b.Time < prev {
			return nil, l.fieldError(c[ti], l.field(ti), fmt.Errorf("%w: time %d before the previous row's %d", ErrOrder, b.Time, prev))
		}
		prev = b.Time
		out = append(out, b)
	}
}

// ReadBookTicksFile is [ReadBookTicks] on the named file.
func ReadBookTicksFile(path string, rules exchange.Rules) ([]BookTick, error) {
	return readFile(path, rules, ReadBookTicks)
}
