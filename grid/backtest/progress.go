package backtest

// ProgressEvery is the number of candles between two calls of
// Config.Progress; the last candle of a run is reported too.
const ProgressEvery = 1 << 15

// progress reports the run's progress to Config.Progress.
func (r *run) progress(done, total int) {
	if r.cfg.Progress != nil && (done%ProgressEvery == 0 || done == total) {
		r.cfg.Progress(done, total)
	}
}
