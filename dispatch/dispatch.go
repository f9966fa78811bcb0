// Package dispatch turns routing decisions into cases and assignments,
// merges repeats of the same problem, runs the deadline clock with its
// reminders and cards, sends acknowledgements and progress replies to
// citizens through the outbox, and serves the department API and the weekly
// report.
//
// It is not for deciding where a post goes (classify does that) nor for
// talking to the platforms (the ingest adapters implement reply.Replier);
// the SQL lives in store.
//
// The design (one transaction per decision, how repeats are found, triage,
// the fair deadline clock, transfers and the reply outbox) is described in
// docs/architecture.md.
package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/notify"
	"github.com/mashangban/mashangban/reply"
	"github.com/mashangban/mashangban/store"
)

// Options configure a Dispatcher. Zero values take the defaults named.
type Options struct {
	// RepeatWindow is how far back open cases are looked at for repeats
	// (default 7 days). RepeatCandidates caps how many of the open cases the
	// repeat index offers are compared, newest first (default 500).
	RepeatWindow     time.Duration
	RepeatCandidates int
	// DefaultSLA applies when a decision carries no route override
	// (default model.DefaultSLA), under PolicyVersion (default "seed-2026").
	DefaultSLA    model.SLA
	PolicyVersion string
	// Location is the zone of case-number dates and report weeks
	// (default Asia/Shanghai).
	Location *time.Location
	// ReminderLead is how long before a deadline the reminder goes out
	// (default 4h; negative disables reminders).
	ReminderLead time.Duration
	// NoCards lists cards not to issue (the seed city issues all three:
	// yellow for a missed claim, orange for a missed first reply, red for a
	// missed close).
	NoCards []model.Card
	// Departments are the API's users; when any non-supervisor is listed,
	// transfers and routing accept only these. A Name given here overrides
	// the rule set's.
	Departments []DepartmentAuth
	// DepartmentNames returns the current rule set's department names by
	// ID: the names replies, reports and the API show. Transfers and
	// routing accept any of these departments, with or without an API
	// token. Nil: only the names in Departments and in decisions are known,
	// and only configured departments receive work.
	DepartmentNames func() map[string]string
	// CategoryNames returns the current rule set's category names by ID,
	// for replies and reports (nil: IDs are shown).
	CategoryNames func() map[string]string
	// Texts is the reply template set (default: the built-in one).
	Texts *reply.Set
	// PublicBaseURL, when set, puts the case's public page
	// (<PublicBaseURL>/c/<case number>) into the replies that name a case.
	PublicBaseURL string
	// Sender tuning: Lease is how long a recorded attempt blocks others
	// (default 2m); RetryBase and RetryMax bound the backoff (5s, 30m);
	// MaxAttempts then marks the reply failed (default 12); PollEvery is how
	// often the outbox is read when idle (default 1s).
	Lease       time.Duration
	RetryBase   time.Duration
	RetryMax    time.Duration
	MaxAttempts int
	PollEvery   time.Duration
	// Rates overrides a channel's send rate (default: the replier's own Rate
	// and Burst methods when it has them, else 1/s).
	Rates map[model.Channel]rate.Limit
	// Notify gives the webhook of each department that takes notices (new
	// assignments, reminders, cards), by department ID; NotifyHTTP is the
	// client that posts them (default: 10s timeout). CaseURL, when set, is
	// the link a notice carries, with {case_no} replaced.
	Notify     map[string]notify.Target
	NotifyHTTP *http.Client
	CaseURL    string
	// WeChat names the subscribe-message template's keys.
	WeChat WeChatFields
	// Now is the clock (default time.Now); tests inject a fake.
	Now func() time.Time
}

// DepartmentAuth is a department (or supervisor) known to the API.
type DepartmentAuth struct {
	ID   string
	Name string
	// Token is the bearer token; only its SHA-256 is kept.
	Token string
	// Supervisor sees and acts on everything and routes triage.
	Supervisor bool
}

// WeChatFields are the keyword names of the subscribe-message template used
// for replies (see the WeChat reference, §3.6): Title (thing, ≤20
// characters), CaseNo (character_string, ≤32), Status (phrase, ≤5 Chinese
// characters), Time (time), Department (thing, ≤20; empty: not sent).
type WeChatFields struct {
	Title, CaseNo, Status, Time, Department string
}

// Dispatcher is safe for concurrent use.
type Dispatcher struct {
	st    *store.Store
	opts  Options
	log   *slog.Logger
	m     *metrics
	texts *reply.Set // reply templates
	// ids are the configured identities; SetDepartments replaces them
	// whole, so a reader sees either the old set or the new one.
	ids  atomic.Pointer[identities]
	skip map[string]bool // notice kinds not issued

	wakeMu sync.Mutex
	wakeCh chan struct{} // closed and replaced when a reply is queued
}

// New makes a Dispatcher on st. reg may be nil (no metrics registered).
func New(st *store.Store, opts Options, logger *slog.Logger, reg prometheus.Registerer) *Dispatcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.RepeatWindow <= 0 {
		opts.RepeatWindow = 7 * 24 * time.Hour
	}
	if opts.RepeatCandidates <= 0 {
		opts.RepeatCandidates = 500
	}
	if opts.DefaultSLA == (model.SLA{}) {
		opts.DefaultSLA = model.DefaultSLA
	}
	if opts.PolicyVersion == "" {
		opts.PolicyVersion = "seed-2026"
	}
	if opts.Location == nil {
		opts.Location = model.Shanghai
	}
	if opts.ReminderLead == 0 {
		opts.ReminderLead = 4 * time.Hour
	}
	if opts.Lease <= 0 {
		opts.Lease = 2 * time.Minute
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 5 * time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 30 * time.Minute
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 12
	}
	if opts.PollEvery <= 0 {
		opts.PollEvery = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.WeChat = opts.WeChat.withDefaults()
	if opts.Texts == nil {
		opts.Texts = reply.Default()
	}
	d := &Dispatcher{
		texts:  opts.Texts,
		st:     st,
		opts:   opts,
		log:    logger.With("component", "dispatch"),
		m:      newMetrics(reg),
		skip:   map[string]bool{},
		wakeCh: make(chan struct{}),
	}
	for _, c := range opts.NoCards {
		d.skip[string(c)] = true
	}
	if opts.ReminderLead < 0 {
		for _, k := range []string{store.NoticeRemindClaim, store.NoticeRemindReply, store.NoticeRemindClose} {
			d.skip[k] = true
		}
	}
	d.ids.Store(newIdentities(opts.Departments))
	d.opts.Departments = nil // no tokens kept in clear
	return d
}

// identities are the configured departments and supervisors.
type identities struct {
	tokens map[string]DepartmentAuth // by hex SHA-256 of the token
	names  map[string]string         // department id → name given in the configuration
	known  map[string]bool           // configured departments (not supervisors)
	// configured holds every configured identity with a token.
	configured map[string]bool
}

func newIdentities(deps []DepartmentAuth) *identities {
	ids := &identities{tokens: map[string]DepartmentAuth{}, names: map[string]string{}, known: map[string]bool{}, configured: map[string]bool{}}
	for _, dep := range deps {
		if dep.Name != "" {
			ids.names[dep.ID] = dep.Name
		}
		if !dep.Supervisor {
			ids.known[dep.ID] = true
		}
		if dep.Token != "" {
			ids.configured[dep.ID] = true
			h := hashToken(dep.Token)
			dep.Token = ""
			ids.tokens[h] = dep
		}
	}
	return ids
}

// SetDepartments replaces the configured departments and supervisors (a
// reload of the configuration) and then saves their tokens as SaveTokens
// does: the tokens of departments no longer listed are refused from now on,
// by this dispatcher at once and by the others on the database once the
// store has dropped them.
func (d *Dispatcher) SetDepartments(ctx context.Context, deps []DepartmentAuth) error {
	d.ids.Store(newIdentities(deps))
	return d.SaveTokens(ctx)
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// now is the dispatcher's clock at the stores' precision.
func (d *Dispatcher) now() time.Time { return d.opts.Now().UTC().Truncate(time.Microsecond) }

// ErrInvalid marks a decision or request that cannot be acted on.
var ErrInvalid = errors.New("invalid")

// errHandled rolls back a transaction that found the post already handled
// by a concurrent dispatcher.
var errHandled = errors.New("post already handled")

// Handle acts on one decision: a new case, a merge into an open case, or a
// triage entry, each with its events and queued reply, in one transaction.
// A decision for a post already handled is a no-op. Errors are store
// errors (retry) or ErrInvalid (dead-letter).
func (d *Dispatcher) Handle(ctx context.Context, dec model.Decision) error {
	start := time.Now()
	if dec.Post.ID == "" {
		d.m.decisions.WithLabelValues("invalid").Inc()
		return fmt.Errorf("dispatch: decision without post id: %w", ErrInvalid)
	}
	dec = withoutNUL(dec)
	var outcome, caseNo string
	var queued bool
	apply := func(tx store.Tx) error {
		outcome, caseNo, queued = "", "", false
		handled, err := d.st.PostHandled(ctx, tx, dec.Post.ID)
		if err != nil {
			return err
		}
		if handled {
			outcome = "duplicate"
			conflict, err := d.keepConflict(ctx, tx, dec)
			if conflict {
				outcome = "conflict"
			}
			return err
		}
		if _, err := d.st.InsertPost(ctx, tx, dec.Post); err != nil {
			return err
		}
		now := d.now()
		if dec.Triage || dec.Lead == nil || dec.Lead.ID == "" {
			outcome = "triage"
			queued = true
			return d.toTriage(ctx, tx, dec, now)
		}
		res, err := d.place(ctx, tx, dec, now, store.ReplyAck, "system")
		outcome, caseNo, queued = res.outcome, res.caseNo, true
		return err
	}
	err := d.st.DB.InTx(ctx, apply)
	if errors.Is(err, errHandled) {
		// A concurrent dispatcher handled the post first (the same ID from
		// another partition): run again, now as a duplicate, so that another
		// text under that ID is still kept as a conflicting duplicate.
		err = d.st.DB.InTx(ctx, apply)
	}
	if errors.Is(err, errHandled) {
		outcome, err = "duplicate", nil
	}
	if err != nil {
		d.m.decisions.WithLabelValues("error").Inc()
		return fmt.Errorf("dispatch %q: %w", dec.Post.ID, err)
	}
	if outcome == "conflict" {
		d.m.conflicts.Inc()
		d.log.WarnContext(ctx, "conflicting duplicate kept as a dead letter", "post_id", dec.Post.ID)
		outcome = "duplicate"
	}
	d.m.decisions.WithLabelValues(outcome).Inc()
	d.m.handleSeconds.Observe(time.Since(start).Seconds())
	if queued {
		d.notifySender()
	}
	switch outcome {
	case "case":
		d.log.InfoContext(ctx, "case opened", "case_no", caseNo, "post_id", dec.Post.ID, "district", dec.DistrictKey(),
			"lead", dec.Lead.ID, "category", dec.Category, "rule_set", dec.RuleSetVersion)
	case "repeat":
		d.log.InfoContext(ctx, "repeat merged", "case_no", caseNo, "post_id", dec.Post.ID)
	case "triage":
		d.log.InfoContext(ctx, "sent to triage", "post_id", dec.Post.ID, "reason", dec.TriageReason)
	default:
		d.log.DebugContext(ctx, "decision handled", "post_id", dec.Post.ID, "outcome", outcome)
	}
	return nil
}

// keepConflict checks a decision whose post ID is already handled. The
// same text again is a redelivery or a repeated page and changes nothing;
// another text under the same ID (a platform that reuses IDs, an edited
// post, two replay files that number their lines alike) is kept as a dead
// letter with both texts, keyed by the ID and the new text, so that each
// other text is kept once however often it is delivered. conflict says
// whether a new letter was recorded (in tx, so it commits with nothing else).
func (d *Dispatcher) keepConflict(ctx context.Context, tx store.Tx, dec model.Decision) (conflict bool, err error) {
	stored, err := d.st.PostText(ctx, tx, dec.Post.ID)
	if errors.Is(err, store.ErrNotFound) || err == nil && stored == dec.Post.Text {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	raw, err := json.Marshal(struct {
		StoredText string     `json:"stored_text"`
		Post       model.Post `json:"post"`
	}{stored, dec.Post})
	if err != nil {
		raw = []byte(dec.Post.Text)
	}
	sum := sha256.Sum256([]byte(dec.Post.Text))
	return d.st.AddDeadLetterQ(ctx, tx, model.DeadLetter{
		Stage:  "dispatch",
		Source: dec.Post.Source,
		Key:    dec.Post.ID + "#text:" + hex.EncodeToString(sum[:8]),
		Reason: "conflicting duplicate: post ID already handled with another text; the stored and the new text are in this record",
		Raw:    raw,
	})
}

// withoutNUL drops NUL characters from the texts of a decision: valid UTF-8,
// but PostgreSQL's text type refuses them, and a post that can never be
// stored would be redelivered forever.
func withoutNUL(dec model.Decision) model.Decision {
	clean := func(s string) string { return strings.ReplaceAll(s, "\x00", "") }
	p := &dec.Post
	p.Text, p.Author.ID, p.Author.Name, p.Region, p.URL, p.NativeID = clean(p.Text), clean(p.Author.ID), clean(p.Author.Name), clean(p.Region), clean(p.URL), clean(p.NativeID)
	if p.Geo != nil {
		g := *p.Geo
		g.System = clean(g.System)
		p.Geo = &g
	}
	dec.Category, dec.TriageReason = clean(dec.Category), clean(dec.TriageReason)
	toks := make([]string, len(dec.Tokens))
	for i, t := range dec.Tokens {
		toks[i] = clean(t)
	}
	dec.Tokens = toks
	return dec
}

// notifySender wakes every sender worker: replies were queued.
func (d *Dispatcher) notifySender() {
	d.wakeMu.Lock()
	close(d.wakeCh)
	d.wakeCh = make(chan struct{})
	d.wakeMu.Unlock()
}

func (d *Dispatcher) wakeC() <-chan struct{} {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	return d.wakeCh
}

// placed is what place did with a post.
type placed struct {
	outcome string // "case" or "repeat"
	caseID  int64
	caseNo  string
}

// place puts a routed decision's post into a case: an open repeat's, or a
// new one. replyKind is the kind of the reply that tells the citizen (ack,
// or progress when an ack went out already from triage).
func (d *Dispatcher) place(ctx context.Context, tx store.Tx, dec model.Decision, now time.Time, replyKind, actor string) (placed, error) {
	fp := fingerprintOf(dec)
	district := ""
	if len(dec.Districts) > 0 {
		district = dec.Districts[0].Code
	}
	if district != "" {
		probe := store.RepeatProbe{District: district, Tokens: fp.Words, SimHash: fp.SimHash, Place: fp.Place, Category: fp.Category}
		cands, err := d.st.RepeatCandidates(ctx, tx, probe, now.Add(-d.opts.RepeatWindow), d.opts.RepeatCandidates)
		if err != nil {
			return placed{}, err
		}
		bestScore, best := -1.0, -1
		for i, c := range cands {
			ok, s := isRepeat(fp, fingerprint{Words: c.Tokens, SimHash: c.SimHash, Place: c.Place, Category: c.Category})
			if ok && s > bestScore {
				bestScore, best = s, i
			}
		}
		if best >= 0 {
			c := cands[best]
			return placed{outcome: "repeat", caseID: c.ID, caseNo: c.No}, d.attach(ctx, tx, dec, c, bestScore, now, replyKind, actor)
		}
	}
	id, no, err := d.newCase(ctx, tx, dec, fp, district, now, replyKind, actor)
	return placed{outcome: "case", caseID: id, caseNo: no}, err
}

func (d *Dispatcher) attach(ctx context.Context, tx store.Tx, dec model.Decision, c store.RepeatCandidate, score float64, now time.Time, replyKind, actor string) error {
	ok, err := d.st.AddCasePost(ctx, tx, store.CasePost{PostID: dec.Post.ID, CaseID: c.ID, Role: store.CasePostRepeat, Score: score, MergedAt: now})
	if err != nil {
		return err
	}
	if !ok {
		return errHandled
	}
	if err := d.st.TouchCase(ctx, tx, c.ID, now); err != nil {
		return err
	}
	posts, err := d.st.CasePosts(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	if err := d.event(ctx, tx, store.Event{At: now, Kind: "case.merged", CaseID: &c.ID, PostID: dec.Post.ID, Actor: actor,
		DedupKey: "merge:" + dec.Post.ID}, map[string]any{"case_no": c.No, "score": score}); err != nil {
		return err
	}
	lead := d.citizenName(c.Lead, dec.Lead)
	data := reply.Data{CaseNo: c.No, Lead: lead, District: districtNames(dec.Districts), Category: d.categoryName(dec.Category),
		Count: len(posts), Repeat: true, Link: d.link(c.No)}
	return d.enqueue(ctx, tx, dec.Post, replyKind, reply.Merge, data, dec.AckTemplate, lead, now)
}

func (d *Dispatcher) newCase(ctx context.Context, tx store.Tx, dec model.Decision, fp fingerprint, district string, now time.Time, replyKind, actor string) (int64, string, error) {
	no, err := d.nextCaseNo(ctx, tx, now)
	if err != nil {
		return 0, "", err
	}
	prio := dec.Priority
	if prio == "" {
		prio = model.PriorityNormal
	}
	c := model.Case{No: no, Status: model.CaseOpen, Districts: dec.Districts, Category: dec.Category, Priority: prio,
		Lead: dec.Lead.ID, Summary: dec.Post.Text, FirstPostID: dec.Post.ID, RuleSetVersion: dec.RuleSetVersion, CreatedAt: now}
	id, err := d.st.InsertCase(ctx, tx, store.NewCase{Case: c, District: district, SimHash: fp.SimHash, Tokens: fp.Words, Place: fp.Place})
	if err != nil {
		return 0, "", err
	}
	ok, err := d.st.AddCasePost(ctx, tx, store.CasePost{PostID: dec.Post.ID, CaseID: id, Role: store.CasePostOrigin, MergedAt: now})
	if err != nil {
		return 0, "", err
	}
	if !ok {
		return 0, "", errHandled
	}
	detail := map[string]any{"case_no": no, "lead": dec.Lead.ID, "category": dec.Category, "rule_set_version": dec.RuleSetVersion,
		"confidence": dec.Confidence, "explanation": dec.Explanation}
	if err := d.event(ctx, tx, store.Event{At: now, Kind: "case.created", CaseID: &id, PostID: dec.Post.ID, Actor: actor,
		DedupKey: "case:" + dec.Post.ID}, detail); err != nil {
		return 0, "", err
	}
	sla, policy := d.opts.DefaultSLA, d.opts.PolicyVersion
	if dec.SLA != nil && *dec.SLA != (model.SLA{}) {
		sla, policy = *dec.SLA, "rules:"+dec.RuleSetVersion
	}
	depts := []struct {
		id   string
		role model.Role
	}{{dec.Lead.ID, model.RoleLead}}
	seen := map[string]bool{dec.Lead.ID: true}
	for _, a := range dec.Assist {
		if a.ID != "" && !seen[a.ID] {
			seen[a.ID] = true
			depts = append(depts, struct {
				id   string
				role model.Role
			}{a.ID, model.RoleAssist})
		}
	}
	for _, dep := range depts {
		a := store.Assignment{Assignment: model.Assignment{CaseID: id, Department: dep.id, Role: dep.role,
			State: model.AssignmentPending, PolicyVersion: policy, CreatedAt: now,
			ClaimBy: now.Add(time.Duration(sla.Claim)), ReplyBy: now.Add(time.Duration(sla.Reply)), CloseBy: now.Add(time.Duration(sla.Close))}}
		aid, err := d.st.InsertAssignment(ctx, tx, a)
		if err != nil {
			return 0, "", err
		}
		if err := d.event(ctx, tx, store.Event{At: now, Kind: "assignment.created", CaseID: &id, AssignmentID: &aid, Actor: actor},
			map[string]any{"department": dep.id, "role": dep.role, "policy_version": policy,
				"claim_by": a.ClaimBy, "reply_by": a.ReplyBy, "close_by": a.CloseBy}); err != nil {
			return 0, "", err
		}
		a.ID, a.CaseNo = aid, no
		if err := d.queueNotice(ctx, tx, a, NoticeAssigned, a.ClaimBy, "市民反映："+citizenWords(dec.Post.Text), now); err != nil {
			return 0, "", err
		}
	}
	lead := d.citizenName(dec.Lead.ID, dec.Lead)
	// The acknowledgement states this case's own deadlines, the route's
	// where it has them.
	data := reply.Data{CaseNo: no, Lead: lead, District: districtNames(dec.Districts), Category: d.categoryName(dec.Category),
		Link: d.link(no)}.WithDeadlines(sla)
	return id, no, d.enqueue(ctx, tx, dec.Post, replyKind, reply.Ack, data, dec.AckTemplate, lead, now)
}

// nextCaseNo draws the day's next case number, MSB-YYYYMMDD-NNNN (the date
// in Options.Location), in tx.
func (d *Dispatcher) nextCaseNo(ctx context.Context, tx store.Tx, now time.Time) (string, error) {
	day := now.In(d.opts.Location).Format("20060102")
	n, err := d.st.NextCounter(ctx, tx, "case:"+day)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("MSB-%s-%04d", day, n), nil
}

func (d *Dispatcher) toTriage(ctx context.Context, tx store.Tx, dec model.Decision, now time.Time) error {
	reason := dec.TriageReason
	if reason == "" && (dec.Lead == nil || dec.Lead.ID == "") {
		reason = "no lead department"
	}
	ok, err := d.st.InsertTriage(ctx, tx, store.TriageItem{PostID: dec.Post.ID, Decision: dec, Reason: reason,
		District: districtCode(dec.Districts), CreatedAt: now})
	if err != nil {
		return err
	}
	if !ok {
		return errHandled
	}
	if err := d.event(ctx, tx, store.Event{At: now, Kind: "triage.queued", PostID: dec.Post.ID, Actor: "system",
		DedupKey: "triage:" + dec.Post.ID}, map[string]any{"reason": reason, "confidence": dec.Confidence}); err != nil {
		return err
	}
	day := now.In(d.opts.Location).Format("20060102")
	n, err := d.st.NextCounter(ctx, tx, "triage:"+day)
	if err != nil {
		return err
	}
	ref := fmt.Sprintf("T-%s-%04d", day, n)
	return d.enqueue(ctx, tx, dec.Post, store.ReplyAck, reply.Triage, reply.Data{CaseNo: ref}, "", "", now)
}

// event appends an audit event with detail encoded as JSON.
func (d *Dispatcher) event(ctx context.Context, q store.Querier, e store.Event, detail any) error {
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return fmt.Errorf("event %s: %w", e.Kind, err)
		}
		e.Detail = b
	}
	_, err := d.st.AppendEvent(ctx, q, e)
	return err
}

// deptName is the name of department id: the configuration's override,
// else the rule set's, else the one the decision carried; "" when none is
// known.
func (d *Dispatcher) deptName(id string, dep *model.Department) string {
	if n := d.ids.Load().names[id]; n != "" {
		return n
	}
	if d.opts.DepartmentNames != nil {
		if n := d.opts.DepartmentNames()[id]; n != "" {
			return n
		}
	}
	if dep != nil && dep.ID == id && dep.Name != "" {
		return dep.Name
	}
	return ""
}

// citizenName is how a reply names department id: its name, or "相关部门"
// when none is known; never the code.
func (d *Dispatcher) citizenName(id string, dep *model.Department) string {
	if n := d.deptName(id, dep); n != "" {
		return n
	}
	d.log.Warn("department has no name in the rule set; replies say 相关部门", "department", id)
	return "相关部门"
}

// categoryName is the rule set's name of category id, else id.
func (d *Dispatcher) categoryName(id string) string {
	if d.opts.CategoryNames != nil {
		if n := d.opts.CategoryNames()[id]; n != "" {
			return n
		}
	}
	return id
}

// categoryNames are the rule set's category names by ID.
func (d *Dispatcher) categoryNames() map[string]string {
	if d.opts.CategoryNames == nil {
		return nil
	}
	return d.opts.CategoryNames()
}

// departmentNames are the names of every known department, by ID, for
// reports: the rule set's with the configuration's overrides.
func (d *Dispatcher) departmentNames() map[string]string {
	out := map[string]string{}
	if d.opts.DepartmentNames != nil {
		maps.Copy(out, d.opts.DepartmentNames())
	}
	maps.Copy(out, d.ids.Load().names)
	return out
}

// knows reports whether id may receive an assignment: a department of the
// rule set or of the configuration. With neither listing any department,
// every ID is accepted.
func (d *Dispatcher) knows(id string) bool {
	known := d.ids.Load().known
	if known[id] {
		return true
	}
	var names map[string]string
	if d.opts.DepartmentNames != nil {
		names = d.opts.DepartmentNames()
	}
	if _, ok := names[id]; ok {
		return true
	}
	return len(known) == 0 && len(names) == 0
}

func districtNames(ds []model.District) string {
	names := make([]string, 0, len(ds))
	for _, x := range ds {
		names = append(names, x.Name)
	}
	return strings.Join(names, "、")
}

func districtCode(ds []model.District) string {
	if len(ds) == 0 {
		return ""
	}
	return ds[0].Code
}
