package model

import "time"

// Shanghai is the city's time zone: case numbers, deadlines in words,
// report weeks and platform dates without an offset are read in it. It
// falls back to a fixed +08:00 zone on hosts without a time zone database
// (China has no daylight saving, so the two agree).
var Shanghai = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}()
