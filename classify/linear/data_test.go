package linear

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadLabelled(t *testing.T) {
	in := `{"id":"1","title":"路灯不亮","text":"小区门口路灯坏了","category":"城乡建设"}

{"id":null,"title":null,"text":"工资拖欠三个月","category":"劳动和社会保障","department":"人社局"}
{"text":"  ","title":"只有标题","category":"交通运输"}
`
	got, err := ReadLabelled(strings.NewReader(in), "category")
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{Text: "路灯不亮\n小区门口路灯坏了", Label: "城乡建设"},
		{Text: "工资拖欠三个月", Label: "劳动和社会保障"},
		{Text: "只有标题", Label: "交通运输"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d examples, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("example %d = %q, want %q", i, got[i], want[i])
		}
	}

	dept, err := ReadLabelled(strings.NewReader(`{"text":"工资拖欠","department":"人社局"}`), "department")
	if err != nil {
		t.Fatal(err)
	}
	if dept[0].Label != "人社局" {
		t.Errorf("department label = %q", dept[0].Label)
	}
}

func TestReadLabelledErrors(t *testing.T) {
	good := `{"text":"路灯坏了","category":"城乡建设"}` + "\n"
	tests := []struct {
		name, in, field, want string
	}{
		{"empty input", "", "category", "no labelled examples"},
		{"only blank lines", "\n \n", "category", "no labelled examples"},
		{"empty field name", good, "", "empty label field name"},
		{"bad json", good + `{"text":"x",` + "\n", "category", "line 2: invalid JSON"},
		{"not an object", good + good + `["x"]`, "category", "line 3: invalid JSON"},
		{"missing label", good + `{"text":"x"}`, "category", `line 2: missing or empty "category"`},
		{"empty label", `{"text":"x","category":" "}`, "category", `line 1: missing or empty "category"`},
		{"wrong label field", good, "department", `line 1: missing or empty "department"`},
		{"label not string", `{"text":"x","category":3}`, "category", `line 1: field "category" is not a string`},
		{"missing text", `{"category":"a"}`, "category", `line 1: missing or empty "text"`},
		{"text not string", `{"text":{},"category":"a"}`, "category", `line 1: field "text" is not a string`},
		{"title not string", `{"text":"x","title":1,"category":"a"}`, "category", `line 1: field "title" is not a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadLabelled(strings.NewReader(tt.in), tt.field)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReadLabelledLongLineAndReadError(t *testing.T) {
	long := `{"text":"` + strings.Repeat("长", 100_000) + `","category":"a"}`
	got, err := ReadLabelled(strings.NewReader(long), "category")
	if err != nil || len([]rune(got[0].Text)) != 100_000 {
		t.Fatalf("long line: %v", err)
	}
	boom := errors.New("disk on fire")
	_, err = ReadLabelled(io.MultiReader(strings.NewReader(`{"text":"x","category":"a"}`+"\n"), errReader{boom}), "category")
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("read error = %v, want line 2 wrapping %v", err, boom)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func FuzzReadLabelled(f *testing.F) {
	f.Add([]byte(`{"text":"路灯坏了","title":"路灯","category":"城乡建设"}`))
	f.Add([]byte("{\"text\":\"x\",\"category\":\"a\"}\n\n{\"text\":null}"))
	f.Add([]byte(`{"category":["a"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		exs, err := ReadLabelled(strings.NewReader(string(data)), "category")
		if err != nil {
			return
		}
		for _, ex := range exs {
			if strings.TrimSpace(ex.Text) == "" || strings.TrimSpace(ex.Label) == "" {
				t.Fatalf("accepted an example without text or label: %q", ex)
			}
		}
	})
}
