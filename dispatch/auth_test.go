package dispatch

import (
	"context"
	"errors"
	"testing"

	"github.com/mashangban/mashangban/store/storetest"
)

func TestAuthenticate(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := newTestDispatcher(t, st, newFakeClock(start))
	ctx := context.Background()
	if err := d.SaveTokens(ctx); err != nil {
		t.Fatal(err)
	}
	// A second dispatcher on the same database without the configuration
	// knows the tokens from the store.
	other := New(st, Options{}, nil, nil)
	for _, disp := range []*Dispatcher{d, other} {
		for tok, want := range map[string]Actor{"tok-gas": {ID: "gas"}, " tok-duty ": {ID: "duty", Supervisor: true}} {
			got, err := disp.Authenticate(ctx, tok)
			if err != nil || got != want {
				t.Errorf("Authenticate(%q) = %+v, %v; want %+v", tok, got, err, want)
			}
		}
		for _, tok := range []string{"", "  ", "tok-nope"} {
			if _, err := disp.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("Authenticate(%q) = %v, want ErrUnauthorized", tok, err)
			}
		}
	}
	deps := d.Departments()
	if len(deps) != 4 || deps[0].ID != "cgj" || deps[0].Name != "市城市管理局" {
		t.Errorf("Departments() = %+v, want the four non-supervisors by ID, named", deps)
	}
	if got := d.DepartmentName("gas"); got != "市燃气公司" {
		t.Errorf("DepartmentName(gas) = %q", got)
	}
}

// TestSetDepartments: a reload of the configuration without a department
// refuses its token at once, here and through the store on another
// dispatcher, and drops its name override; the others keep working.
func TestSetDepartments(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := newTestDispatcher(t, st, newFakeClock(start))
	ctx := context.Background()
	if err := d.SaveTokens(ctx); err != nil {
		t.Fatal(err)
	}
	var kept []DepartmentAuth
	for _, dep := range testDepartments {
		if dep.ID != "gas" {
			kept = append(kept, dep)
		}
	}
	kept = append(kept, DepartmentAuth{ID: "wjw", Name: "市卫生健康委员会", Token: "tok-wjw"})
	if err := d.SetDepartments(ctx, kept); err != nil {
		t.Fatal(err)
	}
	other := New(st, Options{}, nil, nil)
	for _, disp := range []*Dispatcher{d, other} {
		if _, err := disp.Authenticate(ctx, "tok-gas"); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("removed department's token: %v, want ErrUnauthorized", err)
		}
		for tok, want := range map[string]Actor{"tok-cgj": {ID: "cgj"}, "tok-wjw": {ID: "wjw"}} {
			if got, err := disp.Authenticate(ctx, tok); err != nil || got != want {
				t.Errorf("Authenticate(%q) = %+v, %v; want %+v", tok, got, err, want)
			}
		}
	}
	if got := d.DepartmentName("wjw"); got != "市卫生健康委员会" {
		t.Errorf("DepartmentName(wjw) = %q", got)
	}
	if got := d.DepartmentName("gas"); got == "市燃气公司" {
		t.Errorf("DepartmentName(gas) = %q: the removed configuration's name is still used", got)
	}
}
