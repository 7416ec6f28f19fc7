// Package validation is the one shape of "this input is wrong" that every
// domain package returns and the HTTP layer turns into a 400: a list of
// fields, each with what is wrong with it. access, notify, policy and
// httpapi name it under their own names (type aliases), so there is one
// type and one errors.As in the API.
package validation

import "strings"

// FieldError is one invalid input field. Field is the JSON path of the
// field ("resource.id", "config.headers.X-Token", "rules[3].conditions").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error lists every invalid field of one input. Subject names the input
// in Error() for logs ("policy rule"); clients see the API's own message.
type Error struct {
	Subject string       `json:"-"`
	Fields  []FieldError `json:"fields"`
}

// New is an Error about subject listing fields.
func New(subject string, fields ...FieldError) *Error {
	return &Error{Subject: subject, Fields: fields}
}

// Field is an Error with one field.
func Field(field, message string) *Error {
	return &Error{Fields: []FieldError{{Field: field, Message: message}}}
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid ")
	if e == nil || e.Subject == "" {
		b.WriteString("input")
	} else {
		b.WriteString(e.Subject)
	}
	if e == nil {
		return b.String()
	}
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field + ": " + f.Message)
	}
	return b.String()
}

// List accumulates field errors; Err is nil when nothing was added.
type List []FieldError

// Add appends one field error.
func (l *List) Add(field, message string) {
	*l = append(*l, FieldError{Field: field, Message: message})
}

// Has reports whether the list already has an error for field.
func (l List) Has(field string) bool {
	for _, f := range l {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Err is the list as an *Error about subject, or nil when it is empty.
func (l List) Err(subject string) error {
	if len(l) == 0 {
		return nil
	}
	return New(subject, l...)
}
