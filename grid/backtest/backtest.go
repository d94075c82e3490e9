// Package backtest runs a grid engine against the simulated venue over
// recorded candles, on a virtual clock, with direct function calls: no
// goroutine, channel, lock, context or decimal per tick. The same engine
// code runs live; a backtest on the same data and configuration reproduces
// the same fills to the last digit.
//
// Each candle is replayed as four ticks in the order the price most
// plausibly took — open, low, high, close for a green candle (close ≥
// open), open, high, low, close for a red one (see [pricefeed.Candle.Path])
// — at the candle's open time plus 0, 15, 30 and 45 seconds. The simulator
// fills a resting order at its own price when the path reaches it.
//
// The run is booked as the venue would book it. Funding is charged at each
// settlement ([Funding]: a constant rate, or recorded settlements read by
// [ReadFundingFile]). Margin is checked by default: an order the account
// cannot margin is refused and counted (Config.SkipMarginCheck turns this
// off). A liquidation follows the margin mode of Config.Sim (cross: the
// wallet ends at zero, the insurance fund covering any gap; isolated: the
// position's margin is lost) and its brackets, and is listed in
// Result.Liquidated. Taker orders slip by [DefaultSlippage] unless
// Config.Slippage says otherwise. Fees and funding are exact: Result.Fees
// is Σ notional × rate over every fill, not a sum of rounded fees.
//
// Risk monitors (grid.WithRiskMonitors) run on the replay's clock: after
// each candle, at its end, they see the candle (and the basket's), its
// close price, the account (the venue's equity, wallet and positions with
// mark and liquidation prices) and the grid's own books ([risk.KindBooks]);
// each fill, and the account and books after it, as it happens, at its
// tick's time. So every built-in monitor
// sees its data, and "5 % in 15 minutes" means 15 minutes of market time.
// A grid whose position mode differs from Config.Sim's is refused at start.
package backtest

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/risk"
)

// Config is one backtest. The zero value is not valid: Rules and Sim.InitialBalance are required.
type Config struct {
	// Rules are the symbol's trading rules.
	Rules exchange.Rules
	// Sim configures the simulated venue: fees, leverage, balance,
	// maintenance margin, position mode, fill model. Start from
	// sim.DefaultCoreConfig(rules).
	Sim sim.CoreConfig
	// Grid configures the engine. WithStartPrice is added from the first
	// candle's open unless given.
	Grid []grid.Option
	// EquityEvery is the number of candles between equity samples
	// (default 60: hourly for 1-minute candles); the run's last candle
	// (or the one it was liquidated in) is always sampled, so the last
	// sample is Result.FinalEquity.
	EquityEvery int
	// Basket holds the candles of other symbols for risk monitors that
	// watch a basket (the volume-spike monitor): after each candle of the
	// run, the basket's candles with the same open time are observed too.
	Basket map[string][]pricefeed.Candle
	// BasketRules are the basket symbols' rules (to turn their ticks into prices).
	BasketRules map[string]exchange.Rules
	// Interval is the candles' interval as risk monitors see it (default "1m").
	Interval string
	// Funding charges funding at settlements: a constant rate or recorded
	// settlements (see [Funding]). The zero value charges none.
	Funding Funding
	// SkipMarginCheck turns the venue's margin check off. By default a
	// backtest sets Sim.CheckMargin: an order the account cannot margin is
	// refused as the venue would refuse it, and counted in
	// Result.MarginRefusals.
	SkipMarginCheck bool
	// Slippage is how far taker orders (the initial position, a hard stop's
	// close) fill beyond the price. nil: [DefaultSlippage], unless Sim sets
	// its own SlippageTicks or SlippageRate; &Slippage{} for none.
	Slippage *Slippage
	// NoRecord skips recording Result.Trades and Result.Series (sweeps
	// and benchmarks need neither); see record.go.
	NoRecord bool
	// Progress, if set, is called from Run's goroutine with the candles
	// replayed so far and the total, every ProgressEvery candles and after
	// the last (a liquidation ends the run without a last call).
	Progress func(done, total int)
}

// EquityPoint is one sample of the account's equity, exact as
// Result.FinalEquity is (fees and funding at full precision).
type EquityPoint struct {
	Time   time.Time
	Price  decimal.Decimal
	Equity decimal.Decimal
}

// Result is what a backtest found. Money is in the quote currency.
type Result struct {
	Candles    int
	Start, End time.Time
	OpenPrice  decimal.Decimal // first candle's open
	ClosePrice decimal.Decimal // last replayed price

	RoundTrips  int
	Realized    decimal.Decimal // gross profit of the grid's round trips and partial exits
	Fees        decimal.Decimal // every fee paid (signed), exact: Σ notional × rate, not rounded per fill
	Funding     decimal.Decimal // funding paid (signed: negative when received), exact
	NetRealized decimal.Decimal // Realized − Fees − Funding
	Unrealized  decimal.Decimal // the open position at ClosePrice
	Position    decimal.Decimal // signed base quantity at the end

	InitialBalance decimal.Decimal
	FinalEquity    decimal.Decimal // the venue's wallet plus unrealized PnL at the end
	PnL            decimal.Decimal // FinalEquity − InitialBalance
	BuyAndHold     decimal.Decimal // the initial balance held in the base asset from open to close, for comparison
	MaxDrawdown    decimal.Decimal // largest fall of the account's equity (wallet + unrealized; a held position's worst of the candle) from a previous peak (quote)
	MaxDrawdownPct decimal.Decimal // the same as a percentage of that peak
	MaxPosition    decimal.Decimal // largest absolute position (base)
	MaxNotional    decimal.Decimal // largest absolute position × price (quote)

	Fills         int64
	MakerFills    int64
	TakerFills    int64
	Orders        int
	Cancels       int
	Rejections    int
	Liquidations  int64
	LiquidatedAt  time.Time // zero unless liquidated: the run stops there
	PausedCandles int       // candles after which risk monitors held entries
	// TrendCandles counts the candles after which the trend filter
	// (grid.WithTrendFilter) held one side's entries.
	TrendCandles int
	Halted       string // why the engine halted, if it did
	// Stopped is why a grid control (take-profit, stop-loss, stop
	// top/bottom, time limit) ended the grid, and StoppedAt the tick at
	// which its orders were gone and its position closed: the run ends
	// with that candle. Engine.Terminal has the control's kind.
	Stopped   string
	StoppedAt time.Time

	// FundingPayments is the number of settlements charged.
	FundingPayments int
	// MarginRefusals counts orders the venue refused for insufficient margin.
	MarginRefusals int
	// Liquidated lists each position side liquidated, with time and price.
	Liquidated []Liquidation
	// Insurance is what liquidations left to the insurance fund (positive)
	// or took from it (negative: the fund covered a close below the
	// bankruptcy price).
	Insurance decimal.Decimal
	// Slippage is what taker fills paid beyond the price they met.
	Slippage decimal.Decimal
	// Volume is Σ price × quantity of every fill; TakerVolume the part
	// filled as taker. Fees = (Volume − TakerVolume) × maker rate +
	// TakerVolume × taker rate, exactly.
	Volume, TakerVolume decimal.Decimal

	Equity []EquityPoint
	Engine grid.Stats

	// Trades and Series are recorded unless Config.NoRecord (record.go).
	Trades []Trade
	Series Series
}

// Run replays candles through a new engine and simulated venue.
//
// A configuration that cannot run (no candles, bad rules, a bad Config
// field, grid options or levels the symbol's rules refuse) fails at once
// with a *ConfigError; an error during the run is a bug (ErrDisagree) or
// the engine refusing a venue update.
func Run(candles []pricefeed.Candle, cfg Config) (Result, error) {
	r, err := newRun(candles, cfg)
	if err != nil {
		return Result{}, &ConfigError{Err: err}
	}
	if err := r.loop(candles); err != nil {
		return Result{}, err
	}
	if err := r.agree(); err != nil {
		return Result{}, err
	}
	return r.result(candles), nil
}

// run is one backtest in progress.
type run struct {
	cfg   Config
	eng   *grid.Engine
	core  *sim.Core
	ids   map[uint64]uint64 // order tag → sim order id, for cancels and queries
	queue []grid.Intent     // intents to carry out, from head on
	head  int

	peak, maxDD        exact // of the exact equity (see exact)
	ddPeak             exact // the peak the largest drawdown fell from
	maxPos             exchange.Steps
	maxNotional        exchange.Money
	equity             []equitySample // converted to Result.Equity at the end
	liquidatedAt       time.Time
	halted             string
	last               exchange.Ticks
	lastTime           time.Time
	replayed           int
	initialBalanceMony exchange.Money
	basketAt           map[string]int // next candle index per basket symbol
	pausedCandles      int
	trendCandles       int

	funding        []charge // settlements to charge, from fi on
	fi             int
	fundingApplied int
	marginRefusals int
	liquidated     []Liquidation
	rec            *recorder // nil with Config.NoRecord

	// adj is the exact wallet minus the booked one (what rounding fees and
	// funding to the Money unit left out); adjDirty says the venue booked
	// something since it was read.
	adj       exact
	adjDirty  bool
	stopped   string // a grid control ended the grid (see ended)
	stoppedAt time.Time
}

// ErrNoCandles is returned (in a *ConfigError) by Run given no candles.
var ErrNoCandles = errors.New("backtest: no candles")

func newRun(candles []pricefeed.Candle, cfg Config) (*run, error) {
	if len(candles) == 0 {
		return nil, ErrNoCandles
	}
	if err := cfg.Rules.Validate(); err != nil {
		return nil, fmt.Errorf("backtest: rules: %w", err)
	}
	if cfg.EquityEvery == 0 {
		cfg.EquityEvery = 60
	}
	if cfg.Interval == "" {
		cfg.Interval = "1m"
	}
	for sym := range cfg.Basket {
		if err := cfg.BasketRules[sym].Validate(); err != nil {
			return nil, fmt.Errorf("backtest: BasketRules[%q]: %w", sym, err)
		}
	}
	if cfg.EquityEvery < 0 {
		return nil, fmt.Errorf("backtest: EquityEvery %d must be positive", cfg.EquityEvery)
	}
	if cfg.Sim.InitialBalance <= 0 {
		return nil, fmt.Errorf("backtest: Sim.InitialBalance %d must be positive", cfg.Sim.InitialBalance)
	}
	cfg.Sim.Rules = cfg.Rules
	if !cfg.SkipMarginCheck {
		cfg.Sim.CheckMargin = true
	}
	if cfg.Slippage != nil || (cfg.Sim.SlippageTicks == 0 && cfg.Sim.SlippageRate == 0) {
		s := DefaultSlippage()
		if cfg.Slippage != nil {
			s = *cfg.Slippage
		}
		rate, err := exchange.RateFromDecimal(s.Bps.Shift(-4))
		if err != nil || s.Bps.IsNegative() || s.Ticks < 0 {
			return nil, fmt.Errorf("backtest: Slippage %s: must be a non-negative number of ticks and of bps (4 decimals at most)", s)
		}
		cfg.Sim.SlippageTicks, cfg.Sim.SlippageRate = exchange.Ticks(s.Ticks), rate
	}
	funding, err := schedule(cfg.Funding, cfg.Rules.Symbol, candles[0].OpenTime, candles[len(candles)-1].OpenTime+60_000)
	if err != nil {
		return nil, err
	}
	core, err := sim.NewCore(cfg.Sim)
	if err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	opts := append([]grid.Option{grid.WithStartPrice(cfg.Rules.TicksToPrice(candles[0].Open))}, cfg.Grid...)
	eng, err := grid.New(cfg.Rules, opts...)
	if err != nil {
		return nil, err
	}
	if gm, sm := eng.PositionMode(), cfg.Sim.PositionMode; gm != sm {
		// Every order would be refused, forever: a configuration error,
		// not a market condition.
		return nil, fmt.Errorf("backtest: the grid's position mode (grid.WithPositionMode) is %s but the simulator's (Config.Sim.PositionMode) is %s: they must match: %w",
			gm, sm, exchange.ErrPositionMode)
	}
	r := &run{cfg: cfg, eng: eng, core: core, ids: make(map[uint64]uint64, 256), peak: exact{m: cfg.Sim.InitialBalance},
		initialBalanceMony: cfg.Sim.InitialBalance, basketAt: map[string]int{}, funding: funding, adjDirty: true}
	if !cfg.NoRecord {
		r.rec = newRecorder(cfg.Rules, len(candles), candles[0].OpenTime, cfg.Sim)
	}
	return r, nil
}

// tickOffsets are the times of a candle's four ticks after its open, in ms.
var tickOffsets = [4]int64{0, 15_000, 30_000, 45_000}

func (r *run) loop(candles []pricefeed.Candle) error {
	t0 := time.UnixMilli(candles[0].OpenTime)
	r.core.Tick(t0, candles[0].Open)
	if err := r.exec(t0, r.eng.OnPrice(t0, candles[0].Open)); err != nil {
		return err
	}
	if err := r.exec(t0, r.eng.OnStreamReady(t0)); err != nil {
		return err
	}
	every, untilSample := r.cfg.EquityEvery, r.cfg.EquityEvery
	for n := range candles {
		c := &candles[n]
		if r.fi < len(r.funding) && r.funding[r.fi].ms < c.OpenTime+60_000 {
			if err := r.settle(c); err != nil {
				return err
			}
		}
		path := pathOf(c)
		for j := range len(path) {
			p := path[j]
			now := time.UnixMilli(c.OpenTime + tickOffsets[j])
			r.core.Tick(now, p)
			if r.core.Pending() > 0 {
				if err := r.drain(now); err != nil {
					return err
				}
				if err := r.process(now); err != nil {
					return err
				}
			}
			if in := r.eng.OnPrice(now, p); len(in) > 0 {
				if err := r.exec(now, in); err != nil {
					return err
				}
			}
		}
		r.last = path[3]
		untilSample--
		// A sample at the end of the run: the last candle's, or the
		// liquidation's, where the run stops.
		final := n == len(candles)-1 || !r.liquidatedAt.IsZero()
		r.track(c, untilSample == 0 || final, final)
		if untilSample == 0 {
			untilSample = every
		}
		if r.eng.HasRiskMonitors() {
			if err := r.observe(c); err != nil {
				return err
			}
		}
		if !r.liquidatedAt.IsZero() || r.ended(time.UnixMilli(c.OpenTime+tickOffsets[3])) {
			r.replayed = n + 1
			break
		}
		r.progress(n+1, len(candles))
	}
	if r.liquidatedAt.IsZero() && r.stopped == "" {
		r.replayed = len(candles)
	}
	last := &candles[r.replayed-1]
	r.lastTime = time.UnixMilli(last.OpenTime + tickOffsets[3])
	return nil
}

// equitySample is an equity point in integers, while running.
type equitySample struct {
	ms    int64
	price exchange.Ticks
	eq    exact
}

// pathOf is c.Path() (open, low, high, close for a green candle, open,
// high, low, close for a red one) read field by field: copying the
// candle and the array whole costs the replay loop more than the rest of
// its own work (stalled store forwarding).
func pathOf(c *pricefeed.Candle) [4]exchange.Ticks {
	o, l, h, cl := c.Open, c.Low, c.High, c.Close
	if cl < o {
		l, h = h, l
	}
	return [4]exchange.Ticks{o, l, h, cl}
}

// track updates drawdown and exposure after a candle; sample records an
// equity point; final says the run ends with the candle. Equity is exact (see exact): the booked equity at each
// price plus what rounding fees and funding to the Money unit left out,
// which no price changes.
func (r *run) track(c *pricefeed.Candle, sample, final bool) {
	pos := r.eng.Position()
	if r.adjDirty {
		w, f := r.core.ExactWalletUnits()
		r.adj, r.adjDirty = exact{w - r.core.Wallet(), f}, false
	}
	eqM := r.core.Equity(c.Close)
	worstM := eqM
	switch {
	case pos == 0:
	case r.liquidatedAt.IsZero():
		// Equity is wallet + price × net position − cost: linear in the
		// price, so a long is worst at the low and a short at the high.
		// The engine's position is the venue's net (DESIGN §3, invariant 3,
		// checked at the end of the run and by verifyWorst in tests).
		if pos > 0 {
			worstM += exchange.Notional(c.Low-c.Close, pos)
		} else {
			worstM += exchange.Notional(c.High-c.Close, pos)
		}
	default: // the venue closed the position under the engine
		worstM = min(worstM, r.core.Equity(c.Low), r.core.Equity(c.High))
	}
	if verifyWorst != nil {
		verifyWorst(worstM, min(eqM, r.core.Equity(c.Low), r.core.Equity(c.High)))
	}
	eq, worst := r.adj.plus(eqM), r.adj.plus(worstM)
	d := drawdown{peak: r.peak}
	if worst.less(r.peak) {
		d.dd = r.peak.sub(worst)
		if r.maxDD.less(d.dd) {
			r.maxDD, r.ddPeak, d.newMax = d.dd, r.peak, true
		}
	}
	if r.peak.less(eq) {
		r.peak, d.newPeak = eq, true
	}
	signed := pos
	if pos < 0 {
		pos = -pos
	}
	if pos > r.maxPos {
		r.maxPos = pos
	}
	if n := exchange.Notional(max(c.High, c.Close), pos); n > r.maxNotional {
		r.maxNotional = n
	}
	r.rec.candle(c, r.core, eq, &d, signed, sample, final)
	if sample {
		r.equity = append(r.equity, equitySample{ms: c.OpenTime + 60_000, price: c.Close, eq: eq})
	}
}

// drawdown is a candle's fall below the equity's running peak (zero when
// none), the peak it fell from, and whether it set the run's largest
// drawdown or a new peak.
type drawdown struct {
	dd, peak        exact
	newMax, newPeak bool
}

// verifyWorst, set by a test, compares the run's worst equity of a candle
// with the venue's equity walked at the candle's low, high and close.
var verifyWorst func(fast, walked exchange.Money)

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

// exec carries out intents, and everything they cause, in order.
func (r *run) exec(now time.Time, in []grid.Intent) error {
	r.queue = append(r.queue, in...)
	return r.process(now)
}

// process carries out the queued intents; carrying one out may queue more.
func (r *run) process(now time.Time) error {
	for r.head < len(r.queue) {
		it := r.queue[r.head]
		r.head++
		if err := r.do(now, it); err != nil {
			return err
		}
	}
	r.queue, r.head = r.queue[:0], 0
	return nil
}

func (r *run) do(now time.Time, it grid.Intent) error {
	tag := it.Ref.Tag()
	switch it.Kind {
	case grid.IntentPlace:
		id, err := r.core.Place(now, sim.OrderSpec{
			Tag: tag, Side: it.Side, PositionSide: it.PositionSide, Market: it.Market,
			Price: it.Price, Qty: it.Qty, PostOnly: it.PostOnly, ReduceOnly: it.ReduceOnly,
		})
		if err != nil {
			if errors.Is(err, exchange.ErrInsufficientMargin) {
				r.marginRefusals++
			}
			return r.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderRejected, Reason: err.Error(), Cause: err})
		}
		r.ids[tag] = id
		r.rec.placed()
		if err := r.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderAccepted}); err != nil {
			return err
		}
		return r.drain(now)
	case grid.IntentCancel:
		id, ok := r.ids[tag]
		if !ok {
			return nil // already ended: its events told the engine
		}
		if err := r.core.Cancel(now, id); err != nil && !errors.Is(err, exchange.ErrOrderNotFound) {
			return fmt.Errorf("backtest: cancel %s: %w", it.Ref, err)
		}
		return r.drain(now)
	case grid.IntentQuery:
		// The simulator's answers are never lost, so the engine has nothing
		// to query; answer from the venue's books all the same.
		id, ok := r.ids[tag]
		if !ok {
			return r.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderNotFound})
		}
		if v, live := r.core.Order(id); live {
			return r.apply(now, grid.OrderEvent{Ref: it.Ref, Type: grid.OrderAccepted, CumQty: v.Filled})
		}
		return nil
	case grid.IntentCheckStart:
		return r.checkStart(now)
	}
	return fmt.Errorf("backtest: intent kind %s", it.Kind)
}

// drain feeds the simulator's events to the engine.
func (r *run) drain(now time.Time) error {
	for {
		evs := r.core.Events()
		if len(evs) == 0 {
			return nil
		}
		r.adjDirty = true // fills, funding and liquidations book fees and funding
		filled := false
		for k := range evs {
			ev := &evs[k]
			ref := grid.RefFromTag(ev.Tag)
			filled = filled || ev.Kind == sim.EventFill || ev.Kind == sim.EventLiquidation
			switch ev.Kind {
			case sim.EventFill:
				if ev.CumQty == ev.OrderQty {
					delete(r.ids, ev.Tag)
				}
				before := r.rec.beforeFill(r.eng, ev)
				if err := r.apply(now, grid.OrderEvent{Ref: ref, Type: grid.OrderFilled, CumQty: ev.CumQty, Price: ev.Price, Fee: ev.Fee}); err != nil {
					return err
				}
				r.rec.fill(now, ev, before, r.eng)
				r.observeFill(ev, exchange.ExecNormal)
			case sim.EventCanceled, sim.EventExpired:
				delete(r.ids, ev.Tag)
				r.rec.ended()
				if ev.Tag == 0 {
					continue
				}
				typ := grid.OrderCanceled
				if ev.Kind == sim.EventExpired {
					typ = grid.OrderExpired
				}
				if err := r.apply(now, grid.OrderEvent{Ref: ref, Type: typ, CumQty: ev.CumQty, Price: ev.Price}); err != nil {
					return err
				}
			case sim.EventLiquidation:
				r.observeFill(ev, exchange.ExecLiquidation)
				q := ev.Qty
				if ev.Side == exchange.Sell {
					q = -q
				}
				r.liquidated = append(r.liquidated, Liquidation{Time: now, Price: r.cfg.Rules.TicksToPrice(ev.Price),
					PositionSide: ev.PositionSide, Qty: r.cfg.Rules.StepsToQty(q), Margin: r.cfg.Rules.MoneyToDecimal(ev.Margin)})
				r.rec.liquidation(now, ev)
				if r.liquidatedAt.IsZero() {
					r.liquidatedAt = now
					r.halted = "liquidated at " + r.cfg.Rules.TicksToPrice(ev.Price).String()
					r.queue = append(r.queue, r.eng.Halt(now, r.halted)...)
				}
			case sim.EventFunding:
			}
		}
		if filled && r.eng.HasRiskMonitors() {
			// As the venue's account update after fills: the position and
			// drawdown monitors see what the fills did at once, not at the
			// candle's end.
			now, mark := r.core.Now(), r.core.Price()
			r.queue = append(r.queue, r.eng.ObserveRisk(r.account(now, mark))...)
			r.queue = append(r.queue, r.eng.ObserveRisk(r.books(now, mark))...)
		}
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

func (r *run) apply(now time.Time, ev grid.OrderEvent) error {
	in, err := r.eng.Apply(now, ev)
	if err != nil {
		if r.liquidatedAt.IsZero() {
			return fmt.Errorf("backtest: %s: %w", now.UTC().Format(time.RFC3339), err)
		}
		// After a liquidation the venue has closed the position under the
		// engine; its updates no longer match the slots. The run is over.
		return nil
	}
	r.queue = append(r.queue, in...)
	return nil
}

func (r *run) result(candles []pricefeed.Candle) Result {
	rules := r.cfg.Rules
	m := rules.MoneyToDecimal
	cs := r.core.Stats()
	st := r.eng.Stats()
	b := r.eng.Books()
	init := r.cfg.Sim.InitialBalance
	open := rules.TicksToPrice(candles[0].Open)
	closeP := rules.TicksToPrice(r.last)
	fees, funding, final := r.core.ExactFees(), r.core.ExactFunding(), r.core.ExactEquity(r.last)
	money := newConv(rules.MoneyUnit())
	res := Result{
		Candles: r.replayed, Start: time.UnixMilli(candles[0].OpenTime), End: r.lastTime,
		OpenPrice: open, ClosePrice: closeP,
		RoundTrips: b.RoundTrips, Realized: m(b.Realized), Fees: fees, Funding: funding,
		NetRealized: m(b.Realized).Sub(fees).Sub(funding), Unrealized: m(b.Unrealized(r.last)),
		Position:       rules.StepsToQty(b.Position),
		InitialBalance: m(init), FinalEquity: final, PnL: final.Sub(m(init)),
		BuyAndHold:  m(init).Mul(closeP).Div(open).Round(8),
		MaxDrawdown: money.ofExact(r.maxDD), MaxDrawdownPct: pctExact(r.maxDD, r.ddPeak),
		MaxPosition: rules.StepsToQty(r.maxPos), MaxNotional: m(r.maxNotional),
		Fills: cs.Fills, MakerFills: cs.MakerFills, TakerFills: cs.TakerFills,
		Orders: b.Placed, Cancels: b.Canceled, Rejections: b.Rejected,
		Liquidations: cs.Liquidations, LiquidatedAt: r.liquidatedAt, Halted: r.halted, PausedCandles: r.pausedCandles, TrendCandles: r.trendCandles,
		Stopped: r.stopped, StoppedAt: r.stoppedAt,
		Equity: make([]EquityPoint, len(r.equity)), Engine: st,
		FundingPayments: r.fundingApplied, MarginRefusals: r.marginRefusals, Liquidated: r.liquidated,
		Insurance: m(cs.Insurance), Slippage: m(cs.Slippage), Volume: m(cs.Volume), TakerVolume: m(cs.TakerVolume),
	}
	price := newConv(rules.TickSize)
	for i, p := range r.equity {
		res.Equity[i] = EquityPoint{Time: time.UnixMilli(p.ms), Price: price.of(int64(p.price)), Equity: money.ofExact(p.eq)}
	}
	res.Trades, res.Series = r.rec.finish(r.eng)
	return res
}

// ErrDisagree is matched by the error of a run whose engine and venue books
// disagree at the end: a bug, never a market condition.
var ErrDisagree = errors.New("backtest: engine and venue disagree")

// agree checks, at the end of a run, that the engine's books are the
// venue's: the engine's position (the signed sum of its slots' holdings)
// is the venue's position, and the engine's equity change (realized net
// of fees and funding, plus unrealized at the last price) is the venue's.
// After a liquidation the venue closed the position under the engine, so
// there is nothing to compare.
func (r *run) agree() error {
	if !r.liquidatedAt.IsZero() {
		return nil
	}
	if err := r.eng.CheckInvariants(); err != nil {
		return fmt.Errorf("%w: %w", ErrDisagree, err)
	}
	b := r.eng.Books()
	long, _ := r.core.Position(exchange.PositionLong)
	short, _ := r.core.Position(exchange.PositionShort)
	both, _ := r.core.Position(exchange.PositionBoth)
	if venue := long + short + both; venue != b.Position {
		return fmt.Errorf("%w: position: engine %d steps, venue %d", ErrDisagree, b.Position, venue)
	}
	cs := r.core.Stats()
	engine := b.Realized - b.Fees - cs.Funding + b.Unrealized(r.last)
	if venue := r.core.Equity(r.last) - r.cfg.Sim.InitialBalance; venue != engine {
		return fmt.Errorf("%w: equity change: engine %d, venue %d (money units)", ErrDisagree, engine, venue)
	}
	return nil
}
