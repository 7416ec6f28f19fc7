package validation_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/validation"
)

func TestErrorListsEveryField(t *testing.T) {
	var l validation.List
	if l.Err("rule") != nil {
		t.Fatal("an empty list is no error")
	}
	l.Add("priority", "must be an integer")
	l.Add("resource.id", "must be a 12-digit AWS account id")
	if !l.Has("priority") || l.Has("effect") {
		t.Fatalf("Has: %v", l)
	}
	err := fmt.Errorf("create: %w", l.Err("policy rule"))
	var ve *validation.Error
	if !errors.As(err, &ve) || len(ve.Fields) != 2 {
		t.Fatalf("errors.As: %v", err)
	}
	if got, want := ve.Error(), "invalid policy rule: priority: must be an integer; resource.id: must be a 12-digit AWS account id"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if got := validation.Field("body", "is required").Error(); got != "invalid input: body: is required" {
		t.Fatalf("Field: %q", got)
	}
}
