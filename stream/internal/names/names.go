// Package names checks topic and consumer group names for both log
// implementations, so that a name the in-process log accepts is also one
// Kafka accepts.
package names

import (
	"errors"
	"fmt"
)

// MaxTopicLen is Kafka's limit on a topic name.
const MaxTopicLen = 249

// Topic reports whether name is a legal Kafka topic name: 1 to 249
// characters of ASCII letters, digits, '.', '_' and '-', and not "." or "..".
func Topic(name string) error {
	switch {
	case name == "":
		return errors.New("empty topic name")
	case len(name) > MaxTopicLen:
		return fmt.Errorf("topic name %q is longer than %d characters", name, MaxTopicLen)
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q has illegal character %q (allowed: letters, digits, '.', '_', '-')", name, r)
		}
	}
	return nil
}

// Group reports whether name is usable as a consumer group name.
func Group(name string) error {
	if name == "" {
		return errors.New("empty consumer group name")
	}
	return nil
}
