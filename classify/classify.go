// Package classify turns a post into a routing Decision: gse segmentation
// with the place-name gazetteer, the compiled rule tree, and the learned
// fallback model. It imports rules (the on-disk format) and compiles it into
// an immutable tree that cannot fail at match time.
//
// It is not for acting on decisions: cases, deadlines and replies are dispatch's.
package classify

import (
	"context"

	"github.com/mashangban/mashangban/model"
)

// Classifier decides where a post goes. Classify never fails on bad input:
// a post it cannot route comes back as a triage decision with a reason.
type Classifier interface {
	Classify(ctx context.Context, p model.Post) model.Decision
}
