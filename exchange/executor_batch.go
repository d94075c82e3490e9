package exchange

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PlaceBatch places orders and returns one result per request, in request
// order. When the adapter is a [BatchPlacer] the orders go in batches of its
// MaxBatch (no more than half the smallest order window), each weighing
// Weight(OpBatchPlace) against request windows and one unit per order
// against order windows; a lone order left over is placed alone. Otherwise,
// or when the venue answers a batch with [ErrUnsupported], they are placed
// one by one in order. Orders of a batch that failed with a retryable error
// are retried together; an order whose outcome is unknown is reported with
// an [*UnknownOutcomeError] and never resent. Safe for concurrent use.
func (e *Executor) PlaceBatch(ctx context.Context, reqs []OrderRequest) []BatchResult {
	return e.def.PlaceBatch(ctx, reqs)
}

// PlaceBatch places orders through the lane as [Executor.PlaceBatch] does;
// a batch counts its orders against the lane's bound, and a full lane
// refuses it at once with [ErrLaneFull]. The lane's very first placement
// is sent alone, ahead of the batch, so that a new grid's first order is
// not held until the limits have room for a whole batch (the executor's
// own methods batch from the start).
func (l *Lane) PlaceBatch(ctx context.Context, reqs []OrderRequest) []BatchResult {
	e := l.x
	out := make([]BatchResult, len(reqs))
	ctx = e.anchorSendBy(ctx) // one budget for the whole call
	if e.batchPlacer == nil || e.placeChunk < 2 {
		for i, r := range reqs {
			out[i].Order, out[i].Err = l.Place(ctx, r)
		}
		return out
	}
	if err := l.enter(opBatchPlace); err != nil {
		for i, r := range reqs {
			out[i].Err = e.fail(fmt.Errorf("exchange: %s %s: %w", OpPlace, r.ClientOrderID, err))
		}
		return out
	}
	defer l.leave()
	if l != e.def && len(reqs) > 1 && l.firstPlacement() {
		// A lane's first placement goes alone: a batch may need room for
		// all its orders (Binance counts 5 on its 10-second window for any
		// batch), and a new grid's first order should not wait for it
		// behind the other grids' batches. The executor's own lane, with
		// no other lane to share with, batches from the start.
		out[0].Order, out[0].Err = l.Place(ctx, reqs[0])
		rest := l.PlaceBatch(ctx, reqs[1:])
		copy(out[1:], rest)
		return out
	}
	b := batcher[OrderRequest]{
		e: e, l: l, op: opBatchPlace, itemOp: opPlace,
		send:   e.batchPlacer.PlaceOrders,
		single: l.Place,
		ids:    func(r OrderRequest) (string, string) { return r.Symbol, r.ClientOrderID },
	}
	b.run(ctx, reqs, out, e.placeChunk)
	return out
}

// CancelBatch cancels orders and returns one result per request, in request
// order, batching through a [BatchCanceler] as [Executor.PlaceBatch] does
// through a [BatchPlacer] (weight Weight(OpBatchCancel)). Safe for
// concurrent use.
func (e *Executor) CancelBatch(ctx context.Context, reqs []CancelRequest) []BatchResult {
	return e.def.CancelBatch(ctx, reqs)
}

// CancelBatch cancels orders through the lane as [Executor.CancelBatch]
// does; cancels go before the lane's placements.
func (l *Lane) CancelBatch(ctx context.Context, reqs []CancelRequest) []BatchResult {
	e := l.x
	out := make([]BatchResult, len(reqs))
	ctx = e.anchorSendBy(ctx) // one budget for the whole call
	if e.batchCanceler == nil || e.cancelChunk < 2 {
		for i, r := range reqs {
			out[i].Order, out[i].Err = l.Cancel(ctx, r)
		}
		return out
	}
	if err := l.enter(opBatchCancel); err != nil {
		for i, r := range reqs {
			out[i].Err = e.fail(fmt.Errorf("exchange: %s %s: %w", OpCancel, r.ClientOrderID, err))
		}
		return out
	}
	defer l.leave()
	b := batcher[CancelRequest]{
		e: e, l: l, op: opBatchCancel, itemOp: opCancel,
		send:   e.batchCanceler.CancelOrders,
		single: l.Cancel,
		ids:    func(r CancelRequest) (string, string) { return r.Symbol, r.ClientOrderID },
	}
	b.run(ctx, reqs, out, e.cancelChunk)
	return out
}

// batcher runs the batches of one PlaceBatch or CancelBatch call.
type batcher[R any] struct {
	e      *Executor
	l      *Lane
	op     execOp // opBatchPlace or opBatchCancel
	itemOp execOp // opPlace or opCancel
	send   func(context.Context, []R) ([]BatchResult, error)
	single func(context.Context, R) (Order, error)
	ids    func(R) (symbol, clientOrderID string)
}

// run sends items in chunks of size, writing out[i] for items[i].
func (b batcher[R]) run(ctx context.Context, items []R, out []BatchResult, size int) {
	for start := 0; start < len(items); start += size {
		end := min(start+size, len(items))
		if end-start == 1 {
			out[start].Order, out[start].Err = b.single(ctx, items[start])
			continue
		}
		b.chunk(ctx, items[start:end], out[start:end])
	}
}

// itemSpec describes items[i] as a single place or cancel.
func (b batcher[R]) itemSpec(item R) callSpec {
	sym, cid := b.ids(item)
	return callSpec{op: b.itemOp, symbol: sym, clientID: cid, orders: 1, lane: b.l.name}
}

// chunk sends one batch, retrying the orders that failed with a retryable
// error as a smaller batch.
func (b batcher[R]) chunk(ctx context.Context, items []R, out []BatchResult) {
	e := b.e
	pending := make([]int, len(items))
	for i := range pending {
		pending[i] = i
	}
	batch := make([]R, 0, len(items))
	sendBy := e.sendBy(ctx)
	valid := validFrom(ctx)
	for attempt := 1; ; attempt++ {
		sym, cid := b.ids(items[pending[0]])
		cs := callSpec{op: b.op, symbol: sym, clientID: cid, orders: len(pending), lane: b.l.name}
		j, err := e.admit(ctx, b.l, cs, attempt, sendBy, valid)
		if err != nil {
			err = notSent(cs, err)
		} else if err = e.sendable(b.l, cs, sendBy, valid); err != nil {
			e.sched.release(j)
		}
		if err != nil {
			for _, i := range pending {
				out[i] = BatchResult{Err: e.fail(err)}
			}
			return
		}
		batch = batch[:0]
		for _, i := range pending {
			batch = append(batch, items[i])
		}
		sentAt := e.clock.Now()
		cctx, cancel := context.WithTimeout(WithUsageReporter(ctx, j), e.timeout)
		res, err := b.send(cctx, batch)
		cancel()
		e.sched.release(j)
		e.stats.countRequest(cs)
		e.stats.batches.Add(1)

		if err == nil && len(res) != len(batch) {
			// The venue took the batch but its answer cannot be matched to
			// the orders: each of them may or may not have taken effect.
			err = &UnknownOutcomeError{Op: b.op.name(), SentAt: sentAt,
				Err: fmt.Errorf("%s returned %d results for %d orders", b.op.name(), len(res), len(batch))}
		}
		if err != nil {
			switch {
			case outcomeUnknown(err):
				for _, i := range pending {
					out[i] = BatchResult{Err: e.unknown(b.itemSpec(items[i]), attempt, sentAt, err)}
				}
				return
			case errors.Is(err, ErrUnsupported):
				// The venue refused the batch as such: nothing was created.
				for _, i := range pending {
					out[i].Order, out[i].Err = b.single(ctx, items[i])
				}
				return
			}
			wait, again := e.retryDelay(ctx, cs, attempt, err, false)
			if !again {
				gerr := execGiveUp(cs, attempt, err)
				for _, i := range pending {
					out[i] = BatchResult{Err: e.fail(gerr)}
				}
				return
			}
			if serr := execSleep(ctx, e.clock, wait); serr != nil {
				aerr := notSent(cs, execAbandon(cs, attempt, err, serr, wait))
				for _, i := range pending {
					out[i] = BatchResult{Err: e.fail(aerr)}
				}
				return
			}
			continue
		}

		// Per-order results: keep the retryable failures for another round.
		var retry []int
		var cause, limited error
		for j, r := range res {
			i := pending[j]
			switch {
			case r.Err == nil:
				out[i] = r
			case outcomeUnknown(r.Err):
				out[i] = BatchResult{Err: e.unknown(b.itemSpec(items[i]), attempt, sentAt, r.Err)}
			case Retryable(r.Err) && attempt < e.retry.MaxAttempts:
				out[i] = r
				retry = append(retry, i)
				if cause == nil || (errors.Is(r.Err, ErrRateLimited) && !errors.Is(cause, ErrRateLimited)) {
					cause = r.Err
				}
			default:
				out[i] = BatchResult{Order: r.Order, Err: e.fail(execGiveUp(b.itemSpec(items[i]), attempt, r.Err))}
				if errors.Is(r.Err, ErrRateLimited) && limited == nil {
					limited = r.Err
				}
			}
		}
		if len(retry) == 0 {
			if limited != nil {
				e.venueLimited(ctx, cs, attempt, limited)
			}
			return
		}
		sym, cid = b.ids(items[retry[0]])
		cs = callSpec{op: b.op, symbol: sym, clientID: cid, orders: len(retry), lane: b.l.name}
		wait, again := e.retryDelay(ctx, cs, attempt, cause, false)
		if !again {
			for _, i := range retry {
				out[i].Err = e.fail(execGiveUp(b.itemSpec(items[i]), attempt, out[i].Err))
			}
			return
		}
		if serr := execSleep(ctx, e.clock, wait); serr != nil {
			for _, i := range retry {
				out[i].Err = e.fail(notSent(b.itemSpec(items[i]), execAbandon(b.itemSpec(items[i]), attempt, out[i].Err, serr, wait)))
			}
			return
		}
		pending = retry
	}
}

// execSleep sleeps d on clk; a zero wait (the limiter waits instead) does
// not sleep.
func execSleep(ctx context.Context, clk ExecutorClock, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	return clk.Sleep(ctx, d)
}
