// Package model holds the domain types that travel between mashangban's stages:
// a citizen's Post as ingested, the classifier's Decision about it, and the
// Case and Assignments that dispatch makes of it.
//
// The JSON encodings of these types are the wire format of the posts and
// decisions logs and of the HTTP API. They are stable: fields are only ever
// added, never renamed or removed, and unknown fields are ignored on decode.
// Times are RFC 3339 strings, durations are Go duration strings ("24h").
//
// It is not for behaviour: no I/O and no business rules live here.
package model

import (
	"encoding/json"
	"fmt"
	"time"
)

// Channel is the platform a citizen used and on which the reply goes back.
type Channel string

const (
	ChannelWeibo  Channel = "weibo"
	ChannelWeChat Channel = "wechat"
	ChannelReplay Channel = "replay"
)

// Post is one citizen message as a source returned it.
//
// ID is the global key used everywhere (log key, unique constraints):
// "<channel>:<native id>", e.g. "weibo:5030112233445566" or "wechat:<_id>".
type Post struct {
	ID        string          `json:"id"`
	Source    string          `json:"source"`  // configured source name, e.g. "weibo-mobile"
	Channel   Channel         `json:"channel"` // where the reply goes
	NativeID  string          `json:"native_id"`
	Author    Author          `json:"author"`
	Text      string          `json:"text"`
	Images    []string        `json:"images,omitempty"`
	Geo       *Geo            `json:"geo,omitempty"`
	Region    string          `json:"region,omitempty"` // platform's region hint, e.g. "安徽 马鞍山"
	CreatedAt time.Time       `json:"created_at"`
	FetchedAt time.Time       `json:"fetched_at"`
	URL       string          `json:"url,omitempty"`
	Raw       json.RawMessage `json:"raw,omitempty"` // the platform's body for this post, verbatim
	// Cut names the fields ingest shortened or dropped to fit the posts log
	// ("text", "images", "author.name", …); the whole post as the source
	// returned it is then an ingest dead letter under the post's ID.
	Cut []string `json:"cut,omitempty"`
}

// PostID builds the global key of a post from its channel and native ID.
func PostID(ch Channel, nativeID string) string { return string(ch) + ":" + nativeID }

// Author is who wrote a post. For WeChat, ID is the submitter's openid.
type Author struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Geo is a point. System is "gcj02" (Chinese map providers, the default) or "wgs84".
type Geo struct {
	Lat    float64 `json:"lat"`
	Lon    float64 `json:"lon"`
	System string  `json:"system,omitempty"`
}

// Priority of a decision and of the case it becomes.
type Priority string

const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityUrgent Priority = "urgent"
)

// District is a county-level division of the city (national statistics code and name).
type District struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Department is a unit that can hold an assignment.
type Department struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SLA is a deadline policy: how long a department has to claim, first reply
// to and close an assignment, measured from the assignment's creation.
type SLA struct {
	Claim Duration `json:"claim"`
	Reply Duration `json:"reply"`
	Close Duration `json:"close"`
}

// DefaultSLA is the seed city's rule: claim within 24 hours, answer within
// 72 hours, finish within a week.
var DefaultSLA = SLA{Claim: Duration(24 * time.Hour), Reply: Duration(72 * time.Hour), Close: Duration(7 * 24 * time.Hour)}

// Decision is what the classifier concluded about one post, and why.
type Decision struct {
	Post       Post         `json:"post"`
	Districts  []District   `json:"districts,omitempty"`
	Lead       *Department  `json:"lead,omitempty"`
	Assist     []Department `json:"assist,omitempty"`
	Category   string       `json:"category,omitempty"`
	Priority   Priority     `json:"priority"`
	Confidence float64      `json:"confidence"`
	// Triage is set when the decision must not be acted on automatically
	// (confidence below threshold, district unknown, no route); TriageReason says which.
	Triage       bool   `json:"triage,omitempty"`
	TriageReason string `json:"triage_reason,omitempty"`
	// SLA is a route's override of the default deadline policy; nil means the default.
	SLA *SLA `json:"sla,omitempty"`
	// AckTemplate is the acknowledgement template for the post's channel, from the
	// rule set that made this decision (text/template over reply.Data), or
	// empty: the reply template set's acknowledgement.
	AckTemplate string `json:"ack_template,omitempty"`
	// Tokens is the segmented text (used for repeat detection).
	Tokens         []string    `json:"tokens,omitempty"`
	Explanation    Explanation `json:"explanation"`
	RuleSetVersion string      `json:"rule_set_version"`
	ModelVersion   string      `json:"model_version,omitempty"`
	DecidedAt      time.Time   `json:"decided_at"`
}

// DistrictKey is the decisions log key: the first district's code, or
// "unknown". Keying by district makes one dispatcher own a district at a time.
func (d Decision) DistrictKey() string {
	if len(d.Districts) == 0 {
		return "unknown"
	}
	return d.Districts[0].Code
}

// Explanation records why a decision came out as it did.
type Explanation struct {
	Words  []string     `json:"words,omitempty"`  // segmented words that mattered
	Places []PlaceMatch `json:"places,omitempty"` // places found in the text
	// DistrictBy says how the district was found: "place", "geo", "region", "none".
	DistrictBy string       `json:"district_by,omitempty"`
	Routes     []RouteMatch `json:"routes,omitempty"` // routes that matched, in order
	Model      *ModelScore  `json:"model,omitempty"`
	Fallback   bool         `json:"fallback,omitempty"` // the explicit triage fallback caught it
}

// PlaceMatch is a place name found in a post and what it resolved to.
type PlaceMatch struct {
	Text     string `json:"text"`
	Kind     string `json:"kind"` // district, street, community, road, compound, landmark
	Code     string `json:"code,omitempty"`
	District string `json:"district,omitempty"` // district code it resolves to
}

// RouteMatch is one route that matched and the words that made it match.
type RouteMatch struct {
	Name  string   `json:"name"`
	Words []string `json:"words,omitempty"`
}

// ModelScore is the learned fallback's answer.
type ModelScore struct {
	Label   string             `json:"label"`
	Score   float64            `json:"score"`
	Version string             `json:"version,omitempty"`
	Top     map[string]float64 `json:"top,omitempty"`
}

// CaseStatus is the life of a case.
type CaseStatus string

const (
	CaseOpen     CaseStatus = "open"
	CaseResolved CaseStatus = "resolved"
)

// Case is one problem, reported by one or more posts.
type Case struct {
	ID             int64      `json:"id"`
	No             string     `json:"case_no"`
	Status         CaseStatus `json:"status"`
	Districts      []District `json:"districts,omitempty"`
	Category       string     `json:"category,omitempty"`
	Priority       Priority   `json:"priority"`
	Lead           string     `json:"lead,omitempty"` // department id
	Summary        string     `json:"summary"`        // text of the first post
	FirstPostID    string     `json:"first_post_id"`
	PostIDs        []string   `json:"post_ids,omitempty"`
	RuleSetVersion string     `json:"rule_set_version,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// AssignmentState is where an assignment stands.
type AssignmentState string

const (
	AssignmentPending     AssignmentState = "pending"
	AssignmentClaimed     AssignmentState = "claimed"
	AssignmentReplied     AssignmentState = "replied"
	AssignmentResolved    AssignmentState = "resolved"
	AssignmentTransferred AssignmentState = "transferred"
)

// Role of a department on a case.
type Role string

const (
	RoleLead   Role = "lead"
	RoleAssist Role = "assist"
)

// Card is an escalation for a missed deadline.
type Card string

const (
	CardYellow Card = "yellow" // claim deadline missed
	CardOrange Card = "orange" // first reply deadline missed
	CardRed    Card = "red"    // close deadline missed
)

// Assignment is one department's share of a case, with its deadlines.
type Assignment struct {
	ID            int64           `json:"id"`
	CaseID        int64           `json:"case_id"`
	CaseNo        string          `json:"case_no"`
	Department    string          `json:"department"`
	Role          Role            `json:"role"`
	State         AssignmentState `json:"state"`
	PolicyVersion string          `json:"policy_version"`
	ClaimBy       time.Time       `json:"claim_by"`
	ReplyBy       time.Time       `json:"reply_by"`
	CloseBy       time.Time       `json:"close_by"`
	ClaimedAt     *time.Time      `json:"claimed_at,omitempty"`
	RepliedAt     *time.Time      `json:"replied_at,omitempty"`
	ResolvedAt    *time.Time      `json:"resolved_at,omitempty"`
	Cards         []Card          `json:"cards,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

// Duration is a time.Duration that encodes as a Go duration string in JSON and YAML.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// DeadLetter is input that a stage could not handle, kept with the reason so
// that nothing is dropped silently.
type DeadLetter struct {
	ID     int64
	Stage  string // "ingest", "classify", "dispatch", "reply"
	Source string // configured source name, when known
	// Key identifies the input, usually the post ID. A keyed letter is
	// recorded once per (Stage, Source, Key): the first reason is kept and later
	// ones are ignored, so a message redelivered after a crash does not pile
	// up copies. Letters with an empty Key are all kept.
	Key       string
	Reason    string
	Raw       []byte
	CreatedAt time.Time // zero means now
}
