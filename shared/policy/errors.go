package policy

import (
	"strings"
)

// FieldError is one problem with one field of a rule. Field is the JSON
// field name ("principal_entity_id"), prefixed with the rule's position for
// Import ("rules[3].conditions").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError is every rejection of a rule (or rule document): the list
// of fields that are wrong and why, suitable for a 400 response body.
type ValidationError struct {
	Fields []FieldError `json:"fields"`
}

func (e *ValidationError) Error() string {
	if e == nil || len(e.Fields) == 0 {
		return "invalid policy rule"
	}
	var b strings.Builder
	b.WriteString("invalid policy rule: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// errList accumulates field errors.
type errList []FieldError

func (l *errList) add(field, msg string) { *l = append(*l, FieldError{Field: field, Message: msg}) }

func (l errList) err() error {
	if len(l) == 0 {
		return nil
	}
	return &ValidationError{Fields: l}
}

// hasField reports whether the list already has an error for field.
func (l errList) hasField(field string) bool {
	for _, f := range l {
		if f.Field == field {
			return true
		}
	}
	return false
}
