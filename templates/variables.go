package templates

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// VariableStyle is how the variables of a body are written.
type VariableStyle string

// The variable styles. A body without variables has StyleNone.
const (
	StyleNone     VariableStyle = "none"
	StyleNumbered VariableStyle = "numbered"
	StyleNamed    VariableStyle = "named"
)

// Variables are the distinct variables of a body.
type Variables struct {
	// Style is the one style the body uses.
	Style VariableStyle `json:"style"`
	// Names are the variables in parameter order: "1", "2", … for
	// numbered variables; named ones in order of first appearance. This is
	// the order of WhatsApp's body parameters.
	Names []string `json:"names"`
}

// ParseVariables returns the variables of body, or a *ValidationError
// (field "body") for malformed placeholders, mixed styles, or numbering that
// does not run 1, 2, … without gaps.
func ParseVariables(body string) (Variables, error) {
	p, errs := parseBody("body", body)
	if len(errs) > 0 {
		return Variables{}, &ValidationError{Errors: errs}
	}
	return p.vars, nil
}

// segment is a piece of a parsed body: literal text, or a variable name.
type segment struct {
	text     string
	variable bool
}

type parsedBody struct {
	segments []segment
	vars     Variables
}

// parseBody splits s into literal text and variables in one pass, so that
// rendering never rescans inserted values. Every "{{" must open a
// well-formed placeholder; a lone "}}" is literal text.
func parseBody(field, s string) (parsedBody, []FieldError) {
	var (
		p        parsedBody
		errs     []FieldError
		numbers  []int
		named    []string
		seenName = map[string]bool{}
		seenNum  = map[int]bool{}
	)
	// Only the first few malformed placeholders are described: enough to fix
	// a template, and a pasted megabyte cannot make a megabyte of errors.
	const maxReported = 10
	malformedCount := 0
	malformed := func(at int, raw, why string) {
		malformedCount++
		if malformedCount > maxReported {
			return
		}
		errs = append(errs, FieldError{
			Field: field,
			Code:  CodeMalformedPlaceholder,
			Message: fmt.Sprintf("malformed placeholder %q at character %d: %s",
				clip(raw), utf8.RuneCountInString(s[:at])+1, why),
		})
	}
	litStart, i := 0, 0
	for {
		j := strings.Index(s[i:], "{{")
		if j < 0 {
			break
		}
		open := i + j
		// Look for the closing "}}" only up to the next "{{", so that the
		// scan stays linear however many openings there are.
		end, next := -1, -1
		for q := open + 2; q+1 < len(s); q++ {
			if s[q] == '}' && s[q+1] == '}' {
				end = q + 2
				break
			}
			if s[q] == '{' && s[q+1] == '{' {
				next = q
				break
			}
		}
		if next >= 0 {
			// "{{a {{1}}": the first opening is unclosed; resume at the second.
			malformed(open, s[open:next], "no closing }}")
			i = next
			continue
		}
		if end < 0 {
			malformed(open, s[open:], "no closing }}")
			break
		}
		inner := s[open+2 : end-2]
		i = end
		name, ok, why := classify(inner)
		if !ok {
			malformed(open, s[open:end], why)
			continue
		}
		if litStart < open {
			p.segments = append(p.segments, segment{text: s[litStart:open]})
		}
		p.segments = append(p.segments, segment{text: name, variable: true})
		litStart = end
		if n, err := strconv.Atoi(name); err == nil {
			if !seenNum[n] {
				seenNum[n] = true
				numbers = append(numbers, n)
			}
		} else if !seenName[name] {
			seenName[name] = true
			named = append(named, name)
		}
	}
	if litStart < len(s) {
		p.segments = append(p.segments, segment{text: s[litStart:]})
	}

	switch {
	case len(numbers) > 0 && len(named) > 0:
		errs = append(errs, FieldError{
			Field: field,
			Code:  CodeMixedVariables,
			Message: fmt.Sprintf("mixes numbered ({{%d}}) and named ({{%s}}) variables; use one style",
				numbers[0], named[0]),
		})
	case len(numbers) > 0:
		errs = append(errs, checkNumbering(field, numbers)...)
		slices.Sort(numbers)
		p.vars = Variables{Style: StyleNumbered, Names: make([]string, len(numbers))}
		for i, n := range numbers {
			p.vars.Names[i] = strconv.Itoa(n)
		}
	case len(named) > 0:
		p.vars = Variables{Style: StyleNamed, Names: named}
	default:
		p.vars = Variables{Style: StyleNone}
	}
	if malformedCount > maxReported {
		errs = append(errs, FieldError{Field: field, Code: CodeMalformedPlaceholder,
			Message: fmt.Sprintf("%d more malformed placeholders", malformedCount-maxReported)})
	}
	if len(errs) > 0 {
		return parsedBody{}, errs
	}
	return p, nil
}

// classify returns the variable name inside "{{…}}", or why it is malformed.
// Spaces are not trimmed: WhatsApp refuses "{{ 1 }}", so we do too.
func classify(inner string) (name string, ok bool, why string) {
	switch {
	case strings.TrimSpace(inner) == "":
		return "", false, "empty variable"
	case allASCIIDigits(inner):
		if len(inner) > 1 && inner[0] == '0' {
			return "", false, "numbers have no leading zeros"
		}
		if _, err := strconv.Atoi(inner); err != nil {
			return "", false, "number too large"
		}
		return inner, true, ""
	case isVariableName(inner):
		return inner, true, ""
	}
	return "", false, "use {{1}} or {{name}} (a lowercase letter, then lowercase letters, digits or underscores)"
}

// isVariableName reports whether s is a named variable: a lowercase ASCII
// letter, then lowercase ASCII letters, digits or underscores.
func isVariableName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkNumbering requires the distinct numbers to be exactly 1…n. It looks
// only at the numbers present, so a huge number costs nothing.
func checkNumbering(field string, numbers []int) []FieldError {
	nums := slices.Sorted(slices.Values(numbers))
	var errs []FieldError
	if nums[0] == 0 {
		errs = append(errs, FieldError{Field: field, Code: CodeNumberingStart,
			Message: "{{0}} is not allowed: numbering starts at {{1}}"})
		nums = nums[1:]
	}
	if len(nums) == 0 {
		return errs
	}
	if nums[0] > 1 {
		errs = append(errs, FieldError{Field: field, Code: CodeNumberingStart,
			Message: fmt.Sprintf("numbering must start at {{1}}, the first variable is {{%d}}", nums[0])})
	}
	var gaps []string
	for i := 1; i < len(nums); i++ {
		a, b := nums[i-1], nums[i]
		switch {
		case b == a+2:
			gaps = append(gaps, fmt.Sprintf("{{%d}}", a+1))
		case b > a+2:
			gaps = append(gaps, fmt.Sprintf("{{%d}} to {{%d}}", a+1, b-1))
		}
	}
	if len(gaps) > 0 {
		errs = append(errs, FieldError{Field: field, Code: CodeNumberingGap,
			Message: "numbering has gaps: missing " + strings.Join(gaps, ", ")})
	}
	return errs
}

// clip shortens s for an error message.
func clip(s string) string {
	const limit = 30
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit]) + "…"
}
