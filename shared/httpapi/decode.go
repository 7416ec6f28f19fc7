package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// MaxBodyBytes bounds JSON request bodies unless a handler asks for more.
const MaxBodyBytes = 64 << 10

// DecodeJSON reads r's body strictly into v: at most maxBytes (0 means
// MaxBodyBytes), a JSON content type (or none), exactly one JSON object, no
// unknown fields, right types. Failures are 400/413/415 *Errors naming the
// field at fault.
func DecodeJSON(r *http.Request, maxBytes int64, v any) error {
	if err := CheckJSONContentType(r); err != nil {
		return err
	}
	body, err := ReadBody(r, maxBytes)
	if err != nil {
		return err
	}
	return UnmarshalStrict(body, v)
}

// CheckJSONContentType accepts a JSON content type or none; anything else
// is a 415 *Error.
func CheckJSONContentType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "request body must be application/json")
		}
	}
	return nil
}

// ReadBody reads at most maxBytes (0 means MaxBodyBytes) of r's body; a
// larger body is a 413 *Error.
func ReadBody(r *http.Request, maxBytes int64) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = MaxBodyBytes
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		return nil, Errorf(http.StatusBadRequest, "bad_request", "could not read the request body")
	}
	if int64(len(body)) > maxBytes {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "body_too_large",
			"request body exceeds %d bytes", maxBytes).WithDetails(map[string]any{"max_bytes": maxBytes})
	}
	return body, nil
}

// UnmarshalStrict decodes exactly one JSON object from body into v,
// refusing trailing data, keys that are not exactly one of v's JSON field
// names (encoding/json alone would match "NAME" to `json:"name"`), and any
// object, at any depth, that repeats a key (encoding/json alone would keep
// the last one). Every request body of the API goes through it.
func UnmarshalStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return Invalid("request body is empty; a JSON object is required")
	}
	if bytes.TrimSpace(body)[0] != '{' {
		return Invalid("request body must be a JSON object")
	}
	if err := checkKeys(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Invalid("request body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := jsonFieldPath(typeErr.Field)
		if field == "" {
			field = "(body)"
		}
		return Invalid("request body has a field of the wrong type",
			FieldError{Field: field, Message: fmt.Sprintf("must be %s", jsonTypeName(typeErr.Type.Kind().String()))})
	case errors.As(err, &syntaxErr):
		return Invalid(fmt.Sprintf("request body is not valid JSON (at byte %d)", syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("request body is truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid("request body has an unknown field", FieldError{Field: ClipID(name), Message: "unknown field"})
	default:
		return Invalid("request body is not valid JSON")
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	default:
		return "of another type"
	}
}

// jsonFieldPath drops the Go names of embedded structs from a decoder field
// path ("Rule.priority" → "priority"): API field names are snake_case JSON.
func jsonFieldPath(p string) string {
	var keep []string
	for _, s := range strings.Split(p, ".") {
		if s != "" && !(s[0] >= 'A' && s[0] <= 'Z') {
			keep = append(keep, s)
		}
	}
	return strings.Join(keep, ".")
}
