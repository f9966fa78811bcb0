package names

import (
	"strings"
	"testing"
)

func TestTopic(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"posts", true},
		{"mashangban.posts", true},
		{"a_b-C.9", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"帖子", false},
		{"a b", false},
		{strings.Repeat("x", 249), true},
		{strings.Repeat("x", 250), false},
	}
	for _, tt := range tests {
		err := Topic(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("Topic(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestGroup(t *testing.T) {
	if Group("") == nil {
		t.Error("empty group accepted")
	}
	if err := Group("mashangban.classify/东"); err != nil {
		t.Errorf("Group = %v", err)
	}
}
