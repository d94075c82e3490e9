package backtest

import (
	"bufio"
	"math"
	"strconv"
	"time"
)

// Chart geometry, in SVG user units (pixels at 100 %). Every chart has
// plotWidth columns; a series is drawn with at most two points per column
// (its minimum and maximum there, in the order they happened), so spikes
// stay visible and no series has more than MaxPointsPerSeries points.
const (
	plotLeft   = 78
	plotRight  = 12
	plotTop    = 22
	plotBottom = 24
	chartWidth = plotLeft + plotWidth + plotRight
)

// MaxPointsPerSeries caps the points of one line of a report chart: two
// per pixel column. Fills are bucketed by the same columns: at most the
// lowest and the highest of each kind (entry or exit, buy or sell) per
// column are marked.
const MaxPointsPerSeries = 2 * plotWidth

// column is one pixel column of a series: its low and high, which came
// first, and its last value.
type column struct {
	lo, hi, last float64
	loAt, hiAt   int
	set          bool
}

// columns folds values at times into plotWidth columns between t0 and t1
// (ms). get(i) returns item i's time, low, high, whether the low came
// first, and the last value.
func columns(n int, t0, t1 int64, get func(i int) (t int64, lo, hi float64, loFirst bool, last float64)) []column {
	cols := make([]column, plotWidth)
	for i := range n {
		t, lo, hi, loFirst, last := get(i)
		if math.IsNaN(lo) || math.IsNaN(hi) {
			continue
		}
		c := &cols[colOf(t, t0, t1)]
		la, ha := 2*i, 2*i+1
		if !loFirst {
			la, ha = ha, la
		}
		if !c.set || lo < c.lo {
			c.lo, c.loAt = lo, la
		}
		if !c.set || hi > c.hi {
			c.hi, c.hiAt = hi, ha
		}
		c.last, c.set = last, true
	}
	return cols
}

// colOf is the pixel column of time t.
func colOf(t, t0, t1 int64) int {
	if t1 <= t0 {
		return 0
	}
	c := int((t - t0) * plotWidth / (t1 - t0))
	return min(max(c, 0), plotWidth-1)
}

// chart draws one SVG chart of a report.
type chart struct {
	w          *bufio.Writer
	top        float64 // the chart's y offset in its svg
	h          float64 // plot height
	t0, t1     int64
	vmin, vmax float64
}

func (c *chart) x(col int) float64 { return plotLeft + float64(col) + 0.5 }

func (c *chart) xt(t int64) float64 {
	if c.t1 <= c.t0 {
		return plotLeft
	}
	return plotLeft + float64(t-c.t0)*plotWidth/float64(c.t1-c.t0)
}

func (c *chart) y(v float64) float64 {
	if c.vmax <= c.vmin {
		return c.top + c.h/2
	}
	return c.top + c.h - (v-c.vmin)/(c.vmax-c.vmin)*c.h
}

// num formats a coordinate with one decimal.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// scale sets the value range from columns (lo..hi) and extra values,
// with 5 % padding; a flat range is widened.
func (c *chart) scale(cols []column, extra ...float64) {
	c.vmin, c.vmax = math.Inf(1), math.Inf(-1)
	for i := range cols {
		if cols[i].set {
			c.vmin, c.vmax = min(c.vmin, cols[i].lo), max(c.vmax, cols[i].hi)
		}
	}
	for _, v := range extra {
		if !math.IsNaN(v) {
			c.vmin, c.vmax = min(c.vmin, v), max(c.vmax, v)
		}
	}
	if math.IsInf(c.vmin, 0) {
		c.vmin, c.vmax = 0, 1
	}
	if c.vmax == c.vmin {
		d := math.Max(math.Abs(c.vmin)*0.01, 1)
		c.vmin, c.vmax = c.vmin-d, c.vmax+d
	}
	pad := (c.vmax - c.vmin) * 0.05
	c.vmin, c.vmax = c.vmin-pad, c.vmax+pad
}

// line draws cols as one polyline: per column its low and high in the
// order they happened (one point when equal). It returns the number of
// points drawn.
func (c *chart) line(cols []column, class string) int {
	n := 0
	c.w.WriteString(`<polyline class="` + class + `" points="`)
	pt := func(col int, v float64) {
		if n > 0 {
			c.w.WriteByte(' ')
		}
		c.w.WriteString(num(c.x(col)) + "," + num(c.y(v)))
		n++
	}
	for i := range cols {
		k := &cols[i]
		if !k.set {
			continue
		}
		a, b := k.lo, k.hi
		if k.hiAt < k.loAt {
			a, b = b, a
		}
		pt(i, a)
		if b != a {
			pt(i, b)
		}
	}
	c.w.WriteString(`"/>` + "\n")
	return n
}

// area fills between zero and each column's value v (lo or hi, chosen by
// useLo), as one path. It returns the number of points drawn.
func (c *chart) area(cols []column, useLo bool, class string) int {
	n := 0
	zero := num(c.y(0))
	c.w.WriteString(`<path class="` + class + `" d="`)
	for i := range cols {
		k := &cols[i]
		if !k.set {
			continue
		}
		v := k.hi
		if useLo {
			v = k.lo
		}
		c.w.WriteString("M" + num(c.x(i)) + " " + zero + "V" + num(c.y(v)))
		n++
	}
	c.w.WriteString(`"/>` + "\n")
	return n
}

// frame draws the plot's border, a zero line when zero is in range, and
// the y axis labels; format formats a value.
func (c *chart) frame(title string, format func(float64) string) {
	w := c.w
	w.WriteString(`<text class="title" x="` + num(plotLeft) + `" y="` + num(c.top-7) + `">` + esc(title) + "</text>\n")
	w.WriteString(`<rect class="frame" x="` + num(plotLeft) + `" y="` + num(c.top) + `" width="` + num(plotWidth) + `" height="` + num(c.h) + `"/>` + "\n")
	for _, v := range niceTicks(c.vmin, c.vmax, 5) {
		y := c.y(v)
		w.WriteString(`<line class="grid" x1="` + num(plotLeft) + `" x2="` + num(plotLeft+plotWidth) + `" y1="` + num(y) + `" y2="` + num(y) + `"/>`)
		w.WriteString(`<text class="ylab" x="` + num(plotLeft-4) + `" y="` + num(y+4) + `">` + esc(format(v)) + "</text>\n")
	}
	if c.vmin < 0 && c.vmax > 0 {
		y := num(c.y(0))
		w.WriteString(`<line class="zero" x1="` + num(plotLeft) + `" x2="` + num(plotLeft+plotWidth) + `" y1="` + y + `" y2="` + y + `"/>` + "\n")
	}
}

// timeAxis labels the x axis with dates under the plot.
func (c *chart) timeAxis() {
	span := c.t1 - c.t0
	layout := "01-02"
	if span < 2*int64(24*time.Hour/time.Millisecond) {
		layout = "01-02 15:04"
	}
	for k := 0; k <= 6; k++ {
		t := c.t0 + span*int64(k)/6
		x := c.xt(t)
		anchor := "middle"
		switch k {
		case 0:
			anchor = "start"
		case 6:
			anchor = "end"
		}
		c.w.WriteString(`<text class="xlab" text-anchor="` + anchor + `" x="` + num(x) + `" y="` + num(c.top+c.h+16) + `">` +
			time.UnixMilli(t).UTC().Format(layout) + "</text>\n")
	}
}

// note writes a centred message on an empty plot.
func (c *chart) note(msg string) {
	c.w.WriteString(`<text class="note" x="` + num(plotLeft+plotWidth/2) + `" y="` + num(c.top+c.h*0.35) + `">` + esc(msg) + "</text>\n")
}

// fmtValue formats an axis value compactly.
func fmtValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func fmtPctAxis(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "%" }

// niceTicks returns about n round values (1, 2 or 5 times a power of ten
// apart) between lo and hi, for axis labels.
func niceTicks(lo, hi float64, n int) []float64 {
	if !(hi > lo) || n < 2 {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n-1)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step, best := mag, math.Inf(1)
	for _, m := range []float64{1, 2, 5, 10} {
		if d := math.Abs((hi-lo)/(m*mag) - float64(n-1)); d < best {
			step, best = m*mag, d
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		out = append(out, v)
	}
	return out
}
