//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"slices"
	"strconv"
	"time"
)

// stats are the min / median / max of a measurement.
type stats struct{ min, med, max time.Duration }

func summarize(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return stats{s[0], s[len(s)/2], s[len(s)-1]}
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}

func (s stats) String() string { return ms(s.min) + " / " + ms(s.med) + " / " + ms(s.max) }

// ratio is a / b, as "2.1x".
func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "n/a"
	}
	return strconv.FormatFloat(float64(a)/float64(b), 'f', 1, 64) + "x"
}

func timeIt(n int, f func() error) (stats, error) {
	var ds []time.Duration
	for range n {
		start := time.Now()
		if err := f(); err != nil {
			return stats{}, err
		}
		ds = append(ds, time.Since(start))
	}
	return summarize(ds), nil
}
