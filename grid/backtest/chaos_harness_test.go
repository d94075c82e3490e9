package backtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/exchange/sim"
	"github.com/gridmesh/gridmesh/grid"
	"github.com/gridmesh/gridmesh/pricefeed"
	"github.com/gridmesh/gridmesh/slot"
)

// The chaos harness: one grid engine and one simulated venue core on a
// virtual clock, joined by a fault layer that plays the executor, the order
// stream and the host (runner) the way they behave live, deterministically
// from one seed. Everything runs on the test's goroutine; time is a number.
//
// What the fault layer does (each with a per-seed probability):
//
//   - order-stream updates (NEW, fills, cancels, expiries) are dropped,
//     duplicated, delayed (up to 30 s) or reordered; while the stream is
//     down every update is lost, and the reconnect is followed by
//     OnStreamReady and a reconciliation from the venue's open orders and
//     position;
//   - requests: retryable errors (rate limit, 5xx) are retried invisibly by
//     the executor, so they only delay the request — never past its receive
//     window (the executor signs retries with the original timestamp);
//     insufficient margin refuses a placement (OrderRejected); a post-only
//     or reduce-only refusal comes from the venue itself;
//   - unknown outcomes both ways: the order is placed (or the cancel done)
//     but the response is lost (OrderUnknown), or nothing happens and the
//     answer is an error (OrderUnknown), or the request is still in flight
//     and lands later within its receive window;
//   - queries are answered from the venue's books: a live order is
//     accepted (and filled so far), an ended one filled, canceled or
//     expired with its cumulative quantity and fill price, an unknown one
//     not found; a query's answer may be lost (the timer asks again);
//   - the venue cancels a random live order of its own accord;
//   - a reconciliation's snapshot (open orders, position) is read, then
//     applied after whatever else arrived meanwhile, as the runner's
//     worker does;
//   - a risk pause stops entries (half the time canceling them) and clears
//     minutes later;
//   - the engine restarts: the store keeps Engine.State (through JSON), a
//     new engine with the same options restores it and recovers from the
//     venue's view; responses and stream updates meant for the old process
//     are lost, and its requests in flight may still land. Some restarts
//     have no store: the new engine recovers from the venue alone (claiming
//     the position its orders do not explain, or keeping it as baseline),
//     and the host is assumed to have waited out the receive window (no
//     request of the old process lands later).
//
// Checks after every event: Engine.CheckInvariants, at most one live venue
// order per slot, no client order ID used twice. At every quiescent point
// (a reconciliation that asked for nothing, no request or update in
// flight, every slot settled) and at the end (after a fault-free settle):
// every venue order of the grid belongs to its slot and every slot's order
// is on the venue; engine position + baseline = venue position; the
// equity change agrees (the rule below); realized PnL agrees when flat.
//
// After a restart without a store the new engine's books start afresh
// and its claimed or adopted holdings are priced at their levels, so the
// equity comparison starts again from that moment (the baseline's own
// change in value taken out), and realized PnL is no longer compared.
//
// The equity rule. A fill the engine learns from a query or a
// reconciliation carries its quantity and price but no fee (a venue's order
// query does not give one). So the harness compares, exactly:
//
//   - gross equity: engine realized + unrealized at the mark = venue
//     equity change + the venue's fees (funding is not modelled here);
//   - fees: the engine's fees = the sum of the fees of the fill updates it
//     booked, each venue fill at most once. The venue's fees minus that sum
//     is the fee of fills learned without one.

// soakRules are the shipped data's symbol rules.
var soakRules = exchange.Rules{Symbol: "BTCUSDT", TickSize: dec("0.1"), StepSize: dec("0.001"), MinQty: dec("0.001"), MinNotional: dec("5")}

// faultRates are one seed's fault probabilities.
type faultRates struct {
	drop, dup, delay, reorder           float64 // per stream update
	lost, failed, inFlight, retry, marg float64 // per request
	queryLost                           float64 // per query answer
	disconnect, exCancel, restart       float64 // per tick
	staleSnap                           float64 // per reconciliation: the snapshot is applied late
	pause                               float64 // per tick: a risk pause (half of them cancel the entries), resumed later
	noStore                             float64 // per restart: the new engine has no store
}

// faultCounts tally what a run injected, so the soak can show that every
// fault happened.
type faultCounts struct {
	dropped, duplicated, delayed, reordered, lostResp, failedReq, inFlight, retried, margin, queryLost,
	disconnects, venueCancels, notFound, staleSnaps, noStore, pauses int
}

func (c *faultCounts) add(o faultCounts) {
	c.dropped += o.dropped
	c.duplicated += o.duplicated
	c.delayed += o.delayed
	c.reordered += o.reordered
	c.lostResp += o.lostResp
	c.failedReq += o.failedReq
	c.inFlight += o.inFlight
	c.retried += o.retried
	c.margin += o.margin
	c.queryLost += o.queryLost
	c.disconnects += o.disconnects
	c.venueCancels += o.venueCancels
	c.notFound += o.notFound
	c.staleSnaps += o.staleSnaps
	c.noStore += o.noStore
	c.pauses += o.pauses
}

// chaosPlan is everything a seed decides before the run.
type chaosPlan struct {
	seed       uint64
	candles    []pricefeed.Candle
	opts       []grid.Option
	describe   string
	core       sim.CoreConfig
	f          faultRates
	recvWindow time.Duration
	timerEvery time.Duration
	reconEvery time.Duration
	bounded    bool
}

func randIn(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// planSeed draws a grid shape, a stretch of the month and the fault rates.
func planSeed(seed uint64, month []pricefeed.Candle) chaosPlan {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	n := randIn(r, 150, 350)
	at := r.IntN(len(month) - n)
	cs := month[at : at+n]
	lo, hi := cs[0].Low, cs[0].High
	for _, c := range cs {
		lo, hi = min(lo, c.Low), max(hi, c.High)
	}
	rules := soakRules
	price := rules.TicksToPrice(cs[0].Open)
	mode := []grid.Mode{grid.Long, grid.Short, grid.Neutral}[r.IntN(3)]
	posMode := exchange.OneWay
	if r.IntN(2) == 0 || (mode == grid.Neutral && r.IntN(3) > 0) {
		posMode = exchange.Hedge
	}
	amount := decimal.NewFromInt(int64(randIn(r, 150, 800)))
	bw, sw, hy := randIn(r, 1, 12), randIn(r, 1, 12), randIn(r, 0, 3)
	recv := time.Duration(randIn(r, 3, 20)) * time.Second
	ack := time.Duration(randIn(r, 5, 45)) * time.Second
	opts := []grid.Option{
		grid.WithGridID(fmt.Sprintf("s%d", seed%1_000_000)), grid.WithStartPrice(price), grid.WithMode(mode),
		grid.WithAmount(amount), grid.WithWindows(bw, sw, hy), grid.WithPositionMode(posMode),
		grid.WithReceiveWindow(recv), grid.WithAckTimeout(ack),
	}
	var desc strings.Builder
	fmt.Fprintf(&desc, "%s %s candles %d..%d amount %s windows %d/%d/%d recv %s ack %s", mode, posMode, at, at+n, amount, bw, sw, hy, recv, ack)
	geometric := r.IntN(2) == 0
	if geometric {
		opts = append(opts, grid.WithGeometric())
	}
	var notional decimal.Decimal // the most the grid can hold, for the balance
	bounded := r.IntN(5) < 3
	if bounded {
		loP := rules.TicksToPrice(lo).Mul(dec("0.99").Sub(decimal.NewFromFloat(r.Float64() * 0.02).Round(4)))
		hiP := rules.TicksToPrice(hi).Mul(dec("1.01").Add(decimal.NewFromFloat(r.Float64() * 0.02).Round(4)))
		k := randIn(r, 6, 60)
		opts = append(opts, grid.WithBounds(loP.Round(1), hiP.Round(1), k))
		if mode != grid.Neutral && r.IntN(4) == 0 {
			opts = append(opts, grid.WithInitialPosition(false))
			desc.WriteString(" no-initial")
		}
		notional = amount.Mul(decimal.NewFromInt(int64(k + 1)))
		fmt.Fprintf(&desc, " bounded %s..%s/%d geometric=%v", loP.Round(1), hiP.Round(1), k, geometric)
	} else {
		layers := randIn(r, 2, 25)
		var iv decimal.Decimal
		if geometric {
			iv = decimal.NewFromInt(int64(randIn(r, 8, 50))).Div(decimal.NewFromInt(10_000))
		} else {
			iv = price.Mul(decimal.NewFromInt(int64(randIn(r, 8, 50)))).Div(decimal.NewFromInt(10_000)).Round(1)
		}
		opts = append(opts, grid.WithTrailing(iv, layers))
		notional = amount.Mul(decimal.NewFromInt(int64(2*layers + 2)))
		fmt.Fprintf(&desc, " trailing %s cap %d geometric=%v", iv, layers, geometric)
	}
	sc := sim.DefaultCoreConfig(rules)
	sc.PositionMode = posMode
	sc.Leverage = int64(randIn(r, 1, 3))
	bal := notional.Mul(decimal.NewFromFloat(0.6 + 1.4*r.Float64()).Round(3)).Div(decimal.NewFromInt(sc.Leverage)).Round(2)
	sc.InitialBalance, _ = rules.DecimalToMoney(bal)
	sc.CheckMargin = r.IntN(2) == 0
	sc.TradeThrough = r.IntN(3) == 0
	if r.IntN(5) < 2 {
		sc.PartialFill = exchange.Steps(randIn(r, 1, 3))
	}
	if r.IntN(5) == 0 {
		sc.MakerFee = -5_000
	}
	fmt.Fprintf(&desc, " leverage %d balance %s margin=%v through=%v partial=%d maker=%d", sc.Leverage, bal, sc.CheckMargin, sc.TradeThrough, sc.PartialFill, sc.MakerFee)
	u := func(max float64) float64 { return max * r.Float64() }
	ticks := float64(4 * n)
	f := faultRates{
		drop: u(0.12), dup: u(0.1), delay: u(0.15), reorder: u(0.1),
		lost: u(0.1), failed: u(0.06), inFlight: u(0.06), retry: u(0.12), marg: u(0.04), queryLost: u(0.05),
		disconnect: u(4) / ticks, exCancel: u(10) / ticks, restart: u(3) / ticks,
		staleSnap: u(0.5), noStore: u(0.6), pause: u(3) / ticks,
	}
	if r.IntN(10) == 0 {
		f = faultRates{} // a calm seed: the harness itself must agree with a plain run
		desc.WriteString(" calm")
	}
	return chaosPlan{
		seed: seed, candles: cs, opts: opts, describe: desc.String(), core: sc, f: f, recvWindow: recv, bounded: bounded,
		timerEvery: time.Duration(randIn(r, 2, 10)) * time.Second, reconEvery: time.Duration(randIn(r, 30, 300)) * time.Second,
	}
}

// maxActions bounds one seed's actions: a run that needs more is a
// livelock (the engine and the venue answering each other forever).
const maxActions = 2_000_000

// actKind is what a scheduled action does.
type actKind uint8

const (
	actLand      actKind = iota + 1 // a request reaches the venue
	actRespond                      // the request's response reaches the engine
	actStream                       // an order-stream update reaches the engine
	actTimer                        // the host's timer
	actReconcile                    // the host's periodic (or repair) reconciliation
	actReconnect                    // the order stream is back
	actSnapshot                     // a reconciliation's snapshot, read earlier, reaches the engine
	actResume                       // a risk pause clears
)

type fillKey struct {
	id  uint64
	cum exchange.Steps
}

type action struct {
	at      int64
	seq     uint64
	kind    actKind
	epoch   int // the engine process the action belongs to
	session int // the stream session of an update
	it      grid.Intent
	respond bool // actLand: the response reaches the engine
	lost    bool // actLand: the response is lost (OrderUnknown)
	evs     []grid.OrderEvent
	fill    fillKey // actStream of a fill
	fee     exchange.Money
	snap    *staleSnapshot // actSnapshot
}

// venueOrder is the harness's memory of one order of the venue, by tag: the
// core forgets orders that ended, a venue's query by client order ID does not.
type venueOrder struct {
	id    uint64
	live  bool
	qty   exchange.Steps
	cum   exchange.Steps
	fillP exchange.Ticks // the price of its fills (one per order in the core)
	limit exchange.Ticks
	end   sim.EventKind // EventFill (filled), EventCanceled, EventExpired
}

// chaos is one seed's run.
type chaos struct {
	p     chaosPlan
	r     *rand.Rand
	core  *sim.Core
	eng   *grid.Engine
	now   int64
	price exchange.Ticks
	epoch int

	q        []action // a binary heap on (at, seq)
	seq      uint64
	up       bool
	session  int
	held     *action // an update held back to be reordered
	calm     bool    // no new faults (the final settle)
	nextTime int64   // timer
	nextRec  int64   // reconciliation

	orders     map[uint64]*venueOrder
	booked     map[fillKey]bool
	feesBooked exchange.Money
	restarts   int
	illegal    int
	quiet      int // quiescent checks passed
	n          faultCounts
	buf        []sim.OrderView
	perLevel   map[int64]int

	trace []string
	tr    bool
	gap   exchange.Money

	// base is where the equity comparison starts: zero, or the moment of
	// a restart without a store (the new engine's books start afresh, its
	// claimed position priced at the levels).
	base struct {
		rebased             bool
		venue, engine, fees exchange.Money
		mark                exchange.Ticks
	}
	actions int
	err     error
}

func (h *chaos) logf(format string, a ...any) {
	if !h.tr {
		return
	}
	h.trace = append(h.trace, fmt.Sprintf("%s e%d ", time.Unix(0, h.now).UTC().Format("01-02T15:04:05.000"), h.epoch)+fmt.Sprintf(format, a...))
}

func (h *chaos) fail(format string, a ...any) {
	if h.err == nil {
		h.err = fmt.Errorf("%s: %s", time.Unix(0, h.now).UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, a...))
		h.logf("VIOLATION %v", h.err)
	}
}

func (h *chaos) chance(p float64) bool { return !h.calm && p > 0 && h.r.Float64() < p }

// latency is a request's or update's ordinary travel time: up to 300 ms.
func (h *chaos) latency() int64 {
	if h.calm {
		return 0
	}
	return int64(h.r.IntN(300)) * int64(time.Millisecond)
}

func (h *chaos) push(a action) {
	h.seq++
	a.seq = h.seq
	h.q = append(h.q, a)
	for i := len(h.q) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.q[i], h.q[p] = h.q[p], h.q[i]
		i = p
	}
}

func (h *chaos) less(i, j int) bool {
	if h.q[i].at != h.q[j].at {
		return h.q[i].at < h.q[j].at
	}
	return h.q[i].seq < h.q[j].seq
}

func (h *chaos) pop() action {
	top := h.q[0]
	last := len(h.q) - 1
	h.q[0] = h.q[last]
	h.q = h.q[:last]
	h.siftDown(0)
	return top
}

// newChaos builds the venue and the first engine.
func newChaos(p chaosPlan, trace bool) (*chaos, error) {
	core, err := sim.NewCore(p.core)
	if err != nil {
		return nil, err
	}
	eng, err := grid.New(soakRules, p.opts...)
	if err != nil {
		return nil, fmt.Errorf("grid.New: %w", err)
	}
	return &chaos{
		p: p, r: rand.New(rand.NewPCG(p.seed, 0x5eed)), core: core, eng: eng, orders: map[uint64]*venueOrder{},
		booked: map[fillKey]bool{}, perLevel: map[int64]int{}, tr: trace,
	}, nil
}

// run replays the plan's candles and settles at the end; it returns the
// first violation.
func (h *chaos) run() error {
	h.start()
	h.replay(h.p.candles)
	h.settle()
	return h.err
}

// start sets the first price and starts the engine.
func (h *chaos) start() {
	cs := h.p.candles
	h.now = time.UnixMilli(cs[0].OpenTime).UnixNano()
	h.price = cs[0].Open
	h.core.Tick(time.Unix(0, h.now), h.price)
	h.call("price", func() ([]grid.Intent, error) { return h.eng.OnPrice(h.t(), h.price), nil })
	h.up = true
	h.call("stream ready", func() ([]grid.Intent, error) { return h.eng.OnStreamReady(h.t()), nil })
	h.nextTime = h.now + int64(h.p.timerEvery)
	h.nextRec = h.now + int64(h.p.reconEvery)
}

// replay plays candles through the venue and the engine.
func (h *chaos) replay(cs []pricefeed.Candle) {
	for n := range cs {
		c := &cs[n]
		for j, px := range c.Path() {
			at := time.UnixMilli(c.OpenTime + tickOffsets[j]).UnixNano()
			h.until(at)
			if h.err != nil {
				return
			}
			h.tick(px)
			if h.err != nil {
				return
			}
		}
	}
}

func (h *chaos) t() time.Time { return time.Unix(0, h.now) }

// until runs every action due before at, with the host's timer and
// reconciliation in between.
func (h *chaos) until(at int64) {
	for h.err == nil {
		next := at
		if len(h.q) > 0 && h.q[0].at < next {
			next = h.q[0].at
		}
		if h.nextTime < next || h.nextRec < next {
			if h.nextTime <= h.nextRec {
				h.now = h.nextTime
				h.nextTime += int64(h.p.timerEvery)
				h.timer()
			} else {
				h.now = h.nextRec
				h.nextRec += int64(h.p.reconEvery)
				h.reconcile("periodic")
			}
			continue
		}
		if next == at && (len(h.q) == 0 || h.q[0].at >= at) {
			h.now = at
			return
		}
		a := h.pop()
		h.now = a.at
		h.do(a)
	}
}

func (h *chaos) timer() {
	if h.up {
		h.call("timer", func() ([]grid.Intent, error) { return h.eng.OnTimer(h.t()), nil })
	}
}

// tick moves the market, then draws the faults of the moment.
func (h *chaos) tick(px exchange.Ticks) {
	h.flushHeld()
	h.price = px
	h.core.Tick(h.t(), px)
	h.drainCore()
	h.call("price", func() ([]grid.Intent, error) { return h.eng.OnPrice(h.t(), px), nil })
	if h.chance(h.p.f.exCancel) {
		h.buf = h.core.AppendOpenOrders(h.buf[:0])
		if len(h.buf) > 0 {
			o := h.buf[h.r.IntN(len(h.buf))]
			h.logf("venue cancels %s", grid.RefFromTag(o.Tag))
			h.n.venueCancels++
			if err := h.core.Cancel(h.t(), o.ID); err != nil {
				h.fail("venue cancel: %v", err)
			}
			h.drainCore()
		}
	}
	if h.up && h.chance(h.p.f.disconnect) {
		h.disconnect()
	}
	if h.chance(h.p.f.pause) {
		h.n.pauses++
		cancel := h.r.IntN(2) == 0
		h.logf("pause (cancel entries %v)", cancel)
		h.call("pause", func() ([]grid.Intent, error) { return h.eng.Pause(h.t(), "chaos", cancel), nil })
		h.push(action{at: h.now + int64(1+h.r.IntN(30))*int64(time.Minute), kind: actResume, epoch: h.epoch})
	}
	if h.chance(h.p.f.restart) {
		// A trailing grid restarted without a store makes levels as the
		// price reaches them; they start at the generation floor of the
		// restart, or a level first reached then could repeat a client
		// order ID of the previous run (seed 15012 found it).
		if h.chance(h.p.f.noStore) {
			h.n.noStore++
			h.restartWith(false, h.r.IntN(2) == 0)
		} else {
			h.restart()
		}
	}
}

func (h *chaos) disconnect() {
	h.logf("stream down")
	h.n.disconnects++
	h.up = false
	h.session++
	h.held = nil
	h.eng.OnStreamDown(h.t())
	h.check()
	h.push(action{at: h.now + int64(1+h.r.IntN(40))*int64(time.Second), kind: actReconnect, epoch: h.epoch})
}

// call runs one engine method, schedules the intents it returns and checks
// the invariants.
func (h *chaos) call(what string, fn func() ([]grid.Intent, error)) {
	in, err := fn()
	if err != nil {
		if !errors.Is(err, grid.ErrIllegalUpdate) {
			h.fail("%s: %v", what, err)
			return
		}
		h.illegal++
		h.logf("%s: illegal: %v", what, err)
		h.push(action{at: h.now + h.latency(), kind: actReconcile, epoch: h.epoch}) // as the runner does
	}
	for _, it := range in {
		h.logf("%s → %s", what, it)
		h.send(it)
	}
	h.check()
	if h.tr {
		if d := h.cashGap(); d != h.gap {
			h.logf("cash gap %d → %d (position engine %d venue %d)", h.gap, d, h.eng.Position(), h.venuePosition())
			h.gap = d
		}
	}
}

// cashGap is the venue's cash flow from fills less the engine's: zero once
// the engine has booked every fill at its price (a debugging aid).
func (h *chaos) cashGap() exchange.Money {
	b := h.eng.Books()
	venue := h.core.Equity(0) - h.p.core.InitialBalance + h.core.Stats().FeesPaid
	return venue - (b.Realized + b.Unrealized(0))
}

// send plays the executor for one intent.
func (h *chaos) send(it grid.Intent) {
	a := action{at: h.now + h.latency(), kind: actLand, epoch: h.epoch, it: it, respond: true}
	f := h.p.f
	window := int64(h.p.recvWindow) - int64(time.Millisecond)
	switch it.Kind {
	case grid.IntentPlace, grid.IntentCancel:
		switch {
		case it.Kind == grid.IntentPlace && h.chance(f.marg):
			h.n.margin++
			h.push(action{at: a.at, kind: actRespond, epoch: h.epoch, evs: []grid.OrderEvent{{Ref: it.Ref, Type: grid.OrderRejected, Reason: "insufficient margin"}}})
			return
		case h.chance(f.failed): // nothing happens; the answer is an error
			h.n.failedReq++
			h.push(action{at: a.at, kind: actRespond, epoch: h.epoch, evs: []grid.OrderEvent{{Ref: it.Ref, Type: grid.OrderUnknown, Reason: "timeout, not sent"}}})
			return
		case h.chance(f.inFlight): // the answer is an error, the request lands later
			h.n.inFlight++
			h.push(action{at: a.at, kind: actRespond, epoch: h.epoch, evs: []grid.OrderEvent{{Ref: it.Ref, Type: grid.OrderUnknown, Reason: "timeout, in flight"}}})
			a.at, a.respond = h.now+h.r.Int64N(window), false
		case h.chance(f.retry):
			h.n.retried++
			a.at = h.now + h.r.Int64N(window)
		}
		if a.lost = h.chance(f.lost); a.lost {
			h.n.lostResp++
		}
	}
	h.push(a)
}

func (h *chaos) do(a action) {
	if h.actions++; h.actions > maxActions {
		h.fail("livelock: more than %d actions (the last %+v)", maxActions, a.it)
		return
	}
	switch a.kind {
	case actLand:
		h.land(a)
	case actRespond:
		if a.epoch != h.epoch {
			return // the process that asked is gone
		}
		for _, ev := range a.evs {
			h.apply("response", ev, fillKey{}, 0)
		}
	case actStream:
		if a.epoch != h.epoch || a.session != h.session || !h.up {
			return
		}
		h.apply("stream", a.evs[0], a.fill, a.fee)
	case actReconcile:
		if a.epoch == h.epoch && h.up {
			h.reconcile("repair")
		}
	case actSnapshot:
		if a.epoch == h.epoch && h.up {
			h.logf("reconcile with a snapshot read %s ago", time.Duration(h.now-a.snap.readAt))
			h.call("reconcile stale", func() ([]grid.Intent, error) { return h.eng.Reconcile(h.t(), a.snap.Snapshot), nil })
		}
	case actResume:
		if a.epoch == h.epoch {
			h.logf("resume")
			h.call("resume", func() ([]grid.Intent, error) { return h.eng.Resume(h.t()), nil })
		}
	case actReconnect:
		if a.epoch != h.epoch || h.up {
			return
		}
		h.logf("stream up")
		h.up = true
		h.call("stream ready", func() ([]grid.Intent, error) { return h.eng.OnStreamReady(h.t()), nil })
		h.push(action{at: h.now + h.latency(), kind: actReconcile, epoch: h.epoch})
	}
}

// apply feeds one order event to the engine, noting the fee it books.
func (h *chaos) apply(what string, ev grid.OrderEvent, fk fillKey, fee exchange.Money) {
	h.logf("%s %s %s cum %d @%d fee %d", what, ev.Ref, ev.Type, ev.CumQty, ev.Price, ev.Fee)
	before := h.eng.Books()
	h.call(what+" "+ev.Type.String(), func() ([]grid.Intent, error) { return h.eng.Apply(h.t(), ev) })
	after := h.eng.Books()
	switch booked := after.Fills - before.Fills; {
	case booked == 0:
	case booked == 1 && fk != (fillKey{}):
		if h.booked[fk] {
			h.fail("fill %+v of %s booked twice", fk, ev.Ref)
		}
		h.booked[fk] = true
		h.feesBooked += fee
	case booked == 1 && ev.Fee == 0:
	default:
		h.fail("%s %s booked %d fills", what, ev.Ref, booked)
	}
}

// land carries out a request at the venue.
func (h *chaos) land(a action) {
	it := a.it
	tag := it.Ref.Tag()
	respond := func(evs ...grid.OrderEvent) {
		if !a.respond || a.epoch != h.epoch {
			return
		}
		if a.lost {
			evs = []grid.OrderEvent{{Ref: it.Ref, Type: grid.OrderUnknown, Reason: "response lost"}}
		}
		h.push(action{at: h.now + h.latency(), kind: actRespond, epoch: a.epoch, evs: evs})
	}
	switch it.Kind {
	case grid.IntentPlace:
		if _, used := h.orders[tag]; used {
			h.fail("client order ID of %s used twice", it.Ref)
			return
		}
		h.logf("venue places %s", it)
		id, err := h.core.Place(h.t(), sim.OrderSpec{
			Tag: tag, Side: it.Side, PositionSide: it.PositionSide, Market: it.Market,
			Price: it.Price, Qty: it.Qty, PostOnly: it.PostOnly, ReduceOnly: it.ReduceOnly,
		})
		if err != nil {
			h.logf("venue refuses %s: %v", it.Ref, err)
			h.drainCore()
			respond(grid.OrderEvent{Ref: it.Ref, Type: grid.OrderRejected, Reason: err.Error()})
			return
		}
		h.orders[tag] = &venueOrder{id: id, live: true, qty: it.Qty, limit: it.Price}
		h.stream(grid.OrderEvent{Ref: it.Ref, Type: grid.OrderAccepted}, fillKey{}, 0)
		h.drainCore()
		respond(grid.OrderEvent{Ref: it.Ref, Type: grid.OrderAccepted})
	case grid.IntentCancel:
		o := h.orders[tag]
		if o == nil || !o.live {
			respond(h.answer(it.Ref)...) // the runner queries an order the venue did not find
			return
		}
		h.logf("venue cancels %s on request", it.Ref)
		if err := h.core.Cancel(h.t(), o.id); err != nil {
			h.fail("cancel %s: %v", it.Ref, err)
			return
		}
		h.drainCore()
		if a.lost {
			respond()
		}
	case grid.IntentQuery:
		if !a.respond || a.epoch != h.epoch {
			return
		}
		if h.chance(h.p.f.queryLost) {
			h.n.queryLost++
			return
		}
		h.push(action{at: h.now + h.latency(), kind: actRespond, epoch: a.epoch, evs: h.answer(it.Ref)})
	}
	h.check()
}

// answer is the venue's answer to a query by client order ID, as the
// runner turns it into events.
func (h *chaos) answer(ref grid.OrderRef) []grid.OrderEvent {
	o := h.orders[ref.Tag()]
	switch {
	case o == nil:
		h.n.notFound++
		return []grid.OrderEvent{{Ref: ref, Type: grid.OrderNotFound}}
	case o.live:
		evs := []grid.OrderEvent{{Ref: ref, Type: grid.OrderAccepted}}
		if o.cum > 0 {
			evs = append(evs, grid.OrderEvent{Ref: ref, Type: grid.OrderFilled, CumQty: o.cum, Price: o.fillP})
		}
		return evs
	case o.end == sim.EventFill:
		return []grid.OrderEvent{{Ref: ref, Type: grid.OrderAccepted}, {Ref: ref, Type: grid.OrderFilled, CumQty: o.cum, Price: o.fillP}}
	case o.end == sim.EventCanceled:
		return []grid.OrderEvent{{Ref: ref, Type: grid.OrderCanceled, CumQty: o.cum, Price: o.endPrice()}}
	default:
		return []grid.OrderEvent{{Ref: ref, Type: grid.OrderExpired, CumQty: o.cum, Price: o.endPrice()}}
	}
}

// endPrice is the price an end-of-order update carries: the fill price when
// the order filled (what an adapter reports as the average price), its
// limit otherwise.
func (o *venueOrder) endPrice() exchange.Ticks {
	if o.cum > 0 {
		return o.fillP
	}
	return o.limit
}

// drainCore turns the core's events into order-stream updates and keeps the
// harness's memory of every order.
func (h *chaos) drainCore() {
	for {
		evs := h.core.Events()
		if len(evs) == 0 {
			return
		}
		for k := range evs {
			ev := &evs[k]
			ref := grid.RefFromTag(ev.Tag)
			o := h.orders[ev.Tag]
			switch ev.Kind {
			case sim.EventFill:
				if o == nil {
					h.fail("fill of an order the harness does not know: %+v", *ev)
					return
				}
				if o.cum > 0 && o.fillP != ev.Price {
					h.fail("order %s filled at two prices %d and %d: the answer to a query would be wrong", ref, o.fillP, ev.Price)
				}
				o.cum, o.fillP = ev.CumQty, ev.Price
				if ev.CumQty == ev.OrderQty {
					o.live, o.end = false, sim.EventFill
				}
				h.stream(grid.OrderEvent{Ref: ref, Type: grid.OrderFilled, CumQty: ev.CumQty, Price: ev.Price, Fee: ev.Fee}, fillKey{ev.OrderID, ev.CumQty}, ev.Fee)
			case sim.EventCanceled, sim.EventExpired:
				if o == nil {
					h.fail("end of an order the harness does not know: %+v", *ev)
					return
				}
				o.live, o.end = false, ev.Kind
				typ := grid.OrderCanceled
				if ev.Kind == sim.EventExpired {
					typ = grid.OrderExpired
				}
				h.stream(grid.OrderEvent{Ref: ref, Type: typ, CumQty: ev.CumQty, Price: o.endPrice()}, fillKey{}, 0)
			case sim.EventLiquidation:
				h.fail("the venue liquidated the account at %d: the plan's balance is too small", ev.Price)
			}
		}
	}
}

// stream sends one update down the (faulty) order stream.
func (h *chaos) stream(ev grid.OrderEvent, fk fillKey, fee exchange.Money) {
	if !h.up {
		return // lost while the stream is down
	}
	f := h.p.f
	if h.chance(f.drop) {
		h.logf("stream drops %s %s cum %d", ev.Ref, ev.Type, ev.CumQty)
		h.n.dropped++
		return
	}
	a := action{at: h.now + h.latency(), kind: actStream, epoch: h.epoch, session: h.session, evs: []grid.OrderEvent{ev}, fill: fk, fee: fee}
	if h.chance(f.delay) {
		h.n.delayed++
		a.at += int64(1+h.r.IntN(30)) * int64(time.Second)
	}
	if h.chance(f.dup) {
		h.n.duplicated++
		d := a
		d.at += h.r.Int64N(int64(5 * time.Second))
		h.push(d)
	}
	if h.held != nil {
		held := *h.held
		h.held = nil
		h.push(a)
		held.at = max(held.at, a.at)
		h.push(held) // after the update that overtook it
		return
	}
	if h.chance(f.reorder) {
		h.n.reordered++
		h.held = &a
		return
	}
	h.push(a)
}

func (h *chaos) flushHeld() {
	if h.held != nil {
		a := *h.held
		h.held = nil
		a.at = max(a.at, h.now)
		h.push(a)
	}
}

// staleSnapshot is a snapshot and when it was read.
type staleSnapshot struct {
	grid.Snapshot
	readAt int64
}

// snapshot is the venue's view of the grid, as the runner reads it.
func (h *chaos) snapshot() grid.Snapshot {
	var snap grid.Snapshot
	h.buf = h.core.AppendOpenOrders(h.buf[:0])
	for _, o := range h.buf {
		snap.Orders = append(snap.Orders, grid.VenueOrder{Ref: grid.RefFromTag(o.Tag), Side: o.Side, Price: o.Price, Qty: o.Qty, Filled: o.Filled})
	}
	snap.Position, snap.HavePosition = h.venuePosition(), true
	return snap
}

func (h *chaos) venuePosition() exchange.Steps {
	var pos exchange.Steps
	for _, ps := range []exchange.PositionSide{exchange.PositionBoth, exchange.PositionLong, exchange.PositionShort} {
		q, _ := h.core.Position(ps)
		pos += q
	}
	return pos
}

// venueGross is the venue's equity change before fees (funding is not
// modelled); engineGross the engine's realized plus unrealized, at the
// current price.
func (h *chaos) venueGross() exchange.Money {
	return h.core.Equity(h.price) - h.p.core.InitialBalance + h.core.Stats().FeesPaid
}

func (h *chaos) engineGross() exchange.Money {
	b := h.eng.Books()
	return b.Realized + b.Unrealized(h.price)
}

// venueFlat reports whether every position side of the venue is closed.
func (h *chaos) venueFlat() bool {
	for _, ps := range []exchange.PositionSide{exchange.PositionBoth, exchange.PositionLong, exchange.PositionShort} {
		if q, _ := h.core.Position(ps); q != 0 {
			return false
		}
	}
	return true
}

// reconcile runs one reconciliation; one that asks for nothing while
// nothing is in flight is a quiescent point, where the books must agree.
func (h *chaos) reconcile(why string) {
	if !h.up {
		return
	}
	snap := h.snapshot()
	if h.chance(h.p.f.staleSnap) {
		// The runner reads open orders and the position on a worker; the
		// engine applies them after whatever arrived meanwhile.
		h.n.staleSnaps++
		h.push(action{at: h.now + h.r.Int64N(int64(3*time.Second)), kind: actSnapshot, epoch: h.epoch, snap: &staleSnapshot{snap, h.now}})
		return
	}
	asked := false
	h.call("reconcile "+why, func() ([]grid.Intent, error) {
		in := h.eng.Reconcile(h.t(), snap)
		asked = len(in) > 0
		return in, nil
	})
	if !asked && h.quiescent() {
		h.agree("quiescent")
		h.quiet++
	}
}

// quiescent reports whether nothing is in flight and every slot is settled.
func (h *chaos) quiescent() bool {
	for i := range h.q {
		if k := h.q[i].kind; k != actReconnect && k != actResume && (h.q[i].epoch == h.epoch || k == actLand) {
			return false
		}
	}
	if h.held != nil || !h.up {
		return false
	}
	settled := true
	open := 0
	h.eng.Slots(func(v grid.SlotView) {
		s := v.Slot
		switch {
		case s.Unknown || s.State == slot.EntryPending || s.State == slot.ExitPending || s.State == slot.Canceling:
			settled = false
		case s.Live():
			open++
		}
	})
	return settled && open == h.eng.Books().OpenOrders
}

// check runs after every event: the engine's own invariants, at most one
// live venue order per slot.
func (h *chaos) check() {
	if h.err != nil {
		return
	}
	if err := h.eng.CheckInvariants(); err != nil {
		h.fail("engine invariants: %v", err)
		return
	}
	clear(h.perLevel)
	h.buf = h.core.AppendOpenOrders(h.buf[:0])
	for _, o := range h.buf {
		ref := grid.RefFromTag(o.Tag)
		if h.perLevel[ref.Level]++; h.perLevel[ref.Level] > 1 {
			h.fail("level %d has %d live orders on the venue (the latest %s)", ref.Level, h.perLevel[ref.Level], ref)
			return
		}
	}
}

// agree checks the venue's books against the engine's at a quiescent point.
func (h *chaos) agree(where string) {
	if h.err != nil {
		return
	}
	slots := map[int64]slot.Slot{}
	h.eng.Slots(func(v grid.SlotView) { slots[v.Level] = v.Slot })
	h.buf = h.core.AppendOpenOrders(h.buf[:0])
	onVenue := map[grid.OrderRef]bool{}
	for _, o := range h.buf {
		ref := grid.RefFromTag(o.Tag)
		onVenue[ref] = true
		s, ok := slots[ref.Level]
		if !ok || !s.Live() || s.Gen != ref.Gen {
			h.fail("%s: venue order %s belongs to no slot (slot %+v)", where, ref, s)
			return
		}
		if s.Filled != int64(o.Filled) {
			h.fail("%s: venue order %s filled %d, its slot says %d", where, ref, o.Filled, s.Filled)
			return
		}
	}
	for lvl, s := range slots {
		if s.Live() && !onVenue[grid.OrderRef{Level: lvl, Gen: s.Gen}] {
			h.fail("%s: slot %d has order %d/%d live (%s), the venue does not", where, lvl, lvl, s.Gen, s.State)
			return
		}
	}
	b := h.eng.Books()
	if venue := h.venuePosition(); b.Position+h.eng.Baseline() != venue {
		h.fail("%s: position: engine %d + baseline %d ≠ venue %d", where, b.Position, h.eng.Baseline(), venue)
		return
	}
	cs := h.core.Stats()
	// Since the base (the start, or a restart without a store): the
	// venue's gross equity change less the baseline's own change in value.
	venueGross := h.venueGross() - h.base.venue - exchange.Notional(h.price-h.base.mark, h.eng.Baseline())
	engineGross := h.engineGross() - h.base.engine
	if venueGross != engineGross {
		h.fail("%s: gross equity change at %d: engine %d (realized %d + unrealized %d), venue %d", where, h.price, engineGross, b.Realized, b.Unrealized(h.price), venueGross)
		return
	}
	if b.Fees != h.feesBooked-h.base.fees {
		h.fail("%s: engine fees %d ≠ fees of the fill updates it booked %d", where, b.Fees, h.feesBooked-h.base.fees)
		return
	}
	if b.Fees > cs.FeesPaid && cs.FeesPaid >= 0 && h.p.core.MakerFee >= 0 {
		h.fail("%s: engine fees %d exceed the venue's %d", where, b.Fees, cs.FeesPaid)
		return
	}
	if !h.base.rebased && b.LongHeld == 0 && b.ShortHeld == 0 && h.venueFlat() && b.Realized != cs.RealizedPnL {
		h.fail("%s: flat, realized: engine %d, venue %d", where, b.Realized, cs.RealizedPnL)
	}
}

// restart replaces the engine by a new process: the store keeps the old
// one's state (through JSON), the new one restores it and recovers from the
// venue's view. Responses and updates meant for the old process are lost;
// its requests in flight land or not.
func (h *chaos) restart() { h.restartWith(true, false) }

// restartWith restarts the engine with or without the store; without it,
// the new engine recovers from the venue alone (claiming the rest of the
// position when claim is set) and the equity comparison starts afresh.
func (h *chaos) restartWith(store, claim bool) {
	st := h.eng.State()
	data, err := json.Marshal(st)
	if err != nil {
		h.fail("encode state: %v", err)
		return
	}
	var back grid.StoredState
	if err := json.Unmarshal(data, &back); err != nil {
		h.fail("decode state: %v", err)
		return
	}
	kept := h.q[:0]
	for _, a := range h.q {
		// Without a store the new process cannot know what the old one
		// had in flight: the host waits a receive window before it starts
		// (the requests land first), modelled here as none landing.
		if store && a.kind == actLand && h.r.IntN(2) == 0 {
			a.respond = false
			kept = append(kept, a) // sent before the crash: it lands
		}
	}
	h.q = kept
	for i := len(h.q)/2 - 1; i >= 0; i-- { // re-heapify
		h.siftDown(i)
	}
	h.held = nil
	h.epoch++
	h.session++
	h.restarts++
	h.logf("restart (%d slots stored)", len(back.Slots))
	eng, err := grid.New(soakRules, h.p.opts...)
	if err != nil {
		h.fail("restart: New: %v", err)
		return
	}
	if store {
		if err := eng.RestoreState(back); err != nil {
			h.fail("restart: RestoreState: %v", err)
			return
		}
	}
	if h.tr {
		old := map[int64]slot.Slot{}
		h.eng.Slots(func(v grid.SlotView) { old[v.Level] = v.Slot })
		eng.Slots(func(v grid.SlotView) {
			if o := old[v.Level]; o != v.Slot {
				h.logf("restored level %d: %+v, was %+v", v.Level, v.Slot, o)
			}
		})
	}
	h.eng = eng
	h.call("price", func() ([]grid.Intent, error) { return h.eng.OnPrice(h.t(), h.price), nil })
	snap := h.snapshot()
	h.call("recover", func() ([]grid.Intent, error) { return h.eng.Recover(h.t(), snap, claim) })
	if !store {
		h.base.rebased = true
		h.base.venue, h.base.engine, h.base.fees, h.base.mark = h.venueGross(), h.engineGross(), h.feesBooked, h.price
	}
	h.up = true
	h.call("stream ready", func() ([]grid.Intent, error) { return h.eng.OnStreamReady(h.t()), nil })
}

func (h *chaos) siftDown(i int) {
	n := len(h.q)
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h.less(l, m) {
			m = l
		}
		if r < n && h.less(r, m) {
			m = r
		}
		if m == i {
			return
		}
		h.q[i], h.q[m] = h.q[m], h.q[i]
		i = m
	}
}

// settle lets everything in flight arrive with no new fault, advancing the
// clock (the price stays) until a reconciliation asks for nothing and every
// slot is settled; then the books must agree.
func (h *chaos) settle() {
	h.calm = true
	h.flushHeld()
	if !h.up {
		h.up = true
		h.call("stream ready", func() ([]grid.Intent, error) { return h.eng.OnStreamReady(h.t()), nil })
	}
	step := int64(h.p.recvWindow)
	for round := 0; round < 200 && h.err == nil; round++ {
		for len(h.q) > 0 && h.err == nil {
			a := h.pop()
			h.now = max(h.now, a.at)
			h.do(a)
		}
		h.now += step
		h.timer()
		for len(h.q) > 0 && h.err == nil {
			a := h.pop()
			h.now = max(h.now, a.at)
			h.do(a)
		}
		snap := h.snapshot()
		asked := false
		h.call("reconcile final", func() ([]grid.Intent, error) {
			in := h.eng.Reconcile(h.t(), snap)
			asked = len(in) > 0
			return in, nil
		})
		if !asked && len(h.q) == 0 && h.quiescent() {
			h.agree("end")
			return
		}
	}
	if h.err == nil {
		var pending []string
		h.eng.Slots(func(v grid.SlotView) {
			if v.Slot.Live() || v.Slot.Unknown {
				pending = append(pending, fmt.Sprintf("%d:%s/%d unknown=%v", v.Level, v.Slot.State, v.Slot.Gen, v.Slot.Unknown))
			}
		})
		h.fail("did not settle: %d actions pending, slots %v", len(h.q), pending)
	}
}
