package gateway

import "fmt"

// ConfigError is a problem with one field of a package's configuration
// struct, named by the field's Go name ("AccountSID: want AC followed by
// letters and digits"), as river's configs name theirs. A config's Validate
// returns them, joined with errors.Join, so that whoever filled the struct
// can say where the value came from: cmd/chatgate, which reads the
// environment, names the variable instead of the field. (FieldError is the
// other kind: a problem with a field of a record.)
type ConfigError struct {
	// Field is the Go name of the field: "PublicURL", "Numbers".
	Field string
	// Err says what is wrong, phrased to follow the field's name.
	Err error
}

// Error returns the field's name and the problem.
func (e *ConfigError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the problem.
func (e *ConfigError) Unwrap() error { return e.Err }

// ConfigErrorf returns a *ConfigError for field whose problem is formatted
// as fmt.Errorf does (so %w wraps).
func ConfigErrorf(field, format string, args ...any) error {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}
