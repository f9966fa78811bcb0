// Package rules is the on-disk format of mashangban's routing rules: the
// YAML-facing structs, the strict loader that reports every error at once
// with file:line:col, the rule test-file format, and the directory watcher
// that tells the reload coordinator a rule file changed.
//
// A rule set is a directory of YAML files. The loader reads every *.yaml and
// *.yml file in it in lexical order of the file name, skipping hidden names
// (Kubernetes ConfigMap internals such as "..data"), test files
// (*_test.yaml) and the places file (the file named by "places:", by default
// places.yaml), which is the gazetteer's format and not a rule file. The
// sections of all files are concatenated in that order; route order, which
// decides which route wins, is therefore file order then position in file.
// Singleton sections (acknowledgement, triage, fallback, coordinator, model,
// places) may appear in one file only.
//
// It is not for matching posts: classify compiles a RuleSet into an
// immutable tree. rules imports nothing else of mashangban.
package rules

import (
	"fmt"
	"strings"
	"time"
)

// Pos is where something was written: file, line and column (1-based).
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Error is one problem in a rule file.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors is every problem found by one load, in file and position order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// District is a county-level division that rules may name by code or name.
type District struct {
	Code string
	Name string
}

// MaanshanDistricts are the six county-level divisions of 马鞍山市 (NBS 2023).
var MaanshanDistricts = []District{
	{Code: "340503", Name: "花山区"},
	{Code: "340504", Name: "雨山区"},
	{Code: "340506", Name: "博望区"},
	{Code: "340521", Name: "当涂县"},
	{Code: "340522", Name: "含山县"},
	{Code: "340523", Name: "和县"},
}

// Department levels.
const (
	LevelCity       = "city"
	LevelDistrict   = "district"
	LevelStreet     = "street"
	LevelCommunity  = "community"
	LevelEnterprise = "enterprise"
)

// Priorities a route may set (the same strings as model.Priority).
const (
	PriorityLow    = "low"
	PriorityNormal = "normal"
	PriorityUrgent = "urgent"
)

// Channels an acknowledgement template may be given for.
var Channels = []string{"weibo", "wechat", "replay"}

// SymbolicPrefix starts an assignment target that is resolved per post by
// the post's district: "district.gov" is the department with role "gov" in
// each district the post concerns.
const SymbolicPrefix = "district."

// RuleSet is a loaded and validated rule directory.
type RuleSet struct {
	// Version is a hash of the names and contents of every file that
	// makes up the set (rule files and the places file), in load order.
	Version string
	Dir     string
	Files   []string // rule files in load order (paths as read)

	Districts   []District // the districts rules could name
	Departments []Department
	Categories  []Category
	Routes      []Route

	Ack         map[string]string // channel -> text/template source
	AckPos      Pos               // where the acknowledgement section is; zero without one
	Triage      Triage
	Fallback    Fallback
	Coordinator string // department that leads posts concerning several districts, "" if none
	Model       *ModelRef
	Places      string // path of the places file, "" if none
}

// Department is a unit that can hold an assignment.
type Department struct {
	ID       string
	Name     string
	Level    string
	District string // district code, for district-level and lower units
	Role     string // what symbolic targets call it within its district: "gov", "cgj", ...
	Pos      Pos
}

// Category is a subject of complaints. Categories without a parent are
// top-level groups (the labels evaluation compares at).
type Category struct {
	ID     string
	Name   string
	Parent string // id of a top-level category, "" for a group
	Lead   string // default lead department when the model predicts this category
	Pos    Pos
}

// Route matches posts and assigns them.
type Route struct {
	Name      string
	Match     Match
	Districts []string // district codes the route is limited to; empty means any
	Continue  bool     // after matching, keep trying later routes (co-handling)
	// Certain marks a route whose words name the subject outright: the
	// model's override never overrules it.
	Certain  bool
	Priority string // low, normal (default), urgent
	SLA      *SLA
	Category string
	Assign   Assign
	Pos      Pos
}

// Match is a conjunction: every word of All present, at least one of Any
// (if given), at least one of Phrases (if given), none of None, and the
// Regex (if given) matching the whole text. Words match whole segmented
// words or runs of them; phrases match anywhere in the text.
type Match struct {
	All     []string
	Any     []string
	None    []string
	Phrases []string
	Regex   string // anchored at both ends
}

// Assign names the lead department and the assisting ones, by id or by
// symbolic target (SymbolicPrefix + role).
type Assign struct {
	Lead   string
	Assist []string
}

// SLA overrides the deadline policy for a route's cases.
type SLA struct {
	Claim time.Duration
	Reply time.Duration
	Close time.Duration
}

// Triage is when a decision is left to a person.
type Triage struct {
	// Threshold is the lowest model confidence acted on automatically.
	Threshold float64
	// UnknownDistrict sends a post whose district cannot be found to triage.
	UnknownDistrict bool
}

// Fallback is the explicit catch-all: posts no route and no model settle.
type Fallback struct {
	Name     string
	Category string
	Pos      Pos
}

// ModelRef names the learned fallback model.
type ModelRef struct {
	File      string // resolved against the rule directory
	Threshold float64
	// Override, if set, lets a model answer at least this confident
	// overrule a matched route whose top-level category differs from the
	// model's: keyword routes misfire on long letters that mention many
	// subjects. 0 means routes always win.
	Override float64
	Labels   map[string]ModelLabel // model label -> category and lead
	Pos      Pos
}

// ModelLabel maps one model label to a category and/or lead department.
type ModelLabel struct {
	Category string
	Lead     string
}

// Department returns the department with id, if any.
func (rs *RuleSet) Department(id string) (Department, bool) {
	for _, d := range rs.Departments {
		if d.ID == id {
			return d, true
		}
	}
	return Department{}, false
}

// Category returns the category with id, if any.
func (rs *RuleSet) Category(id string) (Category, bool) {
	for _, c := range rs.Categories {
		if c.ID == id {
			return c, true
		}
	}
	return Category{}, false
}

// DistrictByRef finds a district by code or name.
func DistrictByRef(ds []District, ref string) (District, bool) {
	for _, d := range ds {
		if d.Code == ref || d.Name == ref {
			return d, true
		}
	}
	return District{}, false
}
