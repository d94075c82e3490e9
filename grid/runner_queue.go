package grid

import (
	"time"
)

// urgentBurst is how many urgent jobs in a row a worker takes while
// placements wait, before it takes one placement. Urgent work (cancels,
// queries, reconciliation, account and fee reads) goes first, but a
// steady stream of it — account polling on a slow venue with one worker —
// must not hold a placement back for minutes (live soak, seed 30): the
// placement waits for at most urgentBurst urgent jobs.
const urgentBurst = 4

// next is the job to hand to a worker, and the channel to hand it on (nil
// when there is none).
func (l *loop) next() (chan job, job) {
	switch {
	case l.placeNext():
		return l.work, l.places[0]
	case len(l.urgent) > 0:
		return l.work, l.urgent[0]
	}
	return nil, job{}
}

// placeNext reports whether the next job is a placement: none is urgent,
// or urgentBurst urgent jobs went in a row while placements waited.
func (l *loop) placeNext() bool {
	return len(l.places) > 0 && (len(l.urgent) == 0 || l.urgentRun >= urgentBurst)
}

// sent takes the job next returned off its queue.
func (l *loop) sent() {
	switch {
	case l.placeNext():
		l.places = l.places[1:]
		l.urgentRun = 0
	default:
		l.urgent = l.urgent[1:]
		if len(l.places) > 0 {
			l.urgentRun++
		} else {
			l.urgentRun = 0
		}
	}
	l.inflight++
}

// queueReconcile queues a reconciliation unless one is waiting or running.
func (l *loop) queueReconcile() {
	if !l.reconciling {
		l.reconciling = true
		l.urgent = append(l.urgent, job{reconcile: true})
	}
}

// dispatch turns the engine's intents into jobs: places and cancels of one
// step go out as one batch each, queries one by one (one per order at a
// time), reservations are stored at once.
func (l *loop) dispatch(in []Intent) {
	if len(in) == 0 {
		return
	}
	var places, cancels []Intent
	var reserve uint32
	for _, it := range in {
		switch it.Kind {
		case IntentPlace:
			places = append(places, it)
		case IntentCancel:
			cancels = append(cancels, it)
		case IntentQuery:
			if !l.queries[it.Ref] {
				l.queries[it.Ref] = true
				l.urgent = append(l.urgent, job{kind: IntentQuery, intents: []Intent{it}})
			}
		case IntentReserve:
			reserve = max(reserve, it.Ref.Gen)
		case IntentCheckStart:
			l.urgent = append(l.urgent, job{check: true})
		case IntentReconcile:
			l.queueReconcile()
		}
	}
	if len(cancels) > 0 {
		l.urgent = append(l.urgent, job{kind: IntentCancel, intents: cancels})
	}
	switch {
	case len(places) == 0:
	case l.stopping.Load():
		l.notSent(places, "the runner is stopping")
	case len(l.places) >= l.r.cfg.maxPlaces:
		l.r.log.Warn("grid: placement queue full: orders dropped unsent", "queued", len(l.places), "dropped", len(places))
		l.notSent(places, "the runner's placement queue is full")
	default:
		bands := make([]priceBand, len(places))
		for i, it := range places {
			bands[i] = l.r.eng.placeBand(it)
		}
		l.places = append(l.places, job{kind: IntentPlace, intents: places, bands: bands})
	}
	if reserve > 0 {
		l.reserve(reserve)
	}
}

// dropStale answers OrderNotSent, on the loop goroutine, for the queued
// placements whose send deadline has passed or whose price band the last
// price has left, instead of letting each wait its turn for a worker only
// to be dropped there. Without it a deep queue livelocks: every placement
// expires behind the others, its slot places again at the tail, and the
// worker spends its turns on dead placements and on the queries their
// unanswered slots ask (live soak, mixed seed 231: 100+ queued, none sent
// for minutes).
func (l *loop) dropStale(now time.Time) {
	price := l.r.marketPrice()
	var stale []OrderEvent
	kept := l.places[:0]
	for _, j := range l.places {
		live := j.intents[:0]
		var bands []priceBand
		for i, it := range j.intents {
			b := anyPrice
			if j.bands != nil {
				b = j.bands[i]
			}
			if why := staleness(it, b, price, now); why != "" {
				stale = append(stale, OrderEvent{Ref: it.Ref, Type: OrderNotSent, Reason: why})
				continue
			}
			live = append(live, it)
			if j.bands != nil {
				bands = append(bands, b)
			}
		}
		if len(live) > 0 {
			j.intents, j.bands = live, bands
			kept = append(kept, j)
		}
	}
	clear(l.places[len(kept):])
	l.places = kept
	l.applyNotSent(stale)
}

// notSent answers placements that were never handed to the venue.
func (l *loop) notSent(places []Intent, why string) {
	evs := make([]OrderEvent, len(places))
	for i, it := range places {
		evs[i] = OrderEvent{Ref: it.Ref, Type: OrderNotSent, Reason: why}
	}
	l.applyNotSent(evs)
}

// applyNotSent applies not-sent answers to the engine and dispatches what
// it asks next.
func (l *loop) applyNotSent(evs []OrderEvent) {
	now := l.r.cfg.now()
	for _, ev := range evs {
		in, _ := l.r.eng.Apply(now, ev)
		l.dispatch(in)
	}
}
