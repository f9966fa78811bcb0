// Package examples ships the example posts that the zero-configuration
// `mashangban run` replays, so that a fresh install shows cases at once.
package examples

import _ "embed"

// Posts is examples/posts.jsonl: realistic citizen posts about 马鞍山, one
// model.Post (or the replay source's minimal form) per line.
//
//go:embed posts.jsonl
var Posts []byte
