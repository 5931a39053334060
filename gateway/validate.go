package gateway

import (
	"errors"
	"strings"
)

// ErrInvalidRecord is matched by every *ValidationError: a record that no
// retry can make acceptable.
var ErrInvalidRecord = errors.New("invalid record")

// FieldError is one problem with one field of a record. Field is the JSON
// name in the record ("media[0].url", "location.latitude"); adapters map it
// to the name their request used.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error returns "field message".
func (e FieldError) Error() string { return e.Field + " " + e.Message }

// ValidationError lists every problem of one record, in the order of its
// fields. It matches ErrInvalidRecord.
type ValidationError struct {
	// Record names the record kind: "inbound message", "outbound message", "status".
	Record string
	Fields []FieldError
}

// Error lists the problems: "invalid inbound message: text is required; …".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return "invalid " + e.Record + ": " + strings.Join(parts, "; ")
}

// Is matches ErrInvalidRecord.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidRecord }

// Field returns the first problem of field, and whether there is one.
func (e *ValidationError) Field(field string) (FieldError, bool) {
	for _, f := range e.Fields {
		if f.Field == field {
			return f, true
		}
	}
	return FieldError{}, false
}

// fieldChecker collects the problems of one record.
type fieldChecker struct {
	errs []FieldError
}

func (c *fieldChecker) add(field, problem string) {
	if problem != "" {
		c.errs = append(c.errs, FieldError{Field: field, Message: problem})
	}
}

// key checks an identifier field; required adds "is required" when empty.
func (c *fieldChecker) key(field, v string, max int, required bool) {
	if v == "" && required {
		c.add(field, ProblemRequired)
		return
	}
	c.add(field, CheckKey(v, max))
}

// text checks a text field; required refuses the empty string (white space
// alone is text a contact may send).
func (c *fieldChecker) text(field, v string, max int, required bool) {
	if required && v == "" {
		c.add(field, ProblemRequired)
		return
	}
	c.add(field, CheckText(v, max))
}

// line checks a one-line field.
func (c *fieldChecker) line(field, v string, max int) { c.add(field, CheckLine(v, max)) }

func (c *fieldChecker) result(record string) error {
	if len(c.errs) == 0 {
		return nil
	}
	return &ValidationError{Record: record, Fields: c.errs}
}

// IsInvalidData reports whether err is a store refusing a value as data,
// not an outage: PostgreSQL's SQLSTATE class 22 ("data exception": a character
// not in UTF-8, a number out of range, a malformed value). Running the
// same request again fails the same way, so it must never be answered
// "unavailable, retry": IsInvalidData finds it in any error chain, and
// the HTTP layer answers it with a 4xx.
//
// It matches an error with a SQLState method (pgx's *pgconn.PgError has
// one), so this package needs no database driver.
func IsInvalidData(err error) bool {
	var sqlErr interface{ SQLState() string }
	if !errors.As(err, &sqlErr) {
		return false
	}
	return strings.HasPrefix(sqlErr.SQLState(), "22")
}
