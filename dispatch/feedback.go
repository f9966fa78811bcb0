package dispatch

import (
	"context"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// BuildFeedback is the feedback part (反馈) of the report for the
// Monday-to-Sunday week that contains day, as BuildReport makes it, without
// the exposure and special parts and their reading of every case of the
// week: what a dashboard needs on every load.
func BuildFeedback(ctx context.Context, st *store.Store, day, asOf time.Time, loc *time.Location, names map[string]string) (Report, error) {
	if loc == nil {
		loc = model.Shanghai
	}
	from := WeekOf(day, loc)
	to := from.AddDate(0, 0, 7)
	r := Report{WeekStart: from, WeekEnd: to, AsOf: asOf, Target: Target}
	var err error
	if r.Rows, r.Total, err = feedback(ctx, st, from, to, asOf, names); err != nil {
		return Report{}, err
	}
	return r, nil
}
