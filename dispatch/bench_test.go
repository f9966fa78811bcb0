package dispatch

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
	"github.com/mashangban/mashangban/store/storetest"
)

// BenchmarkHandle measures one decision → case (or merge) transaction, with
// up to a few hundred open cases per district to compare against.
//
//	go test ./dispatch -run XXX -bench Handle -benchtime 2000x
func BenchmarkHandle(b *testing.B) {
	for _, s := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		b.Run(s.name, func(b *testing.B) {
			st := s.open(b)
			clk := newFakeClock(start)
			d := New(st, Options{Now: clk.Now, Departments: testDepartments}, nil, nil)
			districts := []model.District{huashan, yushan, {Code: "340506", Name: "博望区"}, {Code: "340521", Name: "当涂县"}}
			words := []string{"路灯", "井盖", "噪音", "垃圾", "停车", "漏水", "广告牌", "施工", "油烟", "积水"}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				clk.Add(time.Minute)
				dec := decision(model.ChannelWeibo, fmt.Sprint(i), "问题", []string{words[i%len(words)], fmt.Sprint("词", i%97), fmt.Sprint("处", i%13)},
					nil, districts[i%len(districts)], cgj, ldj)
				if err := d.Handle(ctx, dec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
