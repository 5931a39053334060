// Package opsapi is the HTTP API for departments (docs/rules.md R3, R4, R6; issue
// 3 item 1) and agent presence (R4; issue 3 item 2):
//
//	GET    /v1/departments             list (ops)
//	PUT    /v1/departments             apply the whole set; ?prune=true deletes missing ones; ?dry_run=true plans (ops)
//	GET    /v1/departments/{id}        one department (ops)
//	PUT    /v1/departments/{id}        create or replace one (ops)
//	DELETE /v1/departments/{id}        delete one (ops)
//	PUT    /v1/agents/{id}/presence    {"status":"online|away|offline"}; also the heartbeat (desk)
//
// It does not authenticate: each Route names the roles it admits, and the
// wiring wraps it (httpapi.Authenticator.Require). Department bodies are
// ticketing.Department in JSON: its field names are the contract, the same
// the YAML file of `chatgate departments apply` uses.
//
// Errors are JSON {"error":{"code","message","details"}} like every
// chatgate route; for an invalid department the details name each field,
// e.g. {"field":"departments[1].schedule.monday[0]","department":"sales",
// "message":"\"13:00-12:00\" ends before it starts …"}.
package opsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway"
	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/ticketing"
)

// Error codes of these routes, besides httpapi's shared ones.
const (
	// CodeDepartmentNotFound: no department with that id (404).
	CodeDepartmentNotFound = "department_not_found"
	// CodeInvalidDepartment: a department, or the set as a whole, breaks
	// validation rules; details name each field (422).
	CodeInvalidDepartment = "invalid_department"
	// CodeInvalidPresence: an unknown presence status (422).
	CodeInvalidPresence = "invalid_presence"
	// CodeInvalidParameter: a query parameter has a value the route does not
	// accept, or a path {id} breaks its id rule (400).
	CodeInvalidParameter = "invalid_parameter"
)

// MaxSetBytes bounds the body of PUT /v1/departments: a set of a few
// hundred departments with texts in several languages fits.
const MaxSetBytes int64 = 4 << 20

// Service is what the handlers need of ticketing.Service.
type Service interface {
	ApplyDepartments(ctx context.Context, deps []ticketing.Department, prune bool) (ticketing.DepartmentChanges, error)
	DeleteDepartment(ctx context.Context, id string) error
	Departments(ctx context.Context) ([]ticketing.Department, error)
	Department(ctx context.Context, id string) (ticketing.Department, error)
	SetPresence(ctx context.Context, agentID string, status ticketing.PresenceStatus) error
}

var _ Service = (*ticketing.Service)(nil)

// Handlers serves the department and presence routes.
type Handlers struct {
	// Service applies the changes. Required.
	Service Service
	// Plan answers ?dry_run=true: the same service on a store that only
	// reports what would change (NewPlanService). Nil: dry runs are refused.
	Plan Service
	// PresenceTTL is how long an "online" counts without a new PUT (the
	// service's Config.PresenceTTL); it is told to the desk so it knows how
	// often to refresh. Zero: ticketing.DefaultPresenceTTL.
	PresenceTTL time.Duration
	// Logger receives changes (info) and failures (error); nil discards.
	Logger *slog.Logger
}

// Route is one pattern of the API, its unauthenticated handler, and the
// roles that may use it.
type Route struct {
	// Pattern is a ServeMux pattern, e.g. "GET /v1/departments/{id}".
	Pattern string
	// Handler serves it.
	Handler http.Handler
	// Roles admitted by the route.
	Roles []httpapi.Role
}

// Routes returns every route, in a stable order, for the wiring to wrap
// with authentication and mount.
func (h *Handlers) Routes() []Route {
	ops := []httpapi.Role{httpapi.RoleOps}
	// A desk service reports any agent; an agent's (or supervisor's) own
	// client reports that agent only.
	presence := []httpapi.Role{httpapi.RoleDesk, httpapi.RoleAgent, httpapi.RoleSupervisor}
	return []Route{
		{"GET /v1/departments", http.HandlerFunc(h.list), ops},
		{"PUT /v1/departments", http.HandlerFunc(h.applySet), ops},
		{"GET /v1/departments/{id}", http.HandlerFunc(h.get), ops},
		{"PUT /v1/departments/{id}", http.HandlerFunc(h.put), ops},
		{"DELETE /v1/departments/{id}", http.HandlerFunc(h.delete), ops},
		{"PUT /v1/agents/{id}/presence", http.HandlerFunc(h.presence), presence},
	}
}

// Mount registers every route with mount, each wrapped by wrap with its
// roles (nil wrap: as is), for example:
//
//	h.Mount(srv.Handle, func(h http.Handler, roles ...httpapi.Role) http.Handler { return auth.Require(h, roles...) })
func (h *Handlers) Mount(mount func(pattern string, h http.Handler), wrap func(h http.Handler, roles ...httpapi.Role) http.Handler) {
	for _, rt := range h.Routes() {
		handler := rt.Handler
		if wrap != nil {
			handler = wrap(handler, rt.Roles...)
		}
		mount(rt.Pattern, handler)
	}
}

// SetBody is the body of GET and PUT /v1/departments: the whole set, so a
// GET answer can be edited and sent back.
type SetBody struct {
	Departments []ticketing.Department `json:"departments"`
}

// ApplyResult is the answer of PUT /v1/departments: the ids of the
// departments by what happened to them (never null), and whether it was a
// dry run (nothing written).
type ApplyResult struct {
	Created   []string `json:"created"`
	Updated   []string `json:"updated"`
	Deleted   []string `json:"deleted"`
	Unchanged []string `json:"unchanged"`
	DryRun    bool     `json:"dry_run"`
}

func newApplyResult(ch ticketing.DepartmentChanges, dryRun bool) ApplyResult {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return ApplyResult{Created: nonNil(ch.Created), Updated: nonNil(ch.Updated), Deleted: nonNil(ch.Deleted),
		Unchanged: nonNil(ch.Unchanged), DryRun: dryRun}
}

// PresenceBody is the body of PUT /v1/agents/{id}/presence.
type PresenceBody struct {
	// Status is online, away or offline.
	Status ticketing.PresenceStatus `json:"status"`
}

// PresenceResult is the answer of PUT /v1/agents/{id}/presence. An online
// agent stops counting as reachable TTLSeconds after the last PUT: a desk
// refreshes well within it (every TTL/3, say).
type PresenceResult struct {
	AgentID    string                   `json:"agent_id"`
	Status     ticketing.PresenceStatus `json:"status"`
	TTLSeconds int                      `json:"ttl_seconds"`
}

func (h *Handlers) list(w http.ResponseWriter, r *http.Request) {
	deps, err := h.Service.Departments(r.Context())
	if err != nil {
		h.fail(w, r, err, nil)
		return
	}
	if deps == nil {
		deps = []ticketing.Department{}
	}
	httpapi.WriteJSON(w, http.StatusOK, SetBody{Departments: deps})
}

// pathID returns the route's {id}, or answers 400 invalid_parameter naming
// it when it is not a department id: no department has it, and it must not
// reach the store (R38: /v1/departments/%00 answered 500).
func pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if problem := ticketing.CheckDepartmentID(id); problem != "" {
		writeError(w, http.StatusBadRequest, CodeInvalidParameter, "the path does not name a department",
			[]Detail{{Field: "id", Message: problem}})
		return "", false
	}
	return id, true
}

func (h *Handlers) get(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	d, err := h.Service.Department(r.Context(), id)
	if err != nil {
		h.fail(w, r, err, nil)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, d)
}

// put creates or replaces one department; the others are left alone. It
// answers 201 with Location when the department is new, else 200, with
// the department as stored (language tags normalized).
func (h *Handlers) put(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var d ticketing.Department
	if err := httpapi.DecodeJSON(w, r, MaxSetBytes, &d); err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	if d.ID == "" {
		d.ID = id
	}
	if d.ID != id {
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidDepartment, "the department's id does not match the path",
			[]Detail{{Field: "id", Department: id, Message: fmt.Sprintf("%q does not match the path's %q; a department cannot be renamed (create the new one, then delete the old)", d.ID, id)}})
		return
	}
	ch, err := h.Service.ApplyDepartments(r.Context(), []ticketing.Department{d}, false)
	if err != nil {
		h.fail(w, r, err, nil)
		return
	}
	stored, err := h.Service.Department(r.Context(), id)
	if err != nil {
		h.fail(w, r, err, nil)
		return
	}
	h.logChanges(r, ch)
	if len(ch.Created) > 0 {
		w.Header().Set("Location", "/v1/departments/"+url.PathEscape(id))
		httpapi.WriteJSON(w, http.StatusCreated, stored)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, stored)
}

// applySet applies the whole set declaratively: ?prune=true also deletes
// the stored departments missing from it; ?dry_run=true writes nothing and
// answers what would change.
func (h *Handlers) applySet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var bad []Detail
	flag := func(name string) bool {
		v := q.Get(name)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad = append(bad, Detail{Field: name, Message: fmt.Sprintf("%q is not true or false", v)})
		}
		return b
	}
	prune, dryRun := flag("prune"), flag("dry_run")
	if dryRun && h.Plan == nil {
		bad = append(bad, Detail{Field: "dry_run", Message: "dry runs are not available on this server"})
	}
	if len(bad) > 0 {
		writeError(w, http.StatusBadRequest, CodeInvalidParameter, "invalid query parameters", bad)
		return
	}
	var body struct {
		Departments *[]ticketing.Department `json:"departments"`
	}
	if err := httpapi.DecodeJSON(w, r, MaxSetBytes, &body); err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	if body.Departments == nil {
		// A missing set must not read as "no departments": with prune,
		// that would delete them all.
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidDepartment, "the body has no department set",
			[]Detail{{Field: "departments", Message: "is required: a list of departments ([] to mean none)"}})
		return
	}
	deps := *body.Departments
	svc := h.Service
	if dryRun {
		svc = h.Plan
	}
	ch, err := svc.ApplyDepartments(r.Context(), deps, prune)
	if err != nil {
		h.fail(w, r, err, deps)
		return
	}
	if !dryRun {
		h.logChanges(r, ch)
	}
	httpapi.WriteJSON(w, http.StatusOK, newApplyResult(ch, dryRun))
}

func (h *Handlers) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if err := h.Service.DeleteDepartment(r.Context(), id); err != nil {
		h.fail(w, r, err, nil)
		return
	}
	h.logger().InfoContext(r.Context(), "department deleted", "department", id)
	w.WriteHeader(http.StatusNoContent)
}

// presence records an agent's status. Every PUT is also the agent's
// heartbeat, so a desk repeats it while the agent is online; a desk that
// crashes stops repeating it and the agent stops counting after the TTL.
func (h *Handlers) presence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if problem := gateway.CheckAgentID(id); problem != "" {
		// R38: /v1/agents/%00/presence answered 500.
		writeError(w, http.StatusBadRequest, CodeInvalidParameter, "the path does not name an agent", []Detail{{Field: "id", Message: problem}})
		return
	}
	if p, ok := httpapi.PrincipalFrom(r.Context()); ok && p.Role.ActsAsAgent() && p.Agent != id {
		writeError(w, http.StatusForbidden, "not_permitted", fmt.Sprintf("this token belongs to agent %q and may report only that agent's presence", p.Agent), nil)
		return
	}
	var body PresenceBody
	if err := httpapi.DecodeJSON(w, r, 0, &body); err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	if !body.Status.Valid() {
		msg := fmt.Sprintf("%q is not one of online, away, offline", body.Status)
		if body.Status == "" {
			msg = "is required: online, away or offline"
		}
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidPresence, "invalid presence", []Detail{{Field: "status", Message: msg}})
		return
	}
	if err := h.Service.SetPresence(r.Context(), id, body.Status); err != nil {
		h.fail(w, r, err, nil)
		return
	}
	ttl := h.PresenceTTL
	if ttl <= 0 {
		ttl = ticketing.DefaultPresenceTTL
	}
	h.logger().DebugContext(r.Context(), "agent presence", "agent", id, "status", body.Status)
	httpapi.WriteJSON(w, http.StatusOK, PresenceResult{AgentID: id, Status: body.Status, TTLSeconds: int(ttl / time.Second)})
}

func (h *Handlers) logChanges(r *http.Request, ch ticketing.DepartmentChanges) {
	if len(ch.Created)+len(ch.Updated)+len(ch.Deleted) == 0 {
		return
	}
	h.logger().InfoContext(r.Context(), "departments changed", "created", ch.Created, "updated", ch.Updated, "deleted", ch.Deleted)
}

// Detail names one problem with one field. Field is the JSON path in the
// request body; Department is the id of the department at fault, when one is.
type Detail struct {
	Field      string `json:"field"`
	Department string `json:"department,omitempty"`
	Message    string `json:"message"`
}

type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []Detail `json:"details,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, message string, details []Detail) {
	httpapi.WriteJSON(w, status, errorBody{Error: errorPayload{Code: code, Message: message, Details: details}})
}

// fail is the one place that maps the service's errors to HTTP answers.
// set is the body of a whole-set PUT, to name fields by their index in it.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error, set []ticketing.Department) {
	var httpErr *httpapi.Error
	switch {
	case errors.As(err, &httpErr):
		httpapi.WriteErrorFrom(w, err)
	case errors.Is(err, ticketing.ErrInvalidDepartment):
		details := ValidationDetails(err, set)
		msg := "the department breaks validation rules"
		if set != nil {
			msg = "the department set breaks validation rules; nothing was applied"
		}
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidDepartment, msg, details)
	case errors.Is(err, ticketing.ErrDepartmentNotFound):
		writeError(w, http.StatusNotFound, CodeDepartmentNotFound, err.Error(), nil)
	case errors.Is(err, ticketing.ErrInvalidPresence):
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidPresence, err.Error(), []Detail{{Field: "status", Message: err.Error()}})
	default:
		h.logger().ErrorContext(r.Context(), "department request failed", "method", r.Method, "route", r.Pattern, "err", err)
		httpapi.WriteErrorFrom(w, err)
	}
}

// ValidationDetails lists every problem of the *ticketing.ValidationError
// values in err's tree, one Detail per field. With set (the departments of
// a whole-set request), fields of a department in it are prefixed with
// its index, "departments[2].time_zone"; problems of a stored department
// that is not in set (a clash with it) keep the bare field name and say
// which department in Department.
func ValidationDetails(err error, set []ticketing.Department) []Detail {
	index := map[string]int{}
	for i, d := range set {
		if _, dup := index[d.ID]; !dup {
			index[d.ID] = i
		}
	}
	var out []Detail
	for _, ve := range validationErrors(err) {
		for _, p := range ve.Problems {
			field, msg, ok := strings.Cut(p, ": ")
			if !ok {
				field, msg = "", p
			}
			if i, in := index[ve.Department]; in && set != nil {
				if field == "" {
					field = fmt.Sprintf("departments[%d]", i)
				} else {
					field = fmt.Sprintf("departments[%d].%s", i, field)
				}
			}
			out = append(out, Detail{Field: field, Department: ve.Department, Message: msg})
		}
	}
	if len(out) == 0 {
		out = append(out, Detail{Message: err.Error()})
	}
	return out
}

// validationErrors walks err's tree (errors.Join and %w) for every
// *ticketing.ValidationError, in order.
func validationErrors(err error) []*ticketing.ValidationError {
	if err == nil {
		return nil
	}
	if ve, ok := err.(*ticketing.ValidationError); ok {
		return []*ticketing.ValidationError{ve}
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		var out []*ticketing.ValidationError
		for _, e := range u.Unwrap() {
			out = append(out, validationErrors(e)...)
		}
		return out
	case interface{ Unwrap() error }:
		return validationErrors(u.Unwrap())
	}
	return nil
}

func (h *Handlers) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
