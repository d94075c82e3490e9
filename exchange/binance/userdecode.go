package binance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gridmesh/gridmesh/exchange"
)

// wireOTU is ORDER_TRADE_UPDATE (sheet §6.2).
type wireOTU struct {
	Ev string   `json:"e"`
	E  int64    `json:"E"`
	T  int64    `json:"T"`
	O  wireOTUo `json:"o"`
}

type wireOTUo struct {
	Symbol        string          `json:"s"`
	ClientOrderID string          `json:"c"`
	Side          string          `json:"S"`
	Type          string          `json:"o"`
	TIF           skip            `json:"f"`
	Qty           num             `json:"q"`
	Price         num             `json:"p"`
	AvgPrice      num             `json:"ap"`
	StopPrice     skip            `json:"sp"`
	ExecType      string          `json:"x"`
	Status        string          `json:"X"`
	OrderID       int64           `json:"i"`
	LastQty       num             `json:"l"`
	CumQty        num             `json:"z"`
	LastPrice     num             `json:"L"`
	FeeAsset      string          `json:"N"`
	Fee           num             `json:"n"`
	TradeTime     int64           `json:"T"`
	TradeID       int64           `json:"t"`
	BidNotional   skip            `json:"b"`
	AskNotional   skip            `json:"a"`
	Maker         bool            `json:"m"`
	ModifyID      skip            `json:"M"`
	ReduceOnly    bool            `json:"R"`
	WorkingType   skip            `json:"wt"`
	OrigType      skip            `json:"ot"`
	PositionSide  string          `json:"ps"`
	ClosePosition skip            `json:"cp"`
	ActivatePrice skip            `json:"AP"`
	CallbackRate  skip            `json:"cr"`
	RealizedPnL   skip            `json:"rp"`
	ExpiryReason  json.RawMessage `json:"er"`
}

// expiryReasons are the `er` codes of sheet §6.2.
var expiryReasons = map[string]string{
	"1": "self-trade prevention",
	"2": "IOC remainder canceled",
	"3": "IOC remainder canceled by self-trade prevention",
	"4": "reduce-only knock-out",
	"5": "account liquidated",
	"6": "GTE condition not met",
	"7": "symbol delisted",
	"8": "initial order expired after the stop triggered",
	"9": "market order remainder canceled",
}

// execKind classifies a client order ID: liquidation (autoclose-…), ADL
// (adl_autoclose) or a normal order.
func execKind(clientID, orderType string) exchange.ExecKind {
	switch {
	case strings.HasPrefix(clientID, "adl_autoclose"):
		return exchange.ExecADL
	case strings.HasPrefix(clientID, "autoclose-"), orderType == "LIQUIDATION":
		return exchange.ExecLiquidation
	}
	return exchange.ExecNormal
}

func (w *wireOTU) update() exchange.OrderUpdate { return w.updateWith(nil) }

// updateWith is update taking the ID strings from a stream's cache (nil:
// the order and trade IDs share one new string).
func (w *wireOTU) updateWith(c *streamCache) exchange.OrderUpdate {
	o := &w.O
	orderID, tradeID := otuIDs(o.OrderID, o.TradeID, c)
	t := o.TradeTime
	if t == 0 {
		t = w.T
	}
	if t == 0 {
		t = w.E
	}
	u := exchange.OrderUpdate{
		Symbol:        o.Symbol,
		OrderID:       orderID,
		ClientOrderID: o.ClientOrderID,
		Side:          parseSide(o.Side),
		PositionSide:  parsePositionSide(o.PositionSide),
		Status:        parseStatus(o.Status),
		Price:         o.Price.Decimal,
		Quantity:      o.Qty.Decimal,
		FilledQty:     o.CumQty.Decimal,
		AvgPrice:      o.AvgPrice.Decimal,
		ReduceOnly:    o.ReduceOnly,
		Kind:          execKind(o.ClientOrderID, o.Type),
		Time:          msTime(t),
	}
	if o.ExecType == "TRADE" || o.ExecType == "CALCULATED" || o.LastQty.IsPositive() {
		u.LastFillQty = o.LastQty.Decimal
		u.LastFillPrice = o.LastPrice.Decimal
		u.Fee = o.Fee.Decimal // Binance n: paid positive, rebate negative — our convention
		u.FeeAsset = o.FeeAsset
		u.Maker = o.Maker
		if o.TradeID != 0 {
			u.TradeID = tradeID
		}
	}
	if er := strings.Trim(string(o.ExpiryReason), `"`); er != "" && er != "0" && er != "null" {
		if r, ok := expiryReasons[er]; ok {
			u.Reason = r
		} else {
			u.Reason = "expiry reason " + er
		}
	}
	if strings.HasPrefix(o.ClientOrderID, "settlement_autoclose-") && u.Reason == "" {
		u.Reason = "settlement"
	}
	return u
}

// otuIDs formats an order ID and a trade ID: from the cache, or as one
// new string the two share.
func otuIDs(orderID, tradeID int64, c *streamCache) (string, string) {
	if c != nil {
		return c.id(orderID), c.id(tradeID)
	}
	var buf [40]byte
	b := strconv.AppendInt(buf[:0], orderID, 10)
	n := len(b)
	b = strconv.AppendInt(b, tradeID, 10)
	s := string(b)
	return s[:n], s[n:]
}

// DecodeOrderTradeUpdate decodes one ORDER_TRADE_UPDATE payload.
func DecodeOrderTradeUpdate(b []byte) (exchange.OrderUpdate, error) {
	w, err := decodeOTUWire(b, nil)
	if err != nil {
		return exchange.OrderUpdate{}, &StreamError{Event: "ORDER_TRADE_UPDATE", Err: err}
	}
	if w.Ev != "ORDER_TRADE_UPDATE" {
		return exchange.OrderUpdate{}, &StreamError{Event: w.Ev, Err: fmt.Errorf("event type %q is not ORDER_TRADE_UPDATE", w.Ev)}
	}
	return w.update(), nil
}

type wireBalance struct {
	Asset       string `json:"a"`
	Wallet      num    `json:"wb"`
	CrossWallet num    `json:"cw"`
	Change      num    `json:"bc"`
}

type wirePosition struct {
	Symbol       string `json:"s"`
	Amount       num    `json:"pa"`
	EntryPrice   num    `json:"ep"`
	BreakEven    num    `json:"bep"`
	Realized     num    `json:"cr"`
	Unrealized   num    `json:"up"`
	MarginType   string `json:"mt"`
	IsoWallet    num    `json:"iw"`
	PositionSide string `json:"ps"`
	MarkPrice    num    `json:"mp"`
	MaintMargin  num    `json:"mm"`
}

func (p *wirePosition) position() exchange.Position {
	return exchange.Position{
		Symbol:        p.Symbol,
		PositionSide:  parsePositionSide(p.PositionSide),
		Quantity:      p.Amount.Decimal,
		EntryPrice:    p.EntryPrice.Decimal,
		MarkPrice:     p.MarkPrice.Decimal,
		UnrealizedPnL: p.Unrealized.Decimal,
		MarginMode:    parseMarginMode(p.MarginType),
	}
}

// wireAccountUpdate is ACCOUNT_UPDATE (sheet §6.4).
type wireAccountUpdate struct {
	Ev string `json:"e"`
	E  int64  `json:"E"`
	T  int64  `json:"T"`
	A  *struct {
		Reason    string         `json:"m"`
		Balances  []wireBalance  `json:"B"`
		Positions []wirePosition `json:"P"`
		Symbol    string         `json:"S"`
	} `json:"a"`
}

// wireMarginCall is MARGIN_CALL (sheet §6.6).
type wireMarginCall struct {
	Ev          string         `json:"e"`
	E           int64          `json:"E"`
	CrossWallet num            `json:"cw"`
	Positions   []wirePosition `json:"p"`
}

// wireConfigUpdate is ACCOUNT_CONFIG_UPDATE (sheet §6.5).
type wireConfigUpdate struct {
	Ev string `json:"e"`
	E  int64  `json:"E"`
	T  int64  `json:"T"`
	AC *struct {
		Symbol   string `json:"s"`
		Leverage int    `json:"l"`
	} `json:"ac"`
	AI *struct {
		MultiAssets bool `json:"j"`
	} `json:"ai"`
}

// userMessage is a decoded user-data message: an event to deliver, or a
// control signal (listen key expired), or nothing (a type we ignore).
type userMessage struct {
	event      exchange.UserEvent
	deliver    bool
	keyExpired bool
}

// decodeUserMessage decodes one user-data stream message, dispatching on
// its "e" field. Unknown event types (TRADE_LITE, ALGO_UPDATE, …) and
// control answers are ignored, not errors.
func decodeUserMessage(b []byte) (userMessage, error) { return decodeUserMessageWith(b, nil) }

// decodeUserMessageWith is decodeUserMessage with a stream's cache for
// ORDER_TRADE_UPDATE (nil: none).
func decodeUserMessageWith(b []byte, c *streamCache) (userMessage, error) {
	typ := peekEvent(b)
	fail := func(err error) (userMessage, error) { return userMessage{}, &StreamError{Event: typ, Err: err} }
	switch typ {
	case "ORDER_TRADE_UPDATE":
		w, err := decodeOTUWire(b, c)
		if err != nil {
			return fail(err)
		}
		return userMessage{deliver: true, event: exchange.UserEvent{Kind: exchange.EventOrder, Time: msTime(w.E), Order: w.updateWith(c)}}, nil
	case "ACCOUNT_UPDATE":
		var w wireAccountUpdate
		if err := json.Unmarshal(b, &w); err != nil {
			return fail(err)
		}
		if w.A == nil {
			return fail(fmt.Errorf("no account object"))
		}
		ev := exchange.UserEvent{Kind: exchange.EventAccount, Time: msTime(w.E), Reason: w.A.Reason}
		for _, bal := range w.A.Balances {
			ev.Balances = append(ev.Balances, exchange.Balance{Asset: bal.Asset, WalletBalance: bal.Wallet.Decimal})
		}
		for i := range w.A.Positions {
			ev.Positions = append(ev.Positions, w.A.Positions[i].position())
		}
		return userMessage{deliver: true, event: ev}, nil
	case "MARGIN_CALL":
		var w wireMarginCall
		if err := json.Unmarshal(b, &w); err != nil {
			return fail(err)
		}
		ev := exchange.UserEvent{Kind: exchange.EventMarginCall, Time: msTime(w.E), Reason: "margin call, cross wallet " + w.CrossWallet.String()}
		for i := range w.Positions {
			ev.Positions = append(ev.Positions, w.Positions[i].position())
		}
		return userMessage{deliver: true, event: ev}, nil
	case "ACCOUNT_CONFIG_UPDATE":
		var w wireConfigUpdate
		if err := json.Unmarshal(b, &w); err != nil {
			return fail(err)
		}
		ev := exchange.UserEvent{Kind: exchange.EventConfig, Time: msTime(w.E), Reason: "configuration changed"}
		switch {
		case w.AC != nil:
			ev.Reason = fmt.Sprintf("leverage %s %d", w.AC.Symbol, w.AC.Leverage)
		case w.AI != nil:
			ev.Reason = fmt.Sprintf("multi-assets %t", w.AI.MultiAssets)
		}
		return userMessage{deliver: true, event: ev}, nil
	case "listenKeyExpired":
		return userMessage{keyExpired: true}, nil
	case "":
		if !json.Valid(b) {
			return fail(fmt.Errorf("not JSON"))
		}
	}
	return userMessage{}, nil
}

// peekEvent returns the value of the top-level "e" key of a message, or
// "" when it has none: a scan for "e" followed by ':' and a string.
func peekEvent(b []byte) string {
	for i := 0; i+3 <= len(b); i++ {
		if b[i] != '"' || b[i+1] != 'e' || b[i+2] != '"' {
			continue
		}
		j := i + 3
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
			j++
		}
		if j >= len(b) || b[j] != ':' {
			continue
		}
		j++
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
			j++
		}
		if j >= len(b) || b[j] != '"' {
			return ""
		}
		end := bytes.IndexByte(b[j+1:], '"')
		if end < 0 || end > 64 {
			return ""
		}
		return intern(b[j+1 : j+1+end])
	}
	return ""
}
