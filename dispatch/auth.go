package dispatch

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mashangban/mashangban/model"
	"github.com/mashangban/mashangban/store"
)

// ErrUnauthorized is Authenticate's answer to an empty or unknown token.
var ErrUnauthorized = errUnauthorized

// Authenticate maps a department's or the office's token to its actor, as
// the API does with a bearer token: the configured tokens first, then those
// stored in the database (hashes only in both). An unknown token is
// ErrUnauthorized; any other error is the store's.
func (d *Dispatcher) Authenticate(ctx context.Context, token string) (Actor, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Actor{}, ErrUnauthorized
	}
	h := hashToken(token)
	if dep, ok := d.ids.Load().tokens[h]; ok {
		return Actor{ID: dep.ID, Supervisor: dep.Supervisor}, nil
	}
	dt, err := d.st.DepartmentByToken(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, ErrUnauthorized
	}
	if err != nil {
		return Actor{}, err
	}
	return Actor{ID: dt.Department, Supervisor: dt.Role == "supervisor"}, nil
}

// DepartmentName is the name of a department as replies give it, "" when
// no name is known.
func (d *Dispatcher) DepartmentName(id string) string { return d.deptName(id, nil) }

// Departments are the departments that can hold work, by ID: the rule
// set's and the configured ones (not the office).
func (d *Dispatcher) Departments() []model.Department {
	all := maps.Clone(d.ids.Load().known)
	if d.opts.DepartmentNames != nil {
		for id := range d.opts.DepartmentNames() {
			all[id] = true
		}
	}
	ids := slices.Sorted(maps.Keys(all))
	out := make([]model.Department, 0, len(ids))
	for _, id := range ids {
		out = append(out, model.Department{ID: id, Name: d.deptName(id, nil)})
	}
	return out
}

// Names are the department names by ID, the rule set's with the
// configuration's overrides (for BuildReport).
func (d *Dispatcher) Names() map[string]string { return d.departmentNames() }

// Now is the dispatcher's clock.
func (d *Dispatcher) Now() time.Time { return d.now() }

// Location is the zone of case numbers and report weeks.
func (d *Dispatcher) Location() *time.Location { return d.opts.Location }
