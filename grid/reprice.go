package grid

import (
	"errors"
	"fmt"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/slot"
)

// Maker-only entries. Every entry is sent post-only. A venue refuses a
// post-only order that would take liquidity either at once (Binance
// -5022, [exchange.ErrPostOnlyRejected]) or later, by canceling or
// expiring the accepted order with nothing filled (Bitget); the engine
// counts both as the same rejection of the slot's entry:
//
//   - the slot backs off (1 s, doubling with each rejection in a row, up
//     to 64 s) — a post-only rejection says nothing of the other levels,
//     so it does not back off the whole side as other refusals do;
//   - its next entry is re-priced: a buy at no better than the engine's
//     last price minus k ticks and never above its level (min(level,
//     last − k)), a sell at no better than last + k and never below its
//     level — one jump clear of the market, never one tick at a time into
//     a level the market has crossed. The exit stays priced from the
//     level. The entry is still placed only while its level is in the
//     window (below the price for a buy, above it for a sell);
//   - after N rejections in a row ([WithMakerFallbackAfter], default 3)
//     and only with [WithMakerFallback], the slot's next entry is a plain
//     limit at its level price (it may take liquidity, and pay the taker
//     fee).
//
// A fill of the entry, or a cancel the engine asked for (the entry
// rested), ends the run of rejections. Stats counts the rejections
// (PostOnlyRejects), the re-priced entries (Repriced) and the fallbacks
// (MakerFallbacks).

// DefaultRepriceTicks is how many ticks behind the last price a re-priced
// entry rests by default (see [WithRepricing]).
const DefaultRepriceTicks = 1

// DefaultFallbackAfter is how many post-only rejections in a row let a
// slot fall back to a plain limit, when [WithMakerFallback] is on.
const DefaultFallbackAfter = 3

// maxRepriceTicks bounds WithRepricing: beyond it an entry would rest far
// from any level.
const maxRepriceTicks = 1_000_000

// makerBooks are the maker-only counts.
type makerBooks struct {
	rejects   int // post-only rejections of entries, immediate or later
	repriced  int // entries placed at a re-priced price
	fallbacks int // entries sent as plain limits after rejections
}

// WithRepricing sets how a post-only entry the venue rejected is re-priced.
// Entries are always sent post-only; a rejection at once
// ([exchange.ErrPostOnlyRejected], Binance -5022) and a later cancel or
// expiry of the entry with nothing filled that the engine did not ask for
// (Bitget) are the same rejection: the slot backs off (1 s, doubling with
// each rejection in a row, up to 64 s; the rest of its side is not held)
// and its next entry rests ticks behind the engine's last price, in one
// jump — a buy at min(level, last − ticks), a sell at max(level, last +
// ticks) — while exits stay priced from their level. The entry is placed
// only while its level is in the window, as always. A fill of the entry,
// or a cancel the engine asked for, ends the run of rejections. Stats
// counts them (PostOnlyRejects, Repriced); see also [WithMakerFallback]
// and grid/CONTROLS.md.
//
// 0 turns re-pricing off: a rejected entry is placed again at its level
// after its back-off. Default [DefaultRepriceTicks] (1). Example:
//
//	grid.WithRepricing(3) // 3 ticks clear of the last price
func WithRepricing(ticks int64) Option {
	return optionFunc(func(c *config) { c.repriceTicks = ticks })
}

// WithMakerFallback lets a slot whose post-only entry the venue rejected
// [WithMakerFallbackAfter] times in a row send its next entry as a plain
// limit at its level price, which may fill at once as taker. Default
// false: entries are always post-only. Example:
//
//	grid.WithMakerFallback(true)
func WithMakerFallback(on bool) Option {
	return optionFunc(func(c *config) { c.fallback = on })
}

// WithMakerFallbackAfter sets how many post-only rejections in a row on one
// slot make [WithMakerFallback] send a plain limit: 1 to 100. Default
// [DefaultFallbackAfter] (3). Example:
//
//	grid.WithMakerFallback(true), grid.WithMakerFallbackAfter(5)
func WithMakerFallbackAfter(n int) Option {
	return optionFunc(func(c *config) { c.fallbackAfter = n })
}

func (c *config) validateMaker() {
	if c.repriceTicks < 0 || c.repriceTicks > maxRepriceTicks {
		c.fail("WithRepricing", fmt.Sprint(c.repriceTicks), "ticks must be 0 (off) to %d", maxRepriceTicks)
	}
	if c.fallbackAfter < 1 || c.fallbackAfter > 100 {
		c.fail("WithMakerFallbackAfter", fmt.Sprint(c.fallbackAfter), "must be 1 to 100 rejections")
	}
}

// postOnlyRefusal reports whether a venue's refusal is a post-only order
// that would have taken liquidity.
func postOnlyRefusal(ev OrderEvent) bool {
	return ev.Type == OrderRejected && errors.Is(ev.Cause, exchange.ErrPostOnlyRejected)
}

// unrequestedEnd reports whether ev ends the slot's current order, with
// nothing filled by the event's count, while the engine had not asked for
// a cancel: the venue canceled or expired it on its own (a later post-only
// rejection, a reduce-only knock-out). state is the slot's state before
// the event; the caller also checks that the slot saw no fill of it.
func unrequestedEnd(ev OrderEvent, current bool, state slot.State) bool {
	return current && (ev.Type == OrderCanceled || ev.Type == OrderExpired) && ev.CumQty == 0 && state != slot.Canceling
}

// makerOutcome books what an order event means for the slot's maker-only
// run, after the slot applied it: role and state are the order's role and
// the slot's state before the event, late whether it was an unrequested
// zero-fill end, entered what the event filled of the entry.
func (e *Engine) makerOutcome(now time.Time, i int64, lv *level, role slot.Role, state slot.State, ev OrderEvent, late bool, entered int64) {
	switch {
	case role == slot.RoleEntry && entered > 0,
		role == slot.RoleEntry && state == slot.Canceling && (ev.Type == OrderCanceled || ev.Type == OrderExpired):
		lv.postRejects = 0 // the entry filled, or rested until the engine canceled it
	case postOnlyRefusal(ev) && role == slot.RoleEntry:
		// The regular refusal handling backed the slot off already; the
		// run of post-only rejections sets the back-off too, so that an
		// acknowledgement before a later rejection does not reset it.
		e.postOnlyRejected(now, i, lv, ev.Reason)
	case late && role == slot.RoleEntry && !lv.plain:
		e.postOnlyRejected(now, i, lv, "ended by the venue with nothing filled ("+ev.Type.String()+")")
	case late:
		// An exit (or a plain entry) the venue ended on its own: back off
		// like a refusal, or it would be sent again at once, forever.
		lv.rejects = min(lv.rejects+1, 7)
		lv.retryAt = now.UnixNano() + int64(rejectBackoff)<<(lv.rejects-1)
	}
}

// postOnlyRejected books one post-only rejection of the slot's entry and
// backs the slot off.
func (e *Engine) postOnlyRejected(now time.Time, i int64, lv *level, why string) {
	lv.postRejects = min(lv.postRejects+1, 255)
	e.maker.rejects++
	n := min(lv.postRejects, 7)
	lv.retryAt = max(lv.retryAt, now.UnixNano()+int64(rejectBackoff)<<(n-1))
	e.log.Info("grid: post-only entry rejected; re-pricing", "level", i, "inARow", lv.postRejects,
		"retryAt", time.Unix(0, lv.retryAt), "reason", why)
}

// entryPrice is the price and post-only flag of a slot's next entry on
// side: its level, or re-priced after post-only rejections, or a plain
// limit at its level once the fallback applies.
func (e *Engine) entryPrice(lv *level, side exchange.Side) (exchange.Ticks, bool) {
	lv.plain = false
	if lv.postRejects == 0 {
		return lv.price, true
	}
	if e.cfg.fallback && int(lv.postRejects) >= e.cfg.fallbackAfter {
		lv.plain = true
		e.maker.fallbacks++
		e.log.Warn("grid: post-only entry rejected repeatedly; a plain limit this time", "price", lv.price, "rejections", lv.postRejects)
		return lv.price, false
	}
	k := exchange.Ticks(e.cfg.repriceTicks)
	if k == 0 || !e.havePrice {
		return lv.price, true
	}
	px := lv.price
	if side == exchange.Buy {
		px = min(px, e.price-k)
	} else {
		px = max(px, e.price+k)
	}
	if px <= 0 {
		return lv.price, true // no price below the last one: try the level
	}
	if px != lv.price {
		e.maker.repriced++
	}
	return px, true
}
