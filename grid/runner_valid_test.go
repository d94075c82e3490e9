package grid

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gridmesh/gridmesh/exchange"
)

// TestPlaceBandIsTheEnginesKeepWindow checks placeBand against the engine
// itself: along random walks of every grid shape with random windows, an
// order live before a price move that did not fill is canceled by the
// move exactly when the new price is outside its band.
func TestPlaceBandIsTheEnginesKeepWindow(t *testing.T) {
	shapes := []struct {
		name string
		opts []Option
	}{
		{"long-bounded", []Option{WithBounds(d("900"), d("1100"), 40)}},
		{"short-bounded", []Option{WithMode(Short), WithBounds(d("900"), d("1100"), 40)}},
		{"neutral-bounded", []Option{WithMode(Neutral), WithBounds(d("900"), d("1100"), 40), WithPositionMode(exchange.Hedge)}},
		{"long-geometric", []Option{WithBounds(d("900"), d("1100"), 25), WithGeometric()}},
		{"long-trailing", []Option{WithTrailing(d("5"), 12)}},
		{"short-trailing", []Option{WithMode(Short), WithTrailing(d("5"), 12)}},
		{"neutral-trailing-geometric", []Option{WithMode(Neutral), WithTrailing(d("0.004"), 15), WithGeometric()}},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			checked, stale := 0, 0
			for seed := uint64(1); seed <= 10; seed++ {
				rng := rand.New(rand.NewPCG(seed, 11))
				opts := append([]Option{WithStartPrice(d("1000")), WithQuantity(d("1")),
					WithWindows(1+rng.IntN(5), 1+rng.IntN(5), rng.IntN(3))}, sh.opts...)
				e, err := New(unitRules, opts...)
				require.NoError(t, err)
				v := newBookVenue(t, e, 1000)
				canceled := map[OrderRef]bool{}
				v.onIntent = func(it Intent) {
					if it.Kind == IntentCancel {
						canceled[it.Ref] = true
					}
				}
				p := exchange.Ticks(1000)
				for range 200 {
					before := map[OrderRef]priceBand{}
					for ref, it := range v.orders {
						before[ref] = e.placeBand(it)
					}
					p += exchange.Ticks(rng.IntN(41) - 20)
					if rng.IntN(10) == 0 {
						p += exchange.Ticks(rng.IntN(161) - 80) // a gap
					}
					p = min(max(p, 700), 1300)
					clear(canceled)
					v.tick(p)
					for ref, band := range before {
						if _, live := v.orders[ref]; !live && !canceled[ref] {
							continue // filled
						}
						checked++
						if !band.holds(p) {
							stale++
						}
						require.Equal(t, !band.holds(p), canceled[ref], "order %s band [%d, %d] at price %d: canceled", ref, band.lo, band.hi, p)
					}
				}
			}
			assert.Positive(t, stale, "some orders went stale (of %d)", checked)
		})
	}
}

// TestPlaceBandOfOrdersWithoutAWindow: market orders (the initial
// position, a hard stop's) never go stale by price.
func TestPlaceBandOfOrdersWithoutAWindow(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("100")), WithBounds(d("90"), d("110"), 20), WithQuantity(d("1")), WithWindows(3, 3, 1))
	require.NoError(t, err)
	var places []Intent
	for _, it := range append(e.OnPrice(time.Unix(0, 0), 100), e.OnStreamReady(time.Unix(0, 0))...) {
		if it.Kind == IntentPlace {
			places = append(places, it)
		}
	}
	require.NotEmpty(t, places)
	for _, it := range places {
		b := e.placeBand(it)
		switch {
		case it.Market:
			assert.Equal(t, anyPrice, b, "%s", it)
		case it.Side == exchange.Buy: // long entries at 99, 98, 97: stale above the level 4 up
			assert.Equal(t, priceBand{lo: anyPrice.lo, hi: it.Price + 4}, b, "%s", it)
		}
	}
	assert.Equal(t, anyPrice, e.placeBand(Intent{Kind: IntentPlace, Ref: OrderRef{Level: CloseLevel, Gen: 1}, Market: true}))
	assert.True(t, anyPrice.holds(1), "any price")
	assert.True(t, priceBand{lo: 10, hi: 20}.holds(0), "no price yet")
	assert.False(t, priceBand{lo: 10, hi: 20}.holds(21))
	assert.Equal(t, priceBand{lo: 12, hi: 18}, priceBand{lo: 10, hi: 18}.and(priceBand{lo: 12, hi: 20}))
}

// TestLoopGivesAPlacementItsTurn: with urgent work always queued, a
// waiting placement goes after at most urgentBurst urgent jobs (before,
// urgent work went strictly first and a placement could wait for ever).
func TestLoopGivesAPlacementItsTurn(t *testing.T) {
	l := &loop{work: make(chan job)}
	urgent := job{kind: IntentQuery}
	l.urgent = []job{urgent, urgent}
	l.places = []job{{kind: IntentPlace}, {kind: IntentPlace}}
	var got []IntentKind
	for range 12 {
		_, j := l.next()
		got = append(got, j.kind)
		l.sent()
		l.urgent = append(l.urgent, urgent) // a steady stream
	}
	q, p := IntentQuery, IntentPlace
	assert.Equal(t, []IntentKind{q, q, q, q, p, q, q, q, q, p, q, q}, got)
	assert.Equal(t, 12, l.inflight)

	// Without placements waiting, urgent jobs do not build up credit.
	l = &loop{work: make(chan job), urgent: []job{urgent, urgent, urgent, urgent, urgent}}
	for range 5 {
		l.next()
		l.sent()
	}
	l.urgent = []job{urgent}
	l.places = []job{{kind: IntentPlace}}
	_, j := l.next()
	assert.Equal(t, IntentQuery, j.kind, "urgent first while the run is short")
	l = &loop{work: make(chan job), places: []job{{kind: IntentPlace}}}
	_, j = l.next()
	assert.Equal(t, IntentPlace, j.kind)
	l = &loop{work: make(chan job)}
	ch, _ := l.next()
	assert.Nil(t, ch, "nothing to hand out")
}

// TestLoopDropsStalePlacementsOnTheTimer: queued placements whose send
// deadline passed, or whose band the price left, are answered not-sent by
// the loop itself on its timer, not one worker turn at a time. Regression:
// live soak mixed seed 231 (one worker, a steady stream of queries) kept
// 100+ dead placements queued for minutes, each slot placing again at the
// tail when its own expired, and never settled.
func TestLoopDropsStalePlacementsOnTheTimer(t *testing.T) {
	e, err := New(unitRules, WithStartPrice(d("1000")), WithQuantity(d("1")), WithBounds(d("900"), d("1100"), 20),
		WithMode(Neutral), WithPositionMode(exchange.Hedge), WithWindows(3, 3, 1))
	require.NoError(t, err)
	t0 := time.Unix(1_700_000_000, 0)
	r := &Runner{eng: e, log: slog.New(slog.DiscardHandler), cfg: runnerConfig{maxPlaces: 256, now: func() time.Time { return t0 }}}
	r.lastPrice.Store(1000)
	l := &loop{r: r, work: make(chan job), queries: map[OrderRef]bool{}}
	l.dispatch(e.OnStreamReady(t0))
	l.dispatch(e.OnPrice(t0, 1000))
	queued := func() (n int) {
		for _, j := range l.places {
			require.Len(t, j.bands, len(j.intents))
			n += len(j.intents)
		}
		return n
	}
	placed := queued()
	require.Equal(t, 6, placed, "three entries each side")

	l.dropStale(t0.Add(time.Second))
	assert.Equal(t, placed, queued(), "nothing stale yet")
	assert.Equal(t, 0, e.Stats().NotSent)

	// The price leaves the lowest buy's band: that one goes, the rest stay.
	r.lastPrice.Store(1000 + 2*10)
	l.dropStale(t0.Add(time.Second))
	left := queued()
	assert.Less(t, left, placed)
	assert.Equal(t, placed-left, e.Stats().NotSent)

	// Past the send deadline every queued placement is answered at once.
	l.dropStale(t0.Add(time.Hour))
	assert.Zero(t, queued())
	assert.Empty(t, l.places)
	assert.Equal(t, placed, e.Stats().NotSent)
}

// fixedFeed is a feed whose latest price is p.
type fixedFeed struct{ p exchange.Ticks }

func (f fixedFeed) Latest() (exchange.Ticks, time.Time, bool) { return f.p, time.Time{}, f.p > 0 }

// A queued placement is checked against the market's latest price, not
// only against the last price the owner loop took: a loop busy elsewhere
// must not let an order the market has left reach the venue (the live
// soak's stale-placement check saw orders sent up to 3 levels past their
// window while the loop lagged).
func TestPlacementCheckedAgainstTheMarketsLatestPrice(t *testing.T) {
	r := &Runner{cfg: runnerConfig{now: time.Now}, log: slog.New(slog.DiscardHandler)}
	r.lastPrice.Store(1000)
	assert.Equal(t, exchange.Ticks(1000), r.marketPrice(), "without a feed that tells its latest price")
	r.market.Store(marketSource{fixedFeed{1100}})
	assert.Equal(t, exchange.Ticks(1100), r.marketPrice())
	ref := OrderRef{Level: 3, Gen: 1}
	evs := r.place(context.Background(), []Intent{{Kind: IntentPlace, Ref: ref}}, []priceBand{{lo: 990, hi: 1010}})
	require.Len(t, evs, 1)
	assert.Equal(t, OrderNotSent, evs[0].Type)
	assert.Equal(t, ref, evs[0].Ref)

	r.market.Store(marketSource{fixedFeed{0}}) // a feed with no price yet: the loop's
	assert.Equal(t, exchange.Ticks(1000), r.marketPrice())
}
