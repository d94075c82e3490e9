package backtest

import (
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
