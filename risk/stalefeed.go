package risk

import (
	"errors"
	"fmt"
	"time"
)

// ================================================================= stale feed

// StaleFeedConfig configures a [StaleFeed] monitor.
type StaleFeedConfig struct {
	// Name identifies the monitor; default "stale-feed".
	Name string
	// Symbol is the symbol whose feed is watched.
	Symbol string
	// MaxAge triggers when no price has come for longer than this;
	// default 30 seconds.
	MaxAge time.Duration
	// ClearPrices clears once this many prices have come in a row, each
	// within MaxAge of the one before; default 3. At least 1.
	ClearPrices int
}

// DefaultStaleFeedConfig returns the documented defaults for symbol.
func DefaultStaleFeedConfig(symbol string) StaleFeedConfig {
	return StaleFeedConfig{Name: "stale-feed", Symbol: symbol, MaxAge: 30 * time.Second, ClearPrices: 3}
}

// Validate reports every invalid field at once.
func (c StaleFeedConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, fieldErr("StaleFeedConfig.Name", `""`, "must not be empty"))
	}
	if c.Symbol == "" {
		errs = append(errs, fieldErr("StaleFeedConfig.Symbol", `""`, "must not be empty"))
	}
	if c.MaxAge <= 0 {
		errs = append(errs, fieldErr("StaleFeedConfig.MaxAge", c.MaxAge, "must be positive"))
	}
	if c.ClearPrices < 1 {
		errs = append(errs, fieldErr("StaleFeedConfig.ClearPrices", c.ClearPrices, "must be at least 1"))
	}
	return errors.Join(errs...)
}

// StaleFeed triggers when the symbol's price feed has been silent for more
// than MaxAge — counted from the first observation of any kind when nothing
// has come yet — and clears once ClearPrices messages have come in a row
// after the silence, each within MaxAge of the one before (the message that
// ends a silence does not count: it came late). Silence is noticed on any
// observation, so the host's runner sends [KindTimer] observations to
// detect a feed that stopped.
//
// The feed speaks through [KindPrice] and [KindKline] observations (a
// price, at the observation's time) and through [KindAlive] ones: the
// source's newest message at Heard, whether or not it changed the price
// (see pricefeed.Monitor.Liveness). A live feed on a flat market repeats
// its price; the price monitor does not re-deliver it, but its liveness
// reaches this monitor, so a quiet market does not pause entries. An alive
// observation whose Heard has not moved since the last message proves
// nothing new and is only a clock reading.
//
// The zero value is inert; build one with [NewStaleFeed]. Not safe for
// concurrent use.
type StaleFeed struct {
	cfg     StaleFeedConfig
	ok      bool
	started bool
	start   time.Time
	last    time.Time // last message, zero before the first
	fresh   int       // messages in a row while triggered
	status  Status
}

// NewStaleFeed returns a stale-feed monitor, or the configuration's errors.
func NewStaleFeed(cfg StaleFeedConfig) (*StaleFeed, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &StaleFeed{cfg: cfg, ok: true}, nil
}

// Name returns the configured name.
func (m *StaleFeed) Name() string { return m.cfg.Name }

// message returns the time of a feed message o newly proves: a price's or
// candle's time, or an alive observation's Heard when it is newer than the
// last message.
func (m *StaleFeed) message(o Observation) (time.Time, bool) {
	if _, ok := priceOf(o, m.cfg.Symbol); ok {
		return o.Time, true
	}
	if o.Kind == KindAlive && o.Symbol == m.cfg.Symbol && !o.Heard.IsZero() && o.Heard.After(m.last) {
		return o.Heard, true
	}
	return time.Time{}, false
}

// silence returns the gap from the last message (or the first observation)
// to t, and what it is counted from.
func (m *StaleFeed) silence(t time.Time) (time.Duration, string) {
	if m.last.IsZero() {
		return t.Sub(m.start), "the first observation at " + fmtTime(m.start)
	}
	return t.Sub(m.last), "the last price at " + fmtTime(m.last)
}

// stale triggers (if not yet) for a silence of gap since since.
func (m *StaleFeed) stale(gap time.Duration, since string) {
	m.fresh = 0
	if !m.status.Triggered {
		m.status = Status{Triggered: true, Reason: fmt.Sprintf("no %s price for %s since %s (limit %s)",
			m.cfg.Symbol, gap, since, m.cfg.MaxAge)}
	}
}

// Observe implements [Monitor].
func (m *StaleFeed) Observe(o Observation) Status {
	if !m.ok {
		return Status{}
	}
	if !m.started {
		m.started, m.start = true, o.Time
	}
	if at, ok := m.message(o); ok {
		gap, since := m.silence(at)
		m.last = at
		switch {
		case gap > m.cfg.MaxAge:
			// A late message ends a silence: the feed was stale until
			// then, and the run of fresh messages starts after it.
			m.stale(gap, since)
		case m.status.Triggered:
			m.fresh++
			if m.fresh >= m.cfg.ClearPrices {
				m.status = Status{Reason: fmt.Sprintf("%s prices flowing again at %s: %d in a row, each within %s",
					m.cfg.Symbol, fmtTime(at), m.fresh, m.cfg.MaxAge)}
				m.fresh = 0
			}
		}
	}
	// Silence up to now: nothing came since the last message.
	if gap, since := m.silence(o.Time); gap > m.cfg.MaxAge {
		m.stale(gap, since)
	}
	return m.status
}
