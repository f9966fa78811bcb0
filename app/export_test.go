package app

import "time"

// StallStageForTest makes a stage look as if n items had waited since last.
func (a *App) StallStageForTest(stage string, n int64, last time.Time) bool {
	s, ok := a.stages[stage]
	if !ok {
		return false
	}
	s.extra.Store(n)
	s.last.Store(last.UnixNano())
	return true
}
