package backtest

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridmesh/gridmesh/pricefeed"
)

// SweepConfig is one parameter sweep. The zero value is not valid: Base
// needs Rules and Sim.InitialBalance, Space at least one combination and
// Metric a metric.
type SweepConfig struct {
	// Base is every run's configuration before a combination is applied
	// (see [Params.Config]): rules, the venue (fees, balance, maintenance
	// margin, fill model) and grid options common to all combinations.
	// Its NoRecord and Progress are ignored: sweep runs record nothing.
	Base Config
	// Space is the parameter ranges; every combination is run.
	Space Space
	// Metric ranks the combinations.
	Metric Metric
	// Workers is the number of runs at once (default runtime.GOMAXPROCS(0)).
	// The result does not depend on it.
	Workers int
	// Split, when not zero, holds the candles from Split on out of sample:
	// the combinations are ranked on the candles before it, then the Top
	// best are run again on the rest, each starting flat at Split, so a
	// setting that only fitted the first part shows it.
	Split time.Time
	// Top is the number of best combinations run out of sample (default 10).
	Top int
	// Progress, if set, is called on Sweep's goroutine after every run
	// with the runs done and the total.
	Progress func(done, total int)
}

// SweepRow is one combination's result, in rank order in [SweepResult].
type SweepRow struct {
	// Rank is 1 for the best; combinations that failed rank last.
	Rank   int
	Params Params
	// Err is why the combination could not run (a setting the grid
	// refuses); its figures are then zero and its Value NaN.
	Err string
	// In is the run on the whole data, or on the part before the split.
	In Outcome
	// Out is the run after the split, for the Top combinations of a split
	// sweep (nil otherwise, or when OutNote says why not).
	Out *Outcome
	// OutNote says why a top combination has no out-of-sample run: "n/a:
	// ..." such as a bounded range the price never entered after the split.
	OutNote string
}

// SweepResult is a sweep's ranked rows and what they were run on. It is a
// plain value.
type SweepResult struct {
	Metric Metric
	// In is the period ranked on; Out the out-of-sample period (zero
	// without a split).
	InStart, InEnd, OutStart, OutEnd time.Time
	InCandles, OutCandles            int
	Top                              int
	Rows                             []SweepRow
}

// Sweep runs every combination of cfg.Space over candles on cfg.Workers
// goroutines, which share the decoded candles read-only, ranks them by
// cfg.Metric (ties keep the Space's order), and with a split runs the
// best cfg.Top again out of sample. The result is the same for any number
// of workers. It returns ctx's error if ctx ends first, having stopped
// and waited for every worker.
func Sweep(ctx context.Context, candles []pricefeed.Candle, cfg SweepConfig) (SweepResult, error) {
	combos, err := cfg.Space.Combinations()
	if err != nil {
		return SweepResult{}, err
	}
	if cfg.Metric == 0 || int(cfg.Metric) >= len(metricNames) {
		return SweepResult{}, fmt.Errorf("backtest: sweep metric %s: want one of the Metric constants", cfg.Metric)
	}
	if len(candles) == 0 {
		return SweepResult{}, ErrNoCandles
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	top := cfg.Top
	if top <= 0 {
		top = 10
	}
	in, out := candles, []pricefeed.Candle(nil)
	if !cfg.Split.IsZero() {
		k, _ := slices.BinarySearchFunc(candles, cfg.Split.UnixMilli(), func(c pricefeed.Candle, t int64) int {
			return cmpInt(c.OpenTime, t)
		})
		if k == 0 || k == len(candles) {
			return SweepResult{}, fmt.Errorf("backtest: sweep split %s is outside the candles (%s to %s)",
				cfg.Split.UTC().Format(time.RFC3339), fmtTime(time.UnixMilli(candles[0].OpenTime)), fmtTime(time.UnixMilli(candles[len(candles)-1].OpenTime)))
		}
		in, out = candles[:k], candles[k:]
	}
	base := cfg.Base
	base.NoRecord, base.Progress = true, nil
	res := SweepResult{Metric: cfg.Metric, Top: top, InCandles: len(in), OutCandles: len(out),
		InStart: time.UnixMilli(in[0].OpenTime), InEnd: time.UnixMilli(in[len(in)-1].OpenTime).Add(time.Minute)}
	total := len(combos)
	if out != nil {
		total += min(top, len(combos))
		res.OutStart, res.OutEnd = time.UnixMilli(out[0].OpenTime), time.UnixMilli(out[len(out)-1].OpenTime).Add(time.Minute)
	}
	p := &pool{ctx: ctx, workers: workers, progress: cfg.Progress, total: total}

	rows := make([]SweepRow, len(combos))
	err = p.run(len(combos), func(i int) {
		rows[i].Params = combos[i]
		r, err := Run(in, combos[i].Config(base))
		if err != nil {
			rows[i].Err = err.Error()
			rows[i].In.Value = math.NaN()
			return
		}
		rows[i].In = outcomeOf(r, cfg.Metric)
	})
	if err != nil {
		return SweepResult{}, err
	}
	slices.SortStableFunc(rows, func(a, b SweepRow) int {
		switch {
		case (a.Err == "") != (b.Err == ""):
			if a.Err == "" {
				return -1
			}
			return 1
		case cfg.Metric.better(a.In.Value, b.In.Value):
			return -1
		case cfg.Metric.better(b.In.Value, a.In.Value):
			return 1
		}
		return 0
	})
	for i := range rows {
		rows[i].Rank = i + 1
	}
	res.Rows = rows
	if out == nil {
		return res, nil
	}

	lo, hi := out[0].Low, out[0].High
	for i := range out {
		lo, hi = min(lo, out[i].Low), max(hi, out[i].High)
	}
	low, high := base.Rules.TicksToPrice(lo), base.Rules.TicksToPrice(hi)
	n := min(top, len(rows))
	err = p.run(n, func(i int) {
		row := &rows[i]
		prm := row.Params
		switch {
		case row.Err != "":
			row.OutNote = "n/a: did not run in sample"
			return
		case prm.Bounded() && (high.LessThan(prm.Lower) || low.GreaterThan(prm.Upper)):
			row.OutNote = fmt.Sprintf("n/a: the price (%s to %s) never entered the range", low, high)
			return
		}
		r, err := Run(out, prm.Config(base))
		if err != nil {
			row.OutNote = "n/a: " + err.Error()
			return
		}
		o := outcomeOf(r, cfg.Metric)
		row.Out = &o
	})
	if err != nil {
		return SweepResult{}, err
	}
	return res, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SplitAt is the time at fraction frac (0 < frac < 1) of the candles'
// span, rounded down to a candle's open time: the split of a sweep that
// ranks on the first frac of the data.
func SplitAt(candles []pricefeed.Candle, frac float64) (time.Time, error) {
	if len(candles) < 2 {
		return time.Time{}, ErrNoCandles
	}
	if !(frac > 0 && frac < 1) {
		return time.Time{}, fmt.Errorf("backtest: split fraction %v must be between 0 and 1", frac)
	}
	t0, t1 := candles[0].OpenTime, candles[len(candles)-1].OpenTime
	t := t0 + int64(float64(t1-t0)*frac)
	k, _ := slices.BinarySearchFunc(candles, t, func(c pricefeed.Candle, t int64) int { return cmpInt(c.OpenTime, t) })
	k = min(max(k, 1), len(candles)-1)
	return time.UnixMilli(candles[k].OpenTime), nil
}

// pool runs jobs on a fixed number of goroutines and reports progress on
// the caller's goroutine.
type pool struct {
	ctx      context.Context
	workers  int
	progress func(done, total int)
	done     int
	total    int
}

// run calls job(i) for i in [0, n) on the pool's workers and waits for all
// of them; it stops handing out jobs when ctx ends and returns its error.
func (p *pool) run(n int, job func(i int)) error {
	if n == 0 {
		return nil
	}
	var next atomic.Int64
	finished := make(chan struct{}, n)
	var wg sync.WaitGroup
	for range min(p.workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p.ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				job(i)
				finished <- struct{}{}
			}
		}()
	}
	for range n {
		select {
		case <-finished:
			p.done++
			if p.progress != nil {
				p.progress(p.done, p.total)
			}
		case <-p.ctx.Done():
			wg.Wait()
			return fmt.Errorf("backtest: sweep: %w", p.ctx.Err())
		}
	}
	wg.Wait()
	return nil
}
