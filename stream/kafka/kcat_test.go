package kafka

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/stream"
)

// kcatRecord is one line of `kcat -C -J`.
type kcatRecord struct {
	Topic     string  `json:"topic"`
	Partition int     `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Payload   *string `json:"payload"`
}

// TestKcatReadsPublishedPost proves the wire format with a client that is not
// ours: a post published through the Log is read back by kcat (librdkafka)
// with its key and a JSON value that decodes to the same model.Post.
// kcat must be installed; without it the test skips, unless
// MSB_REQUIRE_KCAT=1, as CI sets.
func TestKcatReadsPublishedPost(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("MSB_REQUIRE_KCAT") == "1" {
			t.Fatal("kcat not found and MSB_REQUIRE_KCAT=1")
		}
		t.Skip("kcat not installed")
	}
	c := newCluster(t, 1)
	opts := testOptions(c)
	l := openTest(t, opts)
	defer l.Close()

	post := model.Post{
		ID:        model.PostID(model.ChannelWeibo, "5030112233445566"),
		Source:    "weibo-mobile",
		Channel:   model.ChannelWeibo,
		NativeID:  "5030112233445566",
		Author:    model.Author{ID: "1234567890", Name: "马鞍山市民"},
		Text:      "#马上办# 花山区湖东路路灯不亮已经一周了，晚上很危险",
		Geo:       &model.Geo{Lat: 31.6705, Lon: 118.5066, System: "gcj02"},
		Region:    "安徽 马鞍山",
		CreatedAt: time.Date(2024, 5, 17, 20, 3, 0, 0, time.FixedZone("CST", 8*3600)),
		FetchedAt: time.Date(2024, 5, 17, 12, 5, 0, 0, time.UTC),
		URL:       "https://m.weibo.cn/detail/5030112233445566",
		Raw:       json.RawMessage(`{"id":"5030112233445566"}`),
	}
	value, err := json.Marshal(post)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Publish(ctx, stream.TopicPosts, stream.Message{Key: []byte(post.ID), Value: value}); err != nil {
		t.Fatalf("Publish: %v", err)
	}

	topic := opts.TopicPrefix + stream.TopicPosts
	cmd := exec.CommandContext(ctx, kcat, "-C", "-b", strings.Join(c.ListenAddrs(), ","), "-t", topic, "-o", "beginning", "-e", "-J", "-q")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}

	var records []kcatRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r kcatRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("kcat printed %q: %v", line, err)
		}
		records = append(records, r)
	}
	if len(records) != 1 {
		t.Fatalf("kcat read %d records, want 1:\n%s\nstderr: %s", len(records), out, stderr.String())
	}
	r := records[0]
	if r.Topic != topic {
		t.Errorf("topic = %q, want %q", r.Topic, topic)
	}
	if r.Key == nil || *r.Key != post.ID {
		t.Errorf("key = %v, want %q", r.Key, post.ID)
	}
	if r.Payload == nil {
		t.Fatal("payload is null")
	}
	var got model.Post
	if err := json.Unmarshal([]byte(*r.Payload), &got); err != nil {
		t.Fatalf("payload %q is not a JSON post: %v", *r.Payload, err)
	}
	if !got.CreatedAt.Equal(post.CreatedAt) || !got.FetchedAt.Equal(post.FetchedAt) {
		t.Errorf("times = %v, %v, want %v, %v", got.CreatedAt, got.FetchedAt, post.CreatedAt, post.FetchedAt)
	}
	got.CreatedAt, got.FetchedAt = post.CreatedAt, post.FetchedAt
	if !reflect.DeepEqual(got, post) {
		t.Errorf("kcat payload decodes to\n%+v\nwant\n%+v", got, post)
	}
}
