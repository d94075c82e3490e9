package backtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gridmesh/gridmesh/exchange"
	"github.com/gridmesh/gridmesh/grid"
)

// The live soak's "crowd" profile (issue 12, item 5): many grids (8 to 20)
// on one executor under tight declared limits — Binance's order windows
// scaled down tenfold — so that the grids' placements always outrun the
// limits and wait in the executor. However the executor orders the lanes,
// it must not let some grids starve while others are served. Three checks:
//
//   - while a running grid has a placement waiting in its lane, the other
//     grids may get at most crowdOvertake placements per other grid to
//     the venue before one of its own arrives (fair turns between lanes;
//     a lane's turn may carry a batch). The bound counts placements, not
//     time: when the limits admit nothing, every grid waits alike.
//   - every grid gets at least 1/crowdShare of another's share of its due
//     placements (those neither withdrawn by its stop nor dropped because
//     the price left their window) through to the venue, both counted
//     over the same stretches of time (crowdBucket) in which both asked
//     for placements: the grids place alike (same levels, windows and
//     prices), so the executor, not the grids, makes a gap. Counted over
//     the whole run instead, a grid that asked only through the crowd's
//     congested start (then was paused or stopped) looks starved beside
//     grids that went on placing in calmer times (seed 461). A gap counts
//     when the grid is crowdShort placements short, too: with the limits
//     far below the asks, all shares are small and noisy. Over 200 seeds
//     the worst pair 25 short is 1.9 times; with the lanes served in a
//     fixed order instead of by turns, 45 of 48 seeds (every one of CI's)
//     have a grid that falls below. First come first served is not found:
//     its worst pair is 3.8 times the share.
//   - every running grid's open-orders reads (its reconciliation) come
//     through at least once per reconciliation interval, plus
//     crowdReadSlack.
//
// All are measured around the grid's lane (the soak wraps the lane the
// runner uses) and at the venue. A placement dropped unsent while the
// price is still in its window (its send deadline passed, its lane was
// full) does not end a grid's wait: the grid asked and got nothing. One
// dropped because the price left its window ends it (nothing of it was
// due any more), and so does a grid that stops asking for a while
// (crowdIdle).

// crowdWindows are the crowd's declared limits: the Binance adapter's
// (binanceWindows), with the ORDERS windows scaled down tenfold (30 per
// 10 s, 120 a minute; a batch still counts 5 on the first and 1 on the
// second) and the request weight of its IP as it is (2,400 a minute).
func crowdWindows() []exchange.LimitWindow {
	ws := binanceWindows()
	for i := range ws {
		if strings.HasPrefix(ws[i].Name, "ORDERS_") {
			ws[i].Name, ws[i].Max = "CROWD_"+ws[i].Name, ws[i].Max/10
		}
	}
	return ws
}

const (
	// crowdOvertake is how many placements per other grid may reach the
	// venue while a grid waits with a placement queued and none of its
	// own arrives: a turn of each, with room for batches (a window of
	// three entries and three exits) and for the lanes' order of service
	// then (the least served first).
	crowdOvertake = 12
	// crowdShare is how many times the best-served grid's share of its
	// due placements through to the venue may exceed another's.
	crowdShare = 6
	// crowdMinDue is how many due placements a grid must have had for
	// its share to count.
	crowdMinDue = 50
	// crowdShort is how many placements a grid must be short of another's
	// share for a gap of shares to count: when the limits admit far less
	// than the grids ask, all shares are small, and which grid's requests
	// happen to wait when a window opens makes gaps of a few placements
	// (with the limits scaled from Binance's, up to 25 short at 1.9 times
	// the share over 200 seeds; 30 short at 4.6 times with batches costed
	// per order; lanes served in a fixed order leave grids 34 to 79 short).
	crowdShort = 25
	// crowdBucket is the stretch of time over which two grids' shares are
	// compared: the shorter order window.
	crowdBucket = 10 * time.Second
	// crowdIdle is how long a grid with nothing queued must stay so
	// before a new placement starts a new wait.
	crowdIdle = 2 * time.Second
	// crowdReadSlack is how much later than its reconciliation interval a
	// running grid's open-orders read may come through.
	crowdReadSlack = 20 * time.Second
)

// crowdPlan redraws what the crowd profile changes of a seed's plan, from
// its own source: 8 to 20 grids, no window shared with another program, no
// trading halts, and a reconciliation interval the limits can carry for
// 20 grids (every grid's open orders, positions and fills: 16 units of
// weight, within the reads' half of 2,400 a minute).
func crowdPlan(p *liveSoakPlan) {
	r := rand.New(rand.NewPCG(p.seed, 0xc20d))
	p.grids = 8 + r.IntN(13)
	p.sharedRoom, p.tradingHalts = 0, false
	p.reconcile = time.Duration(20+r.IntN(11)) * time.Second
}

// crowdGrid is the crowd watch's record of one grid's runs.
type crowdGrid struct {
	run      int       // the run it belongs to (a restart begins a new one)
	pending  int       // placements in its lane that have not reached the venue
	waitFrom time.Time // when its current wait began (zero: not waiting)
	from     uint64    // the placements of every grid served when it began
	over     uint64    // the most placements of other grids served during one of its waits
	lastDrop time.Time // when a placement of it last came back unsent
	lastRead time.Time // when its last open-orders read was answered (or the run began)
	worst    time.Duration
	reads    time.Duration // longest gap between its reads answered

	placements []*crowdPlacement // every placement handed to its lanes, in order
}

// crowdPlacement is one placement a grid handed to its lane.
type crowdPlacement struct {
	at      time.Time // when it was handed over
	through bool      // it reached the venue
	undue   bool      // withdrawn by the grid's stop, or dropped because the price left its window
	n       int       // how many placements its request carried
	err     error     // why it came back unsent
}

// crowdTally is a count of due placements and of those that reached the
// venue.
type crowdTally struct{ due, through int }

func (t crowdTally) share() float64 { return float64(t.through) / float64(t.due) }

// tally counts c's due placements handed over in the given stretches of
// time (see crowdBucket; all of them when in is nil).
func (c *crowdGrid) tally(in map[time.Time]bool) crowdTally {
	var t crowdTally
	for _, p := range c.placements {
		if p.undue || in != nil && !in[p.at.Truncate(crowdBucket)] {
			continue
		}
		t.due++
		if p.through {
			t.through++
		}
	}
	return t
}

// asking is the stretches of time (see crowdBucket) in which c asked for
// a placement still due.
func (c *crowdGrid) asking() map[time.Time]bool {
	in := map[time.Time]bool{}
	for _, p := range c.placements {
		if !p.undue {
			in[p.at.Truncate(crowdBucket)] = true
		}
	}
	return in
}

// crowdWatch measures how long each grid waits for the executor. Safe for
// concurrent use.
type crowdWatch struct {
	reconcile time.Duration
	outside   func(exchange.OrderRequest) bool // whether the price has left an order's window

	mu         sync.Mutex
	served     uint64 // placements of every grid that reached the venue
	grids      map[string]*crowdGrid
	ids        map[string]crowdPending // client order ID → its placement, of those in lanes not yet at the venue
	violations []string
}

// crowdPending is a placement in a lane, not yet at the venue.
type crowdPending struct {
	g string
	p *crowdPlacement
}

func newCrowdWatch(reconcile time.Duration, outside func(exchange.OrderRequest) bool) *crowdWatch {
	return &crowdWatch{reconcile: reconcile, outside: outside, grids: map[string]*crowdGrid{}, ids: map[string]crowdPending{}}
}

// begin starts a new run of grid g.
func (w *crowdWatch) begin(g string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	old := w.grids[g]
	c := &crowdGrid{lastRead: now}
	if old != nil {
		c.run, c.worst, c.reads, c.over = old.run+1, old.worst, old.reads, old.over
		c.placements = old.placements
	}
	w.grids[g] = c
	for id, op := range w.ids {
		if op.g == g {
			delete(w.ids, id)
		}
	}
}

// end ends grid g's run: its waits no longer count.
func (w *crowdWatch) end(g string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c := w.grids[g]; c != nil {
		c.pending, c.waitFrom = 0, time.Time{}
		c.lastRead = time.Time{}
	}
}

func (w *crowdWatch) violate(format string, a ...any) {
	w.violations = append(w.violations, time.Now().UTC().Format("15:04:05.000 ")+fmt.Sprintf(format, a...))
}

// asked records placements of grid g handed to its lane.
func (w *crowdWatch) asked(g string, reqs []exchange.OrderRequest) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.grids[g]
	if c == nil {
		return
	}
	if c.pending == 0 && (c.waitFrom.IsZero() || now.Sub(c.lastDrop) > crowdIdle) {
		c.waitFrom, c.from = now, w.served
	}
	for _, r := range reqs {
		p := &crowdPlacement{at: now, n: len(reqs)}
		c.placements = append(c.placements, p)
		w.ids[r.ClientOrderID] = crowdPending{g: g, p: p}
	}
	c.pending += len(reqs)
}

// arrived records a placement reaching the venue, and checks the grids
// waiting meanwhile.
func (w *crowdWatch) arrived(id string) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	op, ok := w.ids[id]
	if !ok {
		return
	}
	delete(w.ids, id)
	g := op.g
	op.p.through = true
	c := w.grids[g]
	c.pending--
	if !c.waitFrom.IsZero() {
		c.worst = max(c.worst, now.Sub(c.waitFrom))
	}
	c.waitFrom = time.Time{}
	w.served++
	if c.pending > 0 {
		c.waitFrom, c.from = now, w.served
	}
	others := uint64(0)
	for _, o := range w.grids {
		if !o.lastRead.IsZero() { // running
			others++
		}
	}
	others = max(others, 1) - 1
	for og, o := range w.grids {
		if og == g || o.waitFrom.IsZero() {
			continue
		}
		if o.pending == 0 && now.Sub(o.lastDrop) > crowdIdle {
			o.waitFrom = time.Time{} // it stopped asking
			continue
		}
		n := w.served - o.from
		o.over = max(o.over, n)
		if n > crowdOvertake*others {
			w.violate("grid %s starved: waiting %s with a placement queued, none of its own reaching the venue, while %d placements of the %d other grids running did (bound %d per other grid)",
				og, now.Sub(o.waitFrom), n, others, crowdOvertake)
			o.from = w.served // one violation per wait
		}
	}
}

// returned records the placements of grid g coming back from its lane;
// those that never reached the venue came back unsent.
func (w *crowdWatch) returned(g string, reqs []exchange.OrderRequest, errs []error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.grids[g]
	for i, r := range reqs {
		if op, ok := w.ids[r.ClientOrderID]; ok && op.g == g {
			delete(w.ids, r.ClientOrderID)
			if c == nil {
				continue
			}
			c.pending--
			if errors.Is(errs[i], exchange.ErrLaneClosed) || errors.Is(errs[i], context.Canceled) {
				op.p.undue = true // the grid stopped: not the executor's to serve
				continue
			}
			if w.outside(r) {
				op.p.undue = true // dropped for the price: no longer due
				if c.pending == 0 {
					c.waitFrom = time.Time{}
				}
				continue
			}
			c.lastDrop = now
			op.p.err = errs[i]
		}
	}
}

// read records an open-orders read of grid g answered.
func (w *crowdWatch) read(g string) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.grids[g]
	if c == nil || c.lastRead.IsZero() {
		return
	}
	w.readGap(g, c, now)
	c.lastRead = now
}

// readGap checks the time since grid g's last read (mu held).
func (w *crowdWatch) readGap(g string, c *crowdGrid, now time.Time) {
	d := now.Sub(c.lastRead)
	c.reads = max(c.reads, d)
	if d > w.reconcile+crowdReadSlack {
		w.violate("grid %s not reconciled for %s: no open-orders read of it answered (interval %s, slack %s)", g, d, w.reconcile, crowdReadSlack)
		c.lastRead = now
	}
}

// check takes the watch's violations, first checking the waits still
// open at now.
func (w *crowdWatch) check() []string {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for g, c := range w.grids {
		if !c.lastRead.IsZero() {
			w.readGap(g, c, now)
		}
	}
	out := w.violations
	w.violations = nil
	return out
}

// crowdPair is two grids' tallies over the stretches of time both asked.
type crowdPair struct {
	lg, hg string
	lt, ht crowdTally
}

// short is how many more of its due placements grid lg would have got
// through at hg's share.
func (p crowdPair) short() float64 { return float64(p.lt.due)*p.ht.share() - float64(p.lt.through) }

// ratio is how many times lg's share hg's is (+Inf when lg got none
// through and hg some).
func (p crowdPair) ratio() float64 { return p.ht.share() / p.lt.share() }

// starved reports whether lg fell short of hg's share by the crowd's
// bounds: below 1/crowdShare of it, and by crowdShort placements at least.
func (p crowdPair) starved() bool { return p.ratio() > crowdShare && p.short() >= crowdShort }

// worstPair returns, of the pairs of grids with crowdMinDue placements
// due each over the stretches of time both asked and the first at least
// crowdShort placements short of the second's share, the one with the
// highest ratio of shares; ok is false when there is none.
func (w *crowdWatch) worstPair() (worst crowdPair, ok bool) {
	names := slices.Sorted(maps.Keys(w.grids))
	asking := map[string]map[time.Time]bool{}
	for _, g := range names {
		asking[g] = w.grids[g].asking()
	}
	for _, lg := range names {
		for _, hg := range names {
			if hg == lg {
				continue
			}
			both := map[time.Time]bool{}
			for b := range asking[lg] {
				if asking[hg][b] {
					both[b] = true
				}
			}
			p := crowdPair{lg: lg, hg: hg, lt: w.grids[lg].tally(both), ht: w.grids[hg].tally(both)}
			if p.lt.due < crowdMinDue || p.ht.due < crowdMinDue || p.short() < crowdShort {
				continue
			}
			if !ok || p.ratio() > worst.ratio() {
				worst, ok = p, true
			}
		}
	}
	return worst, ok
}

// shares checks the grids' shares of their due placements through to
// the venue (see crowdShare) and returns a violation ("" when none).
func (w *crowdWatch) shares() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.worstPair()
	if !ok || !p.starved() {
		return ""
	}
	return fmt.Sprintf("grid %s starved: %d of the %d due placements it asked for while grid %s asked too reached the venue (%.2f), while %s got %d of the %d it asked for then (%.2f): more than %d times its share, %.0f placements short",
		p.lg, p.lt.through, p.lt.due, p.hg, p.lt.share(), p.hg, p.ht.through, p.ht.due, p.ht.share(), crowdShare, p.short())
}

// summary is the worst waits, for the soak's trace.
func (w *crowdWatch) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var worst, reads time.Duration
	var over uint64
	var wg, rg, og string
	for g, c := range w.grids {
		if c.worst > worst {
			worst, wg = c.worst, g
		}
		if c.over > over {
			over, og = c.over, g
		}
		if c.reads > reads {
			reads, rg = c.reads, g
		}
	}
	lo, hi := 2.0, -1.0
	for _, c := range w.grids {
		if t := c.tally(nil); t.due >= crowdMinDue {
			lo, hi = min(lo, t.share()), max(hi, t.share())
		}
	}
	var pair string
	if p, ok := w.worstPair(); ok {
		pair = fmt.Sprintf(" (over the same times, worst pair %s %d/%d against %s %d/%d: %.1f short)", p.lg, p.lt.through, p.lt.due, p.hg, p.ht.through, p.ht.due, p.short())
	}
	return fmt.Sprintf("share of due placements through: least %.2f, most %.2f%s; longest wait for a placement %s (%s), most placements of others during a wait %d (%s), longest between reads %s (%s)", lo, hi, pair, worst, wg, over, og, reads, rg)
}

// crowdLane is a grid's lane as the crowd watch sees it.
type crowdLane struct {
	*exchange.Lane
	g string
	w *crowdWatch
}

func (l crowdLane) Place(ctx context.Context, req exchange.OrderRequest) (exchange.Order, error) {
	reqs := []exchange.OrderRequest{req}
	l.w.asked(l.g, reqs)
	o, err := l.Lane.Place(ctx, req)
	l.w.returned(l.g, reqs, []error{err})
	return o, err
}

func (l crowdLane) PlaceBatch(ctx context.Context, reqs []exchange.OrderRequest) []exchange.BatchResult {
	l.w.asked(l.g, reqs)
	res := l.Lane.PlaceBatch(ctx, reqs)
	errs := make([]error, len(reqs))
	for i := range res {
		errs[i] = res[i].Err
	}
	l.w.returned(l.g, reqs, errs)
	return res
}

func (l crowdLane) OpenOrders(ctx context.Context, symbol string) ([]exchange.Order, error) {
	os, err := l.Lane.OpenOrders(ctx, symbol)
	if err == nil || !errors.Is(err, exchange.ErrNotSent) && ctx.Err() == nil {
		l.w.read(l.g)
	}
	return os, err
}

// crowdRunnerOptions opens g's lane on the soak's executor, wrapped for
// the watch, and returns the runner's option and what closes the lane
// when the run ends.
func (s *liveSoak) crowdRunnerOptions(g *soakGrid) (grid.RunnerOption, func()) {
	lane, err := s.x.Lane(fmt.Sprintf("%s/%d", g.id, g.restarts))
	if err != nil {
		s.fail("%s: lane: %v", g.id, err)
		return grid.WithExecutor(s.x), func() {}
	}
	s.crowd.begin(g.id)
	return grid.WithLane(crowdLane{Lane: lane, g: g.id, w: s.crowd}), func() {
		s.crowd.end(g.id)
		lane.Close()
	}
}
