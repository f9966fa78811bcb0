package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/app"
	"github.com/mashangban/mashangban/config"
	"github.com/mashangban/mashangban/ingest"
	"github.com/mashangban/mashangban/model"
)

// propertyInput is one generated replay file and what must come of it.
type propertyInput struct {
	lines []string
	// texts holds, for every post ID after cleaning, the set of cleaned
	// texts it came with: one case or triage entry per ID, one conflicting
	// duplicate dead letter per text beyond the first.
	texts map[string]map[string]bool
	// bad are the line numbers that are not posts: each an ingest dead
	// letter keyed line:N.
	bad []int
}

var propertyTexts = []string{
	"花山区湖东路路灯不亮好几天了",
	"雨山区阳湖花园3栋楼道窗户脱落",
	"当涂县姑孰镇护城河边有人往河里倒生活垃圾",
	"博望区博望镇新博路井盖丢失，晚上很危险",
	"东方城二区16栋对面楼顶广告牌强光太亮，晚上11点还亮着",
	"小区门口没路灯",
	"  ",
	"",
	"<p>HTML <b>文本</b></p>😡😡",
}

// genPosts builds n replay lines from rng: posts whose ID, text, author,
// images and geo carry NUL bytes, invalid UTF-8 and huge values, repeats of
// an earlier ID with the same or another text, and lines that are not
// posts (broken JSON, deep nesting, numbers no float holds, wrong types).
func genPosts(rng *rand.Rand, n int) propertyInput {
	in := propertyInput{texts: map[string]map[string]bool{}}
	var ids []string
	spice := func(s string) string {
		switch rng.IntN(8) {
		case 0:
			return s + "\x00"
		case 1:
			return "\xff" + s
		case 2:
			i := rng.IntN(len(s) + 1)
			return s[:i] + "\x00\xc3" + s[i:]
		}
		return s
	}
	for i := 1; i <= n; i++ {
		switch rng.IntN(10) {
		case 0:
			bad := []string{
				`not json at all`,
				`{"id":"x","text":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
				`{"id":"x","text":"路灯","geo":{"lat":1e400,"lon":1}}`,
				`{"id":["x"],"text":{"a":1}}`,
				"{\"id\":\"x\xff\",\"text\":",
			}[rng.IntN(5)]
			in.lines = append(in.lines, bad)
			in.bad = append(in.bad, i)
			continue
		}
		var id string
		if len(ids) > 0 && rng.IntN(4) == 0 {
			id = ids[rng.IntN(len(ids))] // a repeat of an earlier ID
		} else {
			id = spice("p" + strconv.Itoa(i))
			ids = append(ids, id)
		}
		text := propertyTexts[rng.IntN(len(propertyTexts))]
		switch rng.IntN(6) {
		case 0:
			text = spice(text)
		case 1:
			text = strings.Repeat(text+"。", 1+rng.IntN(1200))
		}
		post := map[string]any{"id": id, "text": text}
		if rng.IntN(3) == 0 {
			post["author"] = spice(strings.Repeat("名", 1+rng.IntN(3)*50000))
		}
		if rng.IntN(4) == 0 {
			imgs := make([]string, rng.IntN(60))
			for j := range imgs {
				imgs[j] = spice("https://wx1.sinaimg.cn/large/" + strings.Repeat("a", rng.IntN(3000)))
			}
			post["images"] = imgs
		}
		if rng.IntN(4) == 0 {
			post["geo"] = map[string]any{"lat": 31 + rng.Float64(), "lon": 118 + rng.Float64(), "system": spice("gcj02")}
		}
		b, err := json.Marshal(post)
		if err != nil {
			panic(err)
		}
		in.lines = append(in.lines, string(b))
		// What ingest makes of it: the decoded line (json turns invalid
		// UTF-8 into U+FFFD), trimmed text, then Clean.
		var dec struct{ ID, Text string }
		if err := json.Unmarshal(b, &dec); err != nil {
			panic(err)
		}
		if strings.TrimSpace(dec.Text) == "" {
			in.bad = append(in.bad, i) // empty text: rejected
			continue
		}
		native := strings.TrimPrefix(dec.ID, "replay:")
		p, _, err := ingest.Clean(model.Post{ID: model.PostID(model.ChannelReplay, native), Text: strings.TrimSpace(dec.Text)})
		if err != nil {
			panic(err)
		}
		if in.texts[p.ID] == nil {
			in.texts[p.ID] = map[string]bool{}
		}
		in.texts[p.ID][p.Text] = true
	}
	return in
}

// TestEveryPostAccountedFor is a property test of the whole pipeline:
// random posts (NUL bytes, invalid UTF-8, huge fields, duplicates with the
// same and another text, lines that are not posts) go through a replay
// source, classify and dispatch, embedded and on Kafka with PostgreSQL, and
// at the end every input is accounted for exactly once: each post ID in
// one case or triage item, each other text under an ID in one conflicting
// duplicate dead letter, each line that is not a post in one ingest dead
// letter with its reason. MSB_PROPERTY_SEED picks another seed.
func TestEveryPostAccountedFor(t *testing.T) {
	seed := uint64(20261202)
	if s := os.Getenv("MSB_PROPERTY_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MSB_PROPERTY_SEED: %v", err)
		}
		seed = v
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			in := genPosts(rand.New(rand.NewPCG(seed, 1)), 80)
			extra := 0
			for _, texts := range in.texts {
				extra += len(texts) - 1
			}
			t.Logf("seed %d: %d lines, %d post IDs, %d other texts under an ID, %d lines not posts", seed, len(in.lines), len(in.texts), extra, len(in.bad))
			dataDir := t.TempDir()
			file := filepath.Join(dataDir, "random.jsonl")
			if err := os.WriteFile(file, []byte(strings.Join(in.lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := s.cfg(t, dataDir)
			cfg.Sources = []config.Source{{Name: "random", Type: config.SourceReplay, File: file, Interval: config.Duration(50 * time.Millisecond)}}
			r := start(t, cfg, app.Options{})
			var problems []string
			deadline := time.Now().Add(120 * time.Second)
			for {
				problems = accountFor(t, r, in)
				if len(problems) == 0 {
					return
				}
				if time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Fatalf("seed %d: not every input accounted for exactly once:\n%s\nlogs:\n%s", seed, strings.Join(problems, "\n"), tail(r.logs.String(), 6000))
		})
	}
}

// accountFor lists what does not (yet) match in: an empty list means every
// input is accounted for exactly once.
func accountFor(t *testing.T, r *running, in propertyInput) []string {
	t.Helper()
	ctx := context.Background()
	got := outcomes(t, r.app.Store())
	letters, err := r.app.Store().ListDeadLetters(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	conflicts := map[string]int{}
	ingestKeys := map[string]bool{}
	for _, d := range letters {
		if d.Reason == "" {
			problems = append(problems, fmt.Sprintf("dead letter %s/%s without a reason", d.Stage, d.Key))
		}
		switch {
		case d.Stage == "dispatch" && strings.Contains(d.Key, "#text:"):
			conflicts[d.Key[:strings.Index(d.Key, "#text:")]]++
		case d.Stage == "ingest":
			ingestKeys[d.Key] = true
		default:
			problems = append(problems, fmt.Sprintf("unexpected dead letter %s/%s: %s", d.Stage, d.Key, d.Reason))
		}
	}
	for id, texts := range in.texts {
		if n := len(got[id]); n != 1 {
			problems = append(problems, fmt.Sprintf("%q in %d cases or triage items, want 1", id, n))
			continue
		}
		if n := conflicts[id]; n != len(texts)-1 {
			problems = append(problems, fmt.Sprintf("%q: %d conflicting duplicates kept, want %d", id, n, len(texts)-1))
		}
		stored, err := r.app.Store().PostText(ctx, nil, id)
		if err != nil || !texts[stored] {
			problems = append(problems, fmt.Sprintf("%q stored with text %.40q (%v), not one it came with", id, stored, err))
		}
	}
	for id := range got {
		if in.texts[id] == nil {
			problems = append(problems, fmt.Sprintf("%q is a case or triage item but was never sent", id))
		}
	}
	for id := range conflicts {
		if in.texts[id] == nil {
			problems = append(problems, fmt.Sprintf("conflicting duplicate for %q, never sent", id))
		}
	}
	for _, n := range in.bad {
		if !ingestKeys["line:"+strconv.Itoa(n)] {
			problems = append(problems, fmt.Sprintf("line %d is not a post but no dead letter line:%d", n, n))
		}
	}
	sort.Strings(problems)
	return problems
}
