package grid

import (
	"errors"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
)

// A hard stop's close may be left with a remainder no order can trade: a
// quantity below the venue's minimum (market) quantity, or a notional
// below its minimum notional. Binance exempts reduce-only orders from the
// minimum notional (not from the minimum quantity), so a one-way long or
// short grid's reduce-only close of a small remainder is still sent; a
// venue that refuses it anyway as an invalid order
// ([exchange.ErrInvalidOrder]) is taken at its word, and the close is not
// exempt from then on. What cannot be closed is not retried: the closer
// gives it up, logs it once as an error and reports it in [Stats]
// (CloseDustLong, CloseDustShort) until the holding changes (a later
// fill, or a restart with the position closed by hand) or the price makes
// its notional tradable, when it is sent after all.

// closeDust reports whether a closing order of qty (reduce-only or not)
// is one the venue refuses whatever the retries: below the minimum market
// quantity, or, unless a reduce-only order is exempt, below the minimum
// notional at the last price.
func (e *Engine) closeDust(qty exchange.Steps, reduceOnly bool) bool {
	if qty <= 0 {
		return false
	}
	if qty < max(e.minQty, e.mktMin, 1) {
		return true
	}
	exempt := reduceOnly && !e.closing.noExemption
	return !exempt && e.havePrice && exchange.Notional(e.price, qty) < e.minNotion
}

// giveUpClose records what the close leaves on a side (long, short, or
// the net of a one-way neutral grid) as dust that no order can close.
func (e *Engine) giveUpClose(dust *exchange.Steps, qty exchange.Steps, side exchange.Side) {
	if *dust == qty {
		return
	}
	*dust = qty
	e.log.Error("grid: the hard stop cannot close what the grid still holds: it is below the venue's minimum order; "+
		"it stays open (Stats.CloseDustLong, CloseDustShort) until closed by hand",
		"side", side.String(), "qty", e.rules.StepsToQty(qty).String(), "price", e.rules.TicksToPrice(e.price).String(),
		"minQty", e.rules.StepsToQty(max(e.minQty, e.mktMin)).String(), "minNotional", e.rules.MoneyToDecimal(e.minNotion).String())
}

// dustNow is the dust the closer gave up that the slots still hold, long
// and short (a one-way neutral grid's net on its side): zero once the
// holding changed.
func (e *Engine) dustNow() (long, short exchange.Steps) {
	c := &e.closing
	if !c.wanted {
		return 0, 0
	}
	b := &e.books
	if e.cfg.posMode == exchange.OneWay && e.cfg.mode == Neutral {
		switch net := b.LongHeld - b.ShortHeld; {
		case c.dustNet == 0 || c.dustNet != absSteps(net):
			return 0, 0
		case net > 0:
			return net, 0
		default:
			return 0, -net
		}
	}
	if c.dustLong != 0 && c.dustLong == b.LongHeld {
		long = c.dustLong
	}
	if c.dustShort != 0 && c.dustShort == b.ShortHeld {
		short = c.dustShort
	}
	return long, short
}

// refusedAsDust reports whether a closing order's refusal shows that the
// venue does not exempt a reduce-only close from its minimum notional:
// refused as invalid while it was below the minimum notional. The closer
// then treats that remainder as dust instead of sending it again.
func (e *Engine) refusedAsDust(leg *closeLeg, ev OrderEvent) bool {
	if !errors.Is(ev.Cause, exchange.ErrInvalidOrder) || !e.havePrice {
		return false
	}
	rest := leg.qty - leg.filled
	if rest >= max(e.minQty, e.mktMin, 1) && exchange.Notional(e.price, rest) >= e.minNotion {
		return false // an ordinary refusal: sent again after the back-off
	}
	e.closing.noExemption = true
	return true
}

// closeSide sends the close of qty on side unless it is dust at the last
// price, which it gives up (logged once) instead; dust that a price move
// makes tradable is sent then.
func (e *Engine) closeSide(now time.Time, dust *exchange.Steps, side exchange.Side, qty, cross exchange.Steps) {
	if e.closeDust(qty, e.closeReduces(side, qty)) {
		if cross > 0 {
			// The sides' offsetting holdings close against each other at
			// the last price; only the net is dust.
			e.bookCross(now, cross)
		}
		e.giveUpClose(dust, qty, side)
		return
	}
	*dust = 0
	e.sendClose(now, side, qty, cross)
}

// closeReduces reports whether a close of qty on side goes reduce-only: in
// one-way mode, when it reduces the account's net position (the baseline
// and the grid's, as the engine knows them) by all of qty. Then a venue
// whose position was closed elsewhere refuses it rather than opening the
// other way (see refusedReduceOnly). A neutral grid's net close is
// reduce-only too; a close against a baseline of the other sign (the grid
// long, the account short beyond it) cannot be, and goes plain. Hedge mode
// has no reduce-only: the position side says what is closed; nor a grid
// that shares its symbol (WithSharedSymbol), whose account's net it does
// not know.
func (e *Engine) closeReduces(side exchange.Side, qty exchange.Steps) bool {
	if e.cfg.posMode != exchange.OneWay || e.cfg.shared {
		return false
	}
	net := e.baseline + e.books.Position
	if side == exchange.Sell {
		return net >= qty
	}
	return -net >= qty
}
