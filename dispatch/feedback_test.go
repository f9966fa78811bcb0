package dispatch

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store/storetest"
)

func TestBuildFeedbackIsTheReportsFeedback(t *testing.T) {
	st := storetest.OpenSQLite(t)
	clk := newFakeClock(start)
	d := newTestDispatcher(t, st, clk)
	mustHandle(t, d, decision(model.ChannelWeibo, "1", "翠湖小区门口路灯坏了", lightA, lightPlace, huashan, ldj))
	mustHandle(t, d, decision(model.ChannelWeibo, "2", "湖东路垃圾堆积", garbage, nil, yushan, cgj, gas))
	clk.Add(30 * time.Hour)
	ctx := context.Background()
	full, err := BuildReport(ctx, st, start, clk.Now(), nil, map[string]string{"cgj": cgj.Name})
	if err != nil {
		t.Fatal(err)
	}
	fb, err := BuildFeedback(ctx, st, start, clk.Now(), nil, map[string]string{"cgj": cgj.Name})
	if err != nil {
		t.Fatal(err)
	}
	if len(fb.Rows) != 3 || fb.Total.Received != 3 {
		t.Fatalf("feedback rows %+v total %+v, want three departments, three received", fb.Rows, fb.Total)
	}
	if !reflect.DeepEqual(fb.Rows, full.Rows) || fb.Total != full.Total || !fb.WeekStart.Equal(full.WeekStart) || fb.Exposure != nil {
		t.Errorf("feedback differs from the report's:\n%+v\n%+v", fb, full)
	}
}
