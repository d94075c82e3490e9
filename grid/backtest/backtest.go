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
