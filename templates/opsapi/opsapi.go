// Package opsapi is the ops HTTP API for message templates (R30):
// list, get, create, update (a new version), approve, reject, disable,
// delete a draft, and preview with variables, under /v1/templates.
//
// It does not authenticate: the wiring wraps every route of Routes with the
// ops role (httpapi.Authenticator.Require(h, httpapi.RoleOps)).
//
// Errors are JSON {"error":{"code","message","details"}} like every chatgate
// route; details name fields, and here also carry the validation code of
// each (templates.FieldError.Code), so clients can branch per field.
package opsapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatgate/chatgate/gateway/httpapi"
	"github.com/chatgate/chatgate/templates"
)

// Error codes of the template routes, besides httpapi's shared ones.
const (
	// CodeTemplateNotFound: no template (or version) with that name and language (404).
	CodeTemplateNotFound = "template_not_found"
	// CodeTemplateExists: create of a name and language that exist (409).
	CodeTemplateExists = "template_exists"
	// CodeInvalidTemplate: the template breaks validation rules; details name each (422).
	CodeInvalidTemplate = "invalid_template"
	// CodeIllegalTransition: the status change is not allowed from the current status (409).
	CodeIllegalTransition = "illegal_transition"
	// CodeNotADraft: only a draft may be deleted (409).
	CodeNotADraft = "not_a_draft"
	// CodeInvalidVariables: preview variables missing, extra, empty or invalid; details name each (422).
	CodeInvalidVariables = "invalid_variables"
	// CodeLanguageRequired: the template exists in several languages and none was named (400).
	CodeLanguageRequired = "language_required"
	// CodeInvalidParameter: a query parameter (or language) has a value the route does not accept (400).
	CodeInvalidParameter = "invalid_parameter"
)

// Handlers serves the template routes.
type Handlers struct {
	// Store keeps the templates. Required.
	Store templates.Store
	// Now stamps changes; nil lets the store use the database's clock.
	Now func() time.Time
	// Logger receives changes (info) and failures (error); nil discards.
	Logger *slog.Logger
}

// Route is one pattern of the API and its handler, unauthenticated.
type Route struct {
	// Pattern is a ServeMux pattern, e.g. "GET /v1/templates/{name}".
	Pattern string
	// Handler serves it.
	Handler http.Handler
}

// Routes returns every route of the template API, in a stable order, for
// the wiring to wrap with authentication and mount.
func (h *Handlers) Routes() []Route {
	return []Route{
		{"GET /v1/templates", http.HandlerFunc(h.list)},
		{"POST /v1/templates", http.HandlerFunc(h.create)},
		{"GET /v1/templates/{name}", http.HandlerFunc(h.get)},
		{"PUT /v1/templates/{name}", http.HandlerFunc(h.update)},
		{"DELETE /v1/templates/{name}", http.HandlerFunc(h.deleteDraft)},
		{"POST /v1/templates/{name}/approve", h.setStatus(templates.StatusApproved)},
		{"POST /v1/templates/{name}/reject", h.setStatus(templates.StatusRejected)},
		{"POST /v1/templates/{name}/disable", h.setStatus(templates.StatusDisabled)},
		{"POST /v1/templates/{name}/preview", http.HandlerFunc(h.preview)},
	}
}

// Mount registers every route with mount, each wrapped by wrap (nil: as is),
// for example:
//
//	h.Mount(srv.Handle, func(h http.Handler) http.Handler { return auth.Require(h, httpapi.RoleOps) })
func (h *Handlers) Mount(mount func(pattern string, h http.Handler), wrap func(http.Handler) http.Handler) {
	for _, rt := range h.Routes() {
		handler := rt.Handler
		if wrap != nil {
			handler = wrap(handler)
		}
		mount(rt.Pattern, handler)
	}
}

// listResponse is the body of GET /v1/templates.
type listResponse struct {
	Templates  []*templates.Row `json:"templates"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

func (h *Handlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var (
		p    templates.ListParams
		errs []detail
	)
	bad := func(field, msg string) {
		errs = append(errs, detail{Field: field, Code: templates.CodeInvalid, Message: msg})
	}
	if v := q.Get("status"); v != "" {
		if p.Status = templates.Status(v); !p.Status.Valid() {
			bad("status", fmt.Sprintf("%q is not one of draft, approved, rejected, disabled", v))
		}
	}
	if v := q.Get("channel"); v != "" {
		if p.Channel = templates.ChannelScope(v); !p.Channel.Valid() {
			bad("channel", fmt.Sprintf("%q is not one of whatsapp, sms, any", v))
		}
	}
	if v := q.Get("category"); v != "" {
		if p.Category = templates.Category(v); !p.Category.Valid() {
			bad("category", fmt.Sprintf("%q is not one of utility, marketing, authentication", v))
		}
	}
	if v := q.Get("language"); v != "" {
		lang, err := templates.NormalizeLanguage(v)
		if err != nil {
			bad("language", err.Error())
		}
		p.Language = lang
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad("limit", fmt.Sprintf("%q is not a whole number ≥ 1 (larger than %d counts as %d)", v, templates.MaxPageSize, templates.MaxPageSize))
		}
		p.Limit = n
	}
	p.NamePrefix = q.Get("name_prefix")
	if p.NamePrefix != "" && !templates.ValidName(p.NamePrefix) {
		// No template name holds anything else: refused rather than an
		// empty list, so a client learns its filter is wrong (R38).
		bad("name_prefix", "may contain only lowercase letters, digits and underscores, at most 512")
	}
	p.Cursor = q.Get("cursor")
	if len(errs) > 0 {
		writeError(w, http.StatusBadRequest, CodeInvalidParameter, "invalid query parameters", errs)
		return
	}
	res, err := h.Store.List(r.Context(), &p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if res.Rows == nil {
		res.Rows = []*templates.Row{}
	}
	httpapi.WriteJSON(w, http.StatusOK, listResponse{Templates: res.Rows, NextCursor: res.NextCursor})
}

// pathName returns the route's {name}, or answers 400 invalid_parameter
// naming it when it cannot be a template name (R38): nothing is looked up
// for a name no template can have, whatever bytes it holds.
func pathName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if !templates.ValidName(name) {
		writeError(w, http.StatusBadRequest, CodeInvalidParameter, "the path does not name a template",
			[]detail{{Field: "name", Code: templates.CodeInvalid, Message: "may contain only lowercase letters, digits and underscores, at most 512"}})
		return "", false
	}
	return name, true
}

func (h *Handlers) get(w http.ResponseWriter, r *http.Request) {
	name, ok := pathName(w, r)
	if !ok {
		return
	}
	lang, err := templates.ResolveLanguage(r.Context(), h.Store, name, r.URL.Query().Get("language"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		if version, err = strconv.Atoi(v); err != nil || version < 1 {
			writeError(w, http.StatusBadRequest, CodeInvalidParameter, "invalid query parameters",
				[]detail{{Field: "version", Code: templates.CodeInvalid, Message: fmt.Sprintf("%q is not a whole number ≥ 1", v)}})
			return
		}
	}
	row, err := h.Store.Get(r.Context(), &templates.GetParams{Name: name, Language: lang, Version: version})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, row)
}

// The body of POST /v1/templates and PUT /v1/templates/{name} is a
// templates.Template; its read-only fields (status, version and those of
// templates.Row) are accepted and ignored, so a GET answer can be edited
// and sent back. Any other field is refused (unknown_field, R38).

// decodeTemplate reads a template body: a templates.Row, so that the
// read-only fields of a GET answer are known fields.
func decodeTemplate(w http.ResponseWriter, r *http.Request) (templates.Template, error) {
	var row templates.Row
	if err := httpapi.DecodeJSON(w, r, 0, &row); err != nil {
		return templates.Template{}, err
	}
	return row.Template, nil
}

func (h *Handlers) create(w http.ResponseWriter, r *http.Request) {
	t, err := decodeTemplate(w, r)
	if err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	t.Status, t.Version = templates.StatusDraft, 0
	t.Normalize()
	if err := t.Validate(); err != nil {
		h.fail(w, r, err)
		return
	}
	row, err := h.Store.Create(r.Context(), &templates.CreateParams{Template: t, At: h.now()})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.logger().InfoContext(r.Context(), "template created", "name", row.Name, "language", row.Language, "version", row.Version)
	w.Header().Set("Location", location(row))
	httpapi.WriteJSON(w, http.StatusCreated, row)
}

// update stores the body as the next version, unless its content equals
// that of the current version and that version is a draft or approved: then
// nothing changes and the current version is returned, so that repeating a
// PUT is harmless. Equal content over a rejected or disabled version makes a
// new draft: that is how a disabled template is brought back.
func (h *Handlers) update(w http.ResponseWriter, r *http.Request) {
	name, ok := pathName(w, r)
	if !ok {
		return
	}
	t, err := decodeTemplate(w, r)
	if err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	if t.Name != "" && t.Name != name {
		h.fail(w, r, &templates.ValidationError{Errors: []templates.FieldError{{Field: "name", Code: templates.CodeInvalid,
			Message: fmt.Sprintf("%q does not match the path's %q; a template cannot be renamed", t.Name, name)}}})
		return
	}
	lang := t.Language
	if lang == "" {
		lang = r.URL.Query().Get("language")
	}
	lang, err = templates.ResolveLanguage(r.Context(), h.Store, name, lang)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	t.Name, t.Language, t.Status, t.Version = name, lang, templates.StatusDraft, 0
	t.Normalize()
	if err := t.Validate(); err != nil {
		h.fail(w, r, err)
		return
	}
	cur, err := h.Store.Get(r.Context(), &templates.GetParams{Name: name, Language: lang})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if templates.SameContent(&cur.Template, &t) && (cur.Status == templates.StatusDraft || cur.Status == templates.StatusApproved) {
		httpapi.WriteJSON(w, http.StatusOK, cur)
		return
	}
	row, err := h.Store.Update(r.Context(), &templates.UpdateParams{Template: t, At: h.now()})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.logger().InfoContext(r.Context(), "template updated", "name", row.Name, "language", row.Language, "version", row.Version)
	httpapi.WriteJSON(w, http.StatusOK, row)
}

func (h *Handlers) setStatus(to templates.Status) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := pathName(w, r)
		if !ok {
			return
		}
		lang, err := templates.ResolveLanguage(r.Context(), h.Store, name, r.URL.Query().Get("language"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		row, err := h.Store.SetStatus(r.Context(), &templates.SetStatusParams{Name: name, Language: lang, Status: to, At: h.now()})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.logger().InfoContext(r.Context(), "template status changed", "name", row.Name, "language", row.Language,
			"version", row.Version, "status", row.Status)
		httpapi.WriteJSON(w, http.StatusOK, row)
	})
}

func (h *Handlers) deleteDraft(w http.ResponseWriter, r *http.Request) {
	name, ok := pathName(w, r)
	if !ok {
		return
	}
	lang, err := templates.ResolveLanguage(r.Context(), h.Store, name, r.URL.Query().Get("language"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	row, err := h.Store.DeleteDraft(r.Context(), &templates.DeleteDraftParams{Name: name, Language: lang})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.logger().InfoContext(r.Context(), "template draft deleted", "name", row.Name, "language", row.Language, "version", row.Version)
	w.WriteHeader(http.StatusNoContent)
}

// previewRequest is the body of POST /v1/templates/{name}/preview.
type previewRequest struct {
	// Language, or the query's ?language=, or the template's only language.
	Language string `json:"language"`
	// Version to preview; 0 means the current version.
	Version int `json:"version"`
	// Variables by name: "1", "2", … or "first_name".
	Variables map[string]string `json:"variables"`
}

// previewResponse is the rendered template and the status of the version
// rendered (a draft can be previewed, not sent).
type previewResponse struct {
	templates.Rendered
	Status templates.Status `json:"status"`
}

func (h *Handlers) preview(w http.ResponseWriter, r *http.Request) {
	name, ok := pathName(w, r)
	if !ok {
		return
	}
	var req previewRequest
	if err := httpapi.DecodeJSON(w, r, 0, &req); err != nil {
		httpapi.WriteErrorFrom(w, err)
		return
	}
	if req.Version < 0 {
		writeError(w, http.StatusBadRequest, CodeInvalidParameter, "invalid preview request",
			[]detail{{Field: "version", Code: templates.CodeInvalid, Message: "must be ≥ 1, or 0 for the current version"}})
		return
	}
	lang := req.Language
	if lang == "" {
		lang = r.URL.Query().Get("language")
	}
	lang, err := templates.ResolveLanguage(r.Context(), h.Store, name, lang)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	row, err := h.Store.Get(r.Context(), &templates.GetParams{Name: name, Language: lang, Version: req.Version})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rendered, err := templates.Render(&row.Template, req.Variables)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, previewResponse{Rendered: rendered, Status: row.Status})
}

// detail is httpapi.ErrorDetail plus the validation code of the field.
type detail struct {
	Field   string `json:"field"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []detail `json:"details,omitempty"`
}

// writeError writes chatgate's error shape with coded details.
func writeError(w http.ResponseWriter, status int, code, message string, details []detail) {
	httpapi.WriteJSON(w, status, errorBody{Error: errorPayload{Code: code, Message: message, Details: details}})
}

// fail is the one place that maps template errors to HTTP answers.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		validation *templates.ValidationError
		variables  *templates.VariableError
		transition *templates.TransitionError
		langReq    *templates.LanguageRequiredError
		httpErr    *httpapi.Error
	)
	switch {
	case errors.As(err, &httpErr):
		httpapi.WriteErrorFrom(w, err)
	case errors.As(err, &validation):
		details := make([]detail, len(validation.Errors))
		for i, fe := range validation.Errors {
			details[i] = detail(fe)
		}
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidTemplate, "the template breaks validation rules", details)
	case errors.As(err, &variables):
		var details []detail
		add := func(code, what string, names []string) {
			for _, n := range names {
				details = append(details, detail{Field: "variables." + n, Code: code, Message: fmt.Sprintf(what, n)})
			}
		}
		add("missing", "no value for {{%s}}", variables.Missing)
		add("extra", "the template has no variable {{%s}}", variables.Extra)
		add("empty", "the value of {{%s}} is empty", variables.Empty)
		add("invalid", "the value of {{%s}} is not valid text (not UTF-8, a control character, or over 1024 characters)", variables.Invalid)
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidVariables, variables.Error(), details)
	case errors.As(err, &langReq):
		writeError(w, http.StatusBadRequest, CodeLanguageRequired, langReq.Error(), []detail{{Field: "language", Code: templates.CodeRequired,
			Message: "one of " + strings.Join(langReq.Languages, ", ")}})
	case errors.Is(err, templates.ErrInvalidLanguage):
		writeError(w, http.StatusBadRequest, CodeInvalidParameter, "invalid language", []detail{{Field: "language", Code: templates.CodeInvalid, Message: err.Error()}})
	case errors.Is(err, templates.ErrInvalidCursor):
		writeError(w, http.StatusBadRequest, CodeInvalidParameter, "invalid cursor", []detail{{Field: "cursor", Code: templates.CodeInvalid,
			Message: "is not a next_cursor of this API; start again without it"}})
	case errors.Is(err, templates.ErrNotFound):
		writeError(w, http.StatusNotFound, CodeTemplateNotFound, err.Error(), nil)
	case errors.Is(err, templates.ErrDuplicate):
		writeError(w, http.StatusConflict, CodeTemplateExists, err.Error()+"; change it with PUT /v1/templates/{name}", nil)
	case errors.As(err, &transition):
		writeError(w, http.StatusConflict, CodeIllegalTransition, err.Error(), nil)
	case errors.Is(err, templates.ErrNotDraft):
		writeError(w, http.StatusConflict, CodeNotADraft, err.Error()+"; only a draft can be deleted (disable an approved template)", nil)
	case errors.Is(err, templates.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidTemplate, err.Error(), nil)
	default:
		h.logger().ErrorContext(r.Context(), "template request failed", "method", r.Method, "route", r.Pattern, "err", err)
		httpapi.WriteErrorFrom(w, err)
	}
}

func (h *Handlers) now() time.Time {
	if h.Now == nil {
		return time.Time{}
	}
	return h.Now().UTC()
}

func (h *Handlers) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// location is the URL of a template copy.
func location(row *templates.Row) string {
	return "/v1/templates/" + url.PathEscape(row.Name) + "?language=" + url.QueryEscape(row.Language)
}
