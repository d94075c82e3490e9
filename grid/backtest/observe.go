package backtest

import (
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// observe feeds the risk monitors after a candle: the closed candle, the
// basket's candles of the same minute, the close price, the account (the
// venue's equity, wallet and positions with their mark and liquidation
// prices, at the close) and the grid's own books at the close. Every one is
// stamped with the replay's clock, the candle's end, so a monitor's window
// is market time; fills, and the account and books after them, are
// observed as they happen, at their tick's time (see drain).
func (r *run) observe(c *pricefeed.Candle) error {
	end := time.UnixMilli(c.OpenTime).Add(time.Minute)
	rules := r.cfg.Rules
	obs := []risk.Observation{{Time: end, Kind: risk.KindKline, Symbol: rules.Symbol, Kline: r.kline(rules, c)}}
	for sym, cs := range r.cfg.Basket {
		i := r.basketAt[sym]
		for i < len(cs) && cs[i].OpenTime < c.OpenTime {
			i++
		}
		r.basketAt[sym] = i
		if i < len(cs) && cs[i].OpenTime == c.OpenTime {
			obs = append(obs, risk.Observation{Time: end, Kind: risk.KindKline, Symbol: sym, Kline: r.kline(r.cfg.BasketRules[sym], &cs[i])})
		}
	}
	obs = append(obs,
		risk.Observation{Time: end, Kind: risk.KindPrice, Symbol: rules.Symbol, Price: rules.TicksToPrice(c.Close)},
		r.account(end, c.Close),
		r.books(end, c.Close),
	)
	for _, o := range obs {
		if err := r.exec(end, r.eng.ObserveRisk(o)); err != nil {
			return err
		}
	}
	if r.eng.RiskPaused() {
		r.pausedCandles++
	}
	if r.eng.PausedBy(grid.PauseTrend) {
		r.trendCandles++
	}
	return nil
}

// account is the venue's account at mark as an observation at t: equity,
// wallet and the positions with their mark and liquidation prices.
func (r *run) account(t time.Time, mark exchange.Ticks) risk.Observation {
	m := r.cfg.Rules.MoneyToDecimal
	return risk.Observation{Time: t, Kind: risk.KindAccount,
		Account:   exchange.Account{TotalMargin: m(r.core.Equity(mark)), TotalWallet: m(r.core.Wallet()), PositionMode: r.cfg.Sim.PositionMode},
		Positions: r.core.ExchangePositions(mark)}
}

// books is the grid's own books at mark as an observation at t, with the
// funding the venue charged.
func (r *run) books(t time.Time, mark exchange.Ticks) risk.Observation {
	return risk.Observation{Time: t, Kind: risk.KindBooks, Symbol: r.cfg.Rules.Symbol, Books: r.eng.RiskBooks(mark, r.core.Stats().Funding)}
}

func (r *run) kline(rules exchange.Rules, c *pricefeed.Candle) exchange.Kline {
	open := time.UnixMilli(c.OpenTime)
	return exchange.Kline{
		Symbol: rules.Symbol, Interval: r.cfg.Interval, OpenTime: open, CloseTime: open.Add(time.Minute - time.Millisecond),
		Open: rules.TicksToPrice(c.Open), High: rules.TicksToPrice(c.High), Low: rules.TicksToPrice(c.Low), Close: rules.TicksToPrice(c.Close),
		Volume: rules.StepsToQty(c.Volume), Closed: true,
	}
}

// observeFill feeds a fill to the risk monitors, if the grid has any, at
// the fill's own time; what they answer joins the queue.
func (r *run) observeFill(ev *sim.Event, kind exchange.ExecKind) {
	if !r.eng.HasRiskMonitors() {
		return
	}
	rules := r.cfg.Rules
	r.queue = append(r.queue, r.eng.ObserveRisk(risk.Observation{Time: ev.Time, Kind: risk.KindFill, Symbol: rules.Symbol, Fill: exchange.Fill{
		Symbol: rules.Symbol, Side: ev.Side, PositionSide: ev.PositionSide, Price: rules.TicksToPrice(ev.Price), Quantity: rules.StepsToQty(ev.Qty),
		Fee: rules.MoneyToDecimal(ev.Fee), Maker: ev.Maker, RealizedPnL: rules.MoneyToDecimal(ev.RealizedPnL), Kind: kind, Time: ev.Time,
	}})...)
}
