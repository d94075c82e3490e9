package binance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// maxTradeWindow is the widest userTrades query Binance answers.
const maxTradeWindow = 7 * 24 * time.Hour

// Fills lists the symbol's executions at or after since, oldest first
// (GET /fapi/v1/userTrades in windows of at most 7 days, 1000 per page).
// userTrades carries no client order ID: the adapter fills it in with one
// GET /fapi/v1/order per distinct order it has not seen on the user-data
// stream or in an answer. Each request is charged at its own weight (5 per
// userTrades page, 1 per order query; see [Client.Charges]): a call over
// 20 days with two orders to look up costs 3 × 5 + 2 × 1 = 17.
func (c *Client) Fills(ctx context.Context, symbol string, since time.Time) ([]exchange.Fill, error) {
	now := c.serverNow()
	start := since
	if start.IsZero() || now.Sub(start) > 180*24*time.Hour {
		start = now.Add(-180 * 24 * time.Hour) // Binance keeps 6 months
	}
	var out []exchange.Fill
	seen := map[string]bool{}
	for !start.After(now) {
		end := start.Add(maxTradeWindow - time.Millisecond)
		if end.After(now) {
			end = now.Add(time.Second)
		}
		var p params
		p.add("symbol", symbol)
		p.addInt("startTime", start.UnixMilli())
		p.addInt("endTime", end.UnixMilli())
		p.addInt("limit", 1000)
		body, err := c.do(ctx, request{method: http.MethodGet, path: "/fapi/v1/userTrades", params: p, sec: secSigned, op: "fills"})
		if err != nil {
			return nil, err
		}
		var ws []wireTrade
		if err := json.Unmarshal(body, &ws); err != nil {
			return nil, fmt.Errorf("binance: userTrades: malformed answer: %w", err)
		}
		for i := range ws {
			f := ws[i].fill()
			if seen[f.TradeID] || f.Time.Before(since) {
				continue
			}
			seen[f.TradeID] = true
			out = append(out, f)
		}
		if len(ws) == 1000 {
			next := msTime(ws[len(ws)-1].Time)
			if next.After(start) {
				start = next
				continue
			}
		}
		start = end.Add(time.Millisecond)
	}
	ids := map[string]string{}
	for i := range out {
		id := out[i].OrderID
		cid, ok := ids[id]
		if !ok {
			cid, ok = c.remembered(id)
		}
		if !ok {
			var p params
			p.add("symbol", symbol)
			p.add("orderId", id)
			o, err := c.getOrder(ctx, p, "fills")
			if err != nil && !errors.Is(err, exchange.ErrOrderNotFound) {
				return nil, err
			}
			cid = o.ClientOrderID
			ids[id] = cid
		}
		out[i].ClientOrderID = cid
		out[i].Kind = execKind(cid, "")
	}
	return out, nil
}
