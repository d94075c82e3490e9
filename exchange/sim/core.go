package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
)

// Sentinel errors of the simulator, matched with errors.Is.
var (
	// ErrInvalidConfig: a CoreConfig or VenueConfig field is not acceptable.
	// Each joined error names the field and the value.
	ErrInvalidConfig = errors.New("sim: invalid config")
	// ErrNoPrice: an order was placed before the first [Core.Tick], so the
	// core cannot tell whether it crosses.
	ErrNoPrice = errors.New("sim: no price yet")
)

// CoreConfig configures a [Core]. Start from [DefaultCoreConfig]. The zero
// value is not valid (it has no Rules and no Leverage). It is a plain value.
type CoreConfig struct {
	Rules           exchange.Rules
	MakerFee        exchange.Rate // e.g. 20_000 = 0.02 % (negative = rebate)
	TakerFee        exchange.Rate // e.g. 50_000 = 0.05 %
	Leverage        int64         // ≥ 1
	MaintenanceRate exchange.Rate // maintenance margin rate, e.g. 400_000 = 0.4 %
	InitialBalance  exchange.Money
	PositionMode    exchange.PositionMode // OneWay or Hedge
	// TradeThrough is pessimistic matching: a resting order fills only when
	// the price trades at least one tick through it.
	TradeThrough bool
	// PartialFill 0: a touched order fills completely; > 0: at most this
	// many steps fill per touching tick.
	PartialFill exchange.Steps
	// CheckMargin rejects new non-reduce-only orders whose initial margin
	// exceeds the available balance (exchange.ErrInsufficientMargin).
	CheckMargin bool
	// MarginMode is Cross (the zero value: one wallet backs every position,
	// a liquidation closes them all and the wallet ends at zero) or
	// Isolated (each position side is backed by its own margin and a
	// liquidation loses exactly that margin).
	MarginMode exchange.MarginMode
	// Brackets are the symbol's maintenance-margin tiers by notional, as
	// the venue lists them. Empty: one tier at MaintenanceRate for every
	// notional.
	Brackets []Bracket
	// SlippageTicks and SlippageRate move the fill price of a taker order
	// (a market order, or a limit crossing at placement) against it by
	// SlippageTicks + ⌈price × SlippageRate⌉ ticks, never beyond a limit's
	// price. Zero: taker orders fill at the current price.
	SlippageTicks exchange.Ticks
	SlippageRate  exchange.Rate
	// PostOnlyCancelLater models venues that refuse a crossing post-only
	// limit after accepting it (Bitget): Place returns an id and the order
	// ends at once with an EventCanceled, nothing filled, instead of the
	// exchange.ErrPostOnlyRejected error (Binance -5022, the default).
	PostOnlyCancelLater bool
	// ReduceOnlyMinNotional applies the minimum notional to reduce-only
	// orders too. By default they are exempt, as on Binance (-4164: "…
	// unless you choose reduce only"): a reduce-only order needs only the
	// minimum quantity, so a position worth less than the minimum notional
	// can still be closed.
	ReduceOnlyMinNotional bool
}

// DefaultCoreConfig returns Binance USDⓈ-M defaults for the rules: maker fee
// 0.02 %, taker fee 0.05 %, leverage 1, maintenance margin rate 0.4 %,
// one-way mode, margin not checked, an initial balance of 0.
func DefaultCoreConfig(rules exchange.Rules) CoreConfig {
	return CoreConfig{
		Rules:           rules,
		MakerFee:        20_000,
		TakerFee:        50_000,
		Leverage:        1,
		MaintenanceRate: 400_000,
		PositionMode:    exchange.OneWay,
	}
}

// Validate reports every problem of the config at once, each naming the
// field and its value; every error matches [ErrInvalidConfig].
func (cfg CoreConfig) Validate() error {
	var errs []error
	bad := func(field string, v any, reason string) {
		errs = append(errs, fmt.Errorf("%w: CoreConfig.%s = %v: %s", ErrInvalidConfig, field, v, reason))
	}
	if err := cfg.Rules.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: CoreConfig.Rules: %w", ErrInvalidConfig, err))
	} else {
		if _, err := cfg.Rules.TickParser(); err != nil {
			errs = append(errs, fmt.Errorf("%w: CoreConfig.Rules.TickSize: %w", ErrInvalidConfig, err))
		}
		if _, err := cfg.Rules.StepParser(); err != nil {
			errs = append(errs, fmt.Errorf("%w: CoreConfig.Rules.StepSize: %w", ErrInvalidConfig, err))
		}
	}
	if cfg.MakerFee < -exchange.RateScale || cfg.MakerFee > exchange.RateScale {
		bad("MakerFee", int64(cfg.MakerFee), "must lie within ±100 % (±100_000_000)")
	}
	if cfg.TakerFee < -exchange.RateScale || cfg.TakerFee > exchange.RateScale {
		bad("TakerFee", int64(cfg.TakerFee), "must lie within ±100 % (±100_000_000)")
	}
	if cfg.Leverage < 1 {
		bad("Leverage", cfg.Leverage, "must be at least 1")
	}
	if cfg.MaintenanceRate < 0 || cfg.MaintenanceRate >= exchange.RateScale {
		bad("MaintenanceRate", int64(cfg.MaintenanceRate), "must lie in [0, 100 %)")
	}
	if cfg.InitialBalance < 0 {
		bad("InitialBalance", int64(cfg.InitialBalance), "must not be negative")
	}
	if cfg.PositionMode != exchange.OneWay && cfg.PositionMode != exchange.Hedge {
		bad("PositionMode", int(cfg.PositionMode), "must be OneWay or Hedge")
	}
	if cfg.PartialFill < 0 {
		bad("PartialFill", int64(cfg.PartialFill), "must not be negative")
	}
	if cfg.MarginMode != exchange.Cross && cfg.MarginMode != exchange.Isolated {
		bad("MarginMode", int(cfg.MarginMode), "must be Cross or Isolated")
	}
	validateBrackets(cfg.Brackets, bad)
	if cfg.SlippageTicks < 0 {
		bad("SlippageTicks", int64(cfg.SlippageTicks), "must not be negative")
	}
	if cfg.SlippageRate < 0 || cfg.SlippageRate >= exchange.RateScale {
		bad("SlippageRate", int64(cfg.SlippageRate), "must lie in [0, 100 %)")
	}
	return errors.Join(errs...)
}

// Core is the deterministic simulated venue: one symbol, one account,
// integer prices (ticks), quantities (steps) and money. The caller drives
// it with [Core.Tick] (market prices along a continuous path),
// [Core.Place], [Core.Cancel] and [Core.ApplyFunding], each stamped with
// the caller's time, and drains the outcomes with [Core.Events]. The same
// inputs always give the same events.
//
// Create one with [NewCore]; the zero value is not usable. A Core is not
// safe for concurrent use: one goroutine owns it ([Venue] wraps one behind
// a mutex).
type Core struct {
	cfg         CoreConfig
	tt          exchange.Ticks // 1 with TradeThrough, else 0
	minQty      exchange.Steps
	minNotional exchange.Money

	now      time.Time
	price    exchange.Ticks
	hasPrice bool

	// The quiet-tick test: a Tick to p with lowGuard < p < highGuard
	// touches no order and cannot liquidate.
	lowGuard, highGuard exchange.Ticks

	bids   []order // resting buys, price descending, then placement order
	asks   []order // resting sells, price ascending, then placement order
	nextID uint64

	pos    [3]position // indexed by exchange.PositionSide
	wallet exchange.Money

	// [safeLo, safeHi] is a price interval (positive prices) where the
	// current positions and wallet cannot be liquidated. Empty when
	// safeLo > safeHi. bandDirty means positions or wallet changed since.
	safeLo, safeHi exchange.Ticks
	bandDirty      bool
	bandInexact    bool // the positions were too large for computeBand's bound

	lines []line // maintenance tiers as lines
	unit  decimal.Decimal
	// exact totals of fees and funding, and the exact adjustments of
	// liquidations; the wallet books them in whole Money (see [charge])
	fees, funding, adjust fine

	ev      [2][]Event
	cur     int
	stats   CoreStats
	scratch []order
}

type order struct {
	id         uint64
	tag        uint64
	price      exchange.Ticks
	qty        exchange.Steps
	filled     exchange.Steps
	side       exchange.Side
	ps         exchange.PositionSide
	postOnly   bool
	reduceOnly bool // as requested
	closing    bool // reduce-only, or a hedge-mode closing order: never opens
}

type position struct {
	qty    exchange.Steps // signed
	cost   exchange.Money // signed: Σ entry price × qty of the open part
	margin exchange.Money // initial margin of the open part (what isolated margin can lose)
}

// NewCore validates cfg and returns a core with no price, no orders, no
// position and InitialBalance in the wallet. Every problem of cfg is
// reported at once (errors.Join), each naming the field and the value.
func NewCore(cfg CoreConfig) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Core{
		cfg:         cfg,
		minQty:      cfg.Rules.MinQtySteps(),
		minNotional: cfg.Rules.MinNotionalMoney(),
		wallet:      cfg.InitialBalance,
		lowGuard:    math.MaxInt64,
		highGuard:   math.MinInt64,
		bids:        make([]order, 0, 64),
		asks:        make([]order, 0, 64),
		scratch:     make([]order, 0, 128),
		safeLo:      math.MinInt64,
		safeHi:      math.MaxInt64,
		lines:       linesOf(cfg),
		unit:        cfg.Rules.MoneyUnit(),
	}
	cfg.Brackets = slices.Clone(cfg.Brackets)
	c.cfg = cfg
	if cfg.TradeThrough {
		c.tt = 1
	}
	c.ev[0] = make([]Event, 0, 64)
	c.ev[1] = make([]Event, 0, 64)
	return c, nil
}

// Config returns the configuration the core was built with.
func (c *Core) Config() CoreConfig { return c.cfg }

// Now returns the time of the latest accepted input (Tick, Place, Cancel or
// ApplyFunding); the zero time before any.
func (c *Core) Now() time.Time { return c.now }

// Price returns the latest market price, 0 before the first Tick.
func (c *Core) Price() exchange.Ticks { return c.price }

// HasPrice reports whether a Tick has set a price.
func (c *Core) HasPrice() bool { return c.hasPrice }

// Events drains the events produced since the previous call, in order. It
// is double-buffered: the returned slice stays valid, and is not appended
// to, until the next call to Events, even while the caller places or
// cancels orders in reaction to it (those new events go to the other
// buffer). The caller must not keep it longer, and should drain regularly:
// undrained events accumulate.
func (c *Core) Events() []Event {
	out := c.ev[c.cur]
	c.cur ^= 1
	c.ev[c.cur] = c.ev[c.cur][:0]
	return out[:len(out):len(out)]
}

// Pending is the number of events waiting for the next [Core.Events], so a
// caller can skip draining when there is nothing to drain.
func (c *Core) Pending() int { return len(c.ev[c.cur]) }

func (c *Core) emit(e Event) { c.ev[c.cur] = append(c.ev[c.cur], e) }

// Stats returns the running totals.
func (c *Core) Stats() CoreStats { return c.stats }
