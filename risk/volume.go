package risk

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// DefaultBasket returns the seed's basket of five major perpetuals watched
// by the volume-spike monitor.
func DefaultBasket() []string {
	return []string{"BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"}
}

// VolumeSpikeConfig configures a [VolumeSpike] monitor.
type VolumeSpikeConfig struct {
	// Name identifies the monitor; default "volume-spike".
	Name string
	// Symbols is the basket; default [DefaultBasket] (five majors, as in
	// the seed). No duplicates.
	Symbols []string
	// Interval is the candle interval counted ("1m", …); other intervals
	// are ignored. Empty accepts every candle. Default "1m".
	Interval string
	// Window is the moving average's length in closed candles; default 20.
	Window int
	// Multiplier: a candle's volume is a spike above Multiplier × the
	// average volume; default 3.
	Multiplier decimal.Decimal
	// Direction is the grid's: the close side of the average that hurts it
	// is below for LONG, above for SHORT, either for NEUTRAL.
	Direction Direction
	// TriggerQuorum is how many symbols must be anomalous on the same bar
	// to trigger; default all of them (as in the seed).
	TriggerQuorum int
	// ClearQuorum is how many must have normalised on the same closed bar
	// to clear; default 3 of 5 (as in the seed), i.e. ⌈0.6 × len(Symbols)⌉.
	ClearQuorum int
}

// DefaultVolumeSpikeConfig returns the documented defaults for a grid of
// direction d watching symbols (the default basket when none are given).
func DefaultVolumeSpikeConfig(d Direction, symbols ...string) VolumeSpikeConfig {
	if len(symbols) == 0 {
		symbols = DefaultBasket()
	}
	n := len(symbols)
	return VolumeSpikeConfig{
		Name:          "volume-spike",
		Symbols:       append([]string(nil), symbols...),
		Interval:      "1m",
		Window:        20,
		Multiplier:    decimal.NewFromInt(3),
		Direction:     d,
		TriggerQuorum: n,
		ClearQuorum:   (3*n + 4) / 5,
	}
}

// Validate reports every invalid field at once.
func (c VolumeSpikeConfig) Validate() error {
	var errs []error
	bad := func(field string, v any, reason string) {
		errs = append(errs, fieldErr("VolumeSpikeConfig."+field, v, reason))
	}
	if c.Name == "" {
		bad("Name", `""`, "must not be empty")
	}
	if len(c.Symbols) == 0 {
		bad("Symbols", "[]", "must not be empty")
	}
	seen := map[string]bool{}
	for i, s := range c.Symbols {
		if s == "" {
			bad(fmt.Sprintf("Symbols[%d]", i), `""`, "must not be empty")
		}
		if seen[s] {
			bad(fmt.Sprintf("Symbols[%d]", i), s, "is listed twice")
		}
		seen[s] = true
	}
	if c.Window < 1 {
		bad("Window", c.Window, "must be at least 1")
	}
	if !c.Multiplier.IsPositive() {
		bad("Multiplier", c.Multiplier, "must be positive")
	}
	if !c.Direction.Valid() {
		bad("Direction", c.Direction, "must be LONG, SHORT or NEUTRAL")
	}
	if c.TriggerQuorum < 1 || c.TriggerQuorum > len(c.Symbols) {
		bad("TriggerQuorum", c.TriggerQuorum, fmt.Sprintf("must be in [1, %d]", len(c.Symbols)))
	}
	if c.ClearQuorum < 1 || c.ClearQuorum > len(c.Symbols) {
		bad("ClearQuorum", c.ClearQuorum, fmt.Sprintf("must be in [1, %d]", len(c.Symbols)))
	}
	return errors.Join(errs...)
}

// basketSymbol is one symbol's moving averages and latest verdicts.
type basketSymbol struct {
	name        string
	vols        []decimal.Decimal // ring of the last Window closed volumes
	closes      []decimal.Decimal // and closes
	n, head     int
	sumVol      decimal.Decimal
	sumClose    decimal.Decimal
	bar         time.Time // open time of the latest candle seen
	closedBar   time.Time // open time of the latest closed candle
	hasClosed   bool
	anomalous   bool   // the latest candle (forming or closed) is anomalous
	normal      bool   // the latest closed candle is normal
	anomDetail  string // numbers behind the verdicts, for reasons
	closeDetail string
}

// VolumeSpike watches a basket of symbols' candles for a collective volume
// spike against the grid. A symbol is anomalous on a candle when the
// candle's volume exceeds Multiplier × the average volume of its previous
// Window closed candles and its close lies on the side of the average
// close (same Window) that hurts the grid: below for LONG, above for
// SHORT, either for NEUTRAL. A forming candle counts (a spike is seen as
// it builds). A symbol has normalised on a closed candle when its volume
// is below Multiplier × the average and its close lies on the grid's good
// side (strictly above for LONG, below for SHORT, either for NEUTRAL).
//
// The monitor triggers when TriggerQuorum symbols are anomalous on the
// basket's latest bar (same open time), and then clears only when
// ClearQuorum symbols have normalised on the basket's latest closed bar:
// normalising is stricter than no longer being anomalous, which is the
// hysteresis. A symbol needs Window closed candles before it can be
// either; a candle older than its symbol's latest, or a repeated closed
// candle, is ignored.
//
// The zero value is inert; build one with [NewVolumeSpike]. Not safe for
// concurrent use.
type VolumeSpike struct {
	cfg       VolumeSpikeConfig
	ok        bool
	syms      []*basketSymbol
	bar       time.Time // latest bar open time across the basket
	closedBar time.Time // latest closed bar open time across the basket
	status    Status
}

// NewVolumeSpike returns a volume-spike monitor, or the configuration's errors.
func NewVolumeSpike(cfg VolumeSpikeConfig) (*VolumeSpike, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Symbols = append([]string(nil), cfg.Symbols...)
	m := &VolumeSpike{cfg: cfg, ok: true}
	for _, s := range cfg.Symbols {
		m.syms = append(m.syms, &basketSymbol{name: s,
			vols: make([]decimal.Decimal, cfg.Window), closes: make([]decimal.Decimal, cfg.Window)})
	}
	return m, nil
}

// Name returns the configured name.
func (m *VolumeSpike) Name() string { return m.cfg.Name }

// Observe implements [Monitor].
func (m *VolumeSpike) Observe(o Observation) Status {
	if !m.ok || o.Kind != KindKline {
		return m.status
	}
	k := o.Kline
	if m.cfg.Interval != "" && k.Interval != m.cfg.Interval {
		return m.status
	}
	sym := o.Symbol
	if sym == "" {
		sym = k.Symbol
	}
	var s *basketSymbol
	for _, x := range m.syms {
		if x.name == sym {
			s = x
			break
		}
	}
	if s == nil || k.OpenTime.Before(s.bar) || (k.Closed && s.hasClosed && !k.OpenTime.After(s.closedBar)) {
		return m.status
	}
	m.judge(s, o)
	if k.OpenTime.After(m.bar) {
		m.bar = k.OpenTime
	}
	if k.Closed && k.OpenTime.After(m.closedBar) {
		m.closedBar = k.OpenTime
	}
	if !m.status.Triggered {
		var names []string
		for _, x := range m.syms {
			if x.anomalous && x.bar.Equal(m.bar) {
				names = append(names, x.anomDetail)
			}
		}
		if len(names) >= m.cfg.TriggerQuorum {
			m.status = Status{Triggered: true, Reason: fmt.Sprintf("%d/%d symbols anomalous on the %s bar of %s (need %d): %s",
				len(names), len(m.syms), m.interval(), fmtTime(m.bar), m.cfg.TriggerQuorum, strings.Join(names, "; "))}
		}
		return m.status
	}
	var names []string
	for _, x := range m.syms {
		if x.normal && x.hasClosed && x.closedBar.Equal(m.closedBar) {
			names = append(names, x.closeDetail)
		}
	}
	if len(names) >= m.cfg.ClearQuorum {
		m.status = Status{Reason: fmt.Sprintf("%d/%d symbols normalised on the %s bar of %s (need %d): %s",
			len(names), len(m.syms), m.interval(), fmtTime(m.closedBar), m.cfg.ClearQuorum, strings.Join(names, "; "))}
	}
	return m.status
}

func (m *VolumeSpike) interval() string {
	if m.cfg.Interval == "" {
		return "latest"
	}
	return m.cfg.Interval
}

// judge updates one symbol's verdicts with a candle, then its averages if
// the candle is closed.
func (m *VolumeSpike) judge(s *basketSymbol, o Observation) {
	k := o.Kline
	w := m.cfg.Window
	s.bar = k.OpenTime
	s.anomalous = false
	if s.n == w {
		wd := decimal.NewFromInt(int64(w))
		maVol := s.sumVol.Div(wd)
		maClose := s.sumClose.Div(wd)
		limit := maVol.Mul(m.cfg.Multiplier)
		spike := k.Volume.GreaterThan(limit)
		below, above := k.Close.LessThan(maClose), k.Close.GreaterThan(maClose)
		var hurt, good bool
		switch m.cfg.Direction {
		case Long:
			hurt, good = below, above
		case Short:
			hurt, good = above, below
		default:
			hurt, good = true, true
		}
		where := "at"
		if below {
			where = "below"
		} else if above {
			where = "above"
		}
		ratio := "∞"
		if maVol.IsPositive() {
			ratio = k.Volume.Div(maVol).StringFixed(2)
		}
		detail := fmt.Sprintf("%s volume %s× MA%d, close %s %s MA%d %s", s.name, ratio, w, k.Close, where, w, maClose.Round(8))
		s.anomalous = spike && hurt
		if s.anomalous {
			s.anomDetail = detail
		}
		if k.Closed {
			s.normal = k.Volume.LessThan(limit) && good
			if s.normal {
				s.closeDetail = detail
			}
		}
	} else if k.Closed {
		s.normal = false
	}
	if !k.Closed {
		return
	}
	s.hasClosed, s.closedBar = true, k.OpenTime
	if s.n == w {
		s.sumVol = s.sumVol.Sub(s.vols[s.head])
		s.sumClose = s.sumClose.Sub(s.closes[s.head])
	} else {
		s.n++
	}
	s.vols[s.head], s.closes[s.head] = k.Volume, k.Close
	s.sumVol = s.sumVol.Add(k.Volume)
	s.sumClose = s.sumClose.Add(k.Close)
	s.head = (s.head + 1) % w
}
