package gazetteer

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParsePlaces(t *testing.T) {
	src := `roads:
  - name: 华山南路
    in: [花山区, 雨山区]
compounds:
  - name: 阳湖花园
    aliases: [阳湖花园小区, 阳湖花苑]
    in: 阳湖社区
landmarks:
  - {name: 采石矶, in: "340504004"}
`
	got, err := ParsePlaces("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Place{
		{Name: "华山南路", Kind: KindRoad, In: []string{"花山区", "雨山区"}, Pos: Pos{File: "p.yaml", Line: 2, Col: 5},
			InPos: []Pos{{File: "p.yaml", Line: 3, Col: 10}, {File: "p.yaml", Line: 3, Col: 15}}},
		{Name: "阳湖花园", Kind: KindCompound, Aliases: []string{"阳湖花园小区", "阳湖花苑"}, In: []string{"阳湖社区"},
			Pos: Pos{File: "p.yaml", Line: 5, Col: 5}, InPos: []Pos{{File: "p.yaml", Line: 7, Col: 9}}},
		{Name: "采石矶", Kind: KindLandmark, In: []string{"340504004"}, Pos: Pos{File: "p.yaml", Line: 9, Col: 5},
			InPos: []Pos{{File: "p.yaml", Line: 9, Col: 21}}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d places, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Kind != w.Kind || !slices.Equal(g.Aliases, w.Aliases) || !slices.Equal(g.In, w.In) ||
			g.Pos != w.Pos || !slices.Equal(g.InPos, w.InPos) {
			t.Errorf("place %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	for _, empty := range []string{"", "# nothing yet\n", "roads:\n", "roads: []\n"} {
		if got, err := ParsePlaces("e.yaml", []byte(empty)); err != nil || len(got) != 0 {
			t.Errorf("ParsePlaces(%q) = %v, %v; want no places", empty, got, err)
		}
	}
}

// Every error a places file can have, with its position.
func TestParsePlacesErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"yaml syntax", "roads:\n  - name: [华山南路\n", []string{"p.yaml:1:1: invalid yaml: did not find expected ',' or ']'"}},
		{"not a mapping", "- 华山南路\n", []string{"p.yaml:1:1: places file must be a mapping of roads, compounds and landmarks, not a list"}},
		{"unknown section", "streets:\n  - {name: 向山镇, in: 雨山区}\n", []string{`p.yaml:1:1: unknown key "streets" (want roads, compounds or landmarks)`}},
		{"section not a list", "roads: 华山南路\n", []string{`p.yaml:1:8: roads must be a list, not "华山南路"`}},
		{"entry not a mapping", "roads:\n  - 华山南路\n", []string{`p.yaml:2:5: a road must be a mapping with name and in, not "华山南路"`}},
		{"unknown key", "roads:\n  - {name: 华山南路, in: 花山区, district: 花山区}\n", []string{`p.yaml:2:27: unknown key "district" in a road (want name, aliases, in)`}},
		{"key twice", "roads:\n  - {name: 华山南路, name: 湖北路, in: 花山区}\n", []string{`p.yaml:2:18: key "name" given twice`}},
		{"no name", "compounds:\n  - {in: 花山区}\n", []string{"p.yaml:2:5: a compound needs a name"}},
		{"empty name", "compounds:\n  - {name: \"\", in: 花山区}\n", []string{"p.yaml:2:12: name is empty"}},
		{"name not a string", "compounds:\n  - {name: [a, b], in: 花山区}\n", []string{"p.yaml:2:12: name must be a string, not a list"}},
		{"name too short", "landmarks:\n  - {name: 楼, in: 花山区}\n", []string{`p.yaml:2:12: name "楼" is too short: a place name needs at least two characters`}},
		{"name with blanks", "landmarks:\n  - {name: 雨山 湖, in: 花山区}\n", []string{`p.yaml:2:12: name "雨山 湖" contains blanks`}},
		{"no in", "roads:\n  - name: 华山南路\n", []string{`p.yaml:2:5: road "华山南路" needs in: the community, street or district it lies in`}},
		{"empty in list", "roads:\n  - {name: 华山南路, in: []}\n", []string{`p.yaml:2:22: road "华山南路": in is empty`}},
		{"in entry not a string", "roads:\n  - {name: 华山南路, in: [花山区, {a: b}]}\n", []string{"p.yaml:2:28: in must be a string, not a mapping"}},
		{"aliases not a list", "roads:\n  - {name: 华山南路, aliases: {a: b}, in: 花山区}\n", []string{"p.yaml:2:27: aliases must be a list of names, not a mapping"}},
		{"duplicate name", "roads:\n  - {name: 华山南路, in: 花山区}\nlandmarks:\n  - {name: 华山南路, in: 雨山区}\n",
			[]string{`p.yaml:4:12: "华山南路" is already a place at p.yaml:2:12`}},
		{"alias repeats a name", "roads:\n  - {name: 华山南路, aliases: [华山南路], in: 花山区}\n",
			[]string{`p.yaml:2:28: "华山南路" is already a place at p.yaml:2:12`}},
		{"two documents", "roads: []\n---\nroads: []\n", []string{"p.yaml:2:1: a places file holds one YAML document"}},
		{"all errors at once", "roads:\n  - {name: 楼, in: 花山区}\n  - {name: 华山南路}\nparks: []\n", []string{
			`p.yaml:2:12: name "楼" is too short: a place name needs at least two characters`,
			`p.yaml:3:5: road "华山南路" needs in: the community, street or district it lies in`,
			`p.yaml:4:1: unknown key "parks" (want roads, compounds or landmarks)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			places, err := ParsePlaces("p.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; places %+v", places)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tt.want, "\n     "))
			}
		})
	}
}

// Errors found by New: the divisions a place names must exist.
func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown division", "roads:\n  - {name: 华山南路, in: [花山区, 火星区]}\n",
			[]string{`p.yaml:2:28: road "华山南路": unknown division "火星区"`}},
		{"ambiguous division", "compounds:\n  - {name: 龙山花园, in: 龙山村}\n",
			[]string{`p.yaml:2:22: compound "龙山花园": "龙山村" names several divisions (340506101208 龙山村委会, 340521106204 龙山村委会, 340523106202 龙山村委会): use the code`}},
		{"a place is not a division", "roads:\n  - {name: 华山南路, in: 花山区}\n  - {name: 马向路, in: 华山南路}\n",
			[]string{`p.yaml:3:21: road "马向路": unknown division "华山南路"`}},
		{"full name of a division", "landmarks:\n  - {name: 阳湖社区居委会, in: 雨山区}\n",
			[]string{`p.yaml:2:5: "阳湖社区居委会" is the name of division 340504200002`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			places, err := ParsePlaces("p.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(places)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("New: %v, want Errors", err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tt.want, "\n     "))
			}
		})
	}
}

// A user place replaces a short form of the same name but not a full name.
func TestUserPlaceOverridesShortForm(t *testing.T) {
	places, err := ParsePlaces("p.yaml", []byte("roads:\n  - {name: 湖东路, in: [花山区, 雨山区]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(places)
	if err != nil {
		t.Fatal(err)
	}
	r := g.Resolve("湖东路上有个坑", nil, nil, "")
	if got := names(r.Districts); !slices.Equal(got, []string{"花山区", "雨山区"}) || !r.Border || r.Places[0].Kind != KindRoad {
		t.Errorf("湖东路 as a border road: %v border %v places %+v", got, r.Border, r.Places)
	}
}

func FuzzParsePlaces(f *testing.F) {
	if data, err := os.ReadFile(defaultPlaces); err == nil {
		f.Add(data)
	}
	f.Add([]byte("roads:\n  - {name: 华山南路, in: [花山区, 雨山区]}\n"))
	f.Add([]byte("compounds:\n  - name: 阳湖花园\n    aliases: [阳湖花园小区]\n    in: 阳湖社区\n"))
	f.Add([]byte("landmarks: &a\n  - {name: *a, in: 和县}\n"))
	f.Add([]byte("roads: [{name: 楼}]\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		places, err := ParsePlaces("f.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			for _, e := range errs {
				if e.Pos.File != "f.yaml" || e.Pos.Line < 1 || e.Pos.Col < 0 {
					t.Fatalf("bad position in %v", e)
				}
			}
			if places != nil {
				t.Fatal("places returned with an error")
			}
			return
		}
		for _, p := range places {
			if shortEnough(p.Name) || len(p.In) == 0 || len(p.In) != len(p.InPos) ||
				(p.Kind != KindRoad && p.Kind != KindCompound && p.Kind != KindLandmark) {
				t.Fatalf("invalid place accepted: %+v", p)
			}
		}
		// New must not panic on whatever ParsePlaces accepts.
		_, _ = New(places)
	})
}
