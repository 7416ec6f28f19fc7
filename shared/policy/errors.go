package policy

import "github.com/jitsudo/jitsudo-serverless/shared/validation"

// FieldError is one problem with one field of a rule. Field is the JSON
// field name ("principal_entity_id"), prefixed with the rule's position for
// Import ("rules[3].conditions").
type FieldError = validation.FieldError

// ValidationError is every rejection of a rule (or rule document): the list
// of fields that are wrong and why, suitable for a 400 response body.
type ValidationError = validation.Error

// errList accumulates a rule's field errors.
type errList = validation.List
