package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
)

type inner struct {
	N int `json:"n"`
}

type Embedded struct {
	Priority int      `json:"priority"`
	Tags     []string `json:"tags"`
}

// target has a few typed fields, a nested object and an embedded struct
// (as api.ruleInput embeds policy.Rule).
type target struct {
	Embedded
	Name    string         `json:"name"`
	Count   int64          `json:"count"`
	Enabled *bool          `json:"enabled"`
	Ratio   float64        `json:"ratio"`
	Inner   inner          `json:"inner"`
	Meta    map[string]any `json:"meta"`
	Items   []inner        `json:"items,omitempty"`
	Ptr     *inner         `json:"ptr"`
	When    time.Time      `json:"when"`
	Any     any            `json:"any"`
	Skip    string         `json:"-"`
	Dash    string         `json:"-,"`
	Untag   string
	hidden  string
}

// shadowing has ruleInput's shape: an outer field hides the embedded
// field of the same JSON name (api.ruleInput's *bool enabled over
// policy.Rule's bool).
type shadowing struct {
	Embedded
	Priority *int `json:"priority"`
}

// apiError asserts err is an *httpapi.Error with status and code.
func apiError(t *testing.T, err error, status int, code string) *httpapi.Error {
	t.Helper()
	var ae *httpapi.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *httpapi.Error %d %s, got %T %v", status, code, err, err)
	}
	if ae.Status != status || ae.Code != code || ae.Message == "" {
		t.Fatalf("want %d %s, got %d %s %q", status, code, ae.Status, ae.Code, ae.Message)
	}
	return ae
}

// fieldNames lists details.fields[*].field of a validation error.
func fieldNames(t *testing.T, ae *httpapi.Error) []string {
	t.Helper()
	raw, err := json.Marshal(ae)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Details struct {
			Fields []httpapi.FieldError `json:"fields"`
		} `json:"details"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range body.Details.Fields {
		if f.Message == "" {
			t.Errorf("field %q has no message", f.Field)
		}
		out = append(out, f.Field)
	}
	return out
}

func TestUnmarshalStrictAccepts(t *testing.T) {
	var v target
	err := httpapi.UnmarshalStrict([]byte(" \n{\"name\":\"x\",\"count\":3,\"enabled\":false,\"priority\":7,\"tags\":[\"a\"],\"inner\":{\"n\":2},\"meta\":{\"k\":[1,{}]}}\n\t"), &v)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "x" || v.Count != 3 || v.Enabled == nil || *v.Enabled || v.Priority != 7 || !slices.Equal(v.Tags, []string{"a"}) || v.Inner.N != 2 || v.Meta["k"] == nil {
		t.Fatalf("decoded %+v", v)
	}
	var empty target
	if err := httpapi.UnmarshalStrict([]byte(`{}`), &empty); err != nil {
		t.Fatalf("{}: %v", err)
	}

	// Exact names through pointers, slices, tags with options, "-,"
	// (named "-"), untagged fields (their Go name), escapes, a type with
	// its own UnmarshalJSON (time.Time), interfaces and maps (any key).
	var w target
	err = httpapi.UnmarshalStrict([]byte(`{"items":[{"n":1},{"n":2}],"ptr":{"n":3},"when":"2026-01-02T03:04:05Z","any":{"Any":{"KEY":1}},`+
		`"meta":{"Name":1,"NAME":2},"-":"dash","Untag":"u","n\u0061me":"esc"}`), &w)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Items) != 2 || w.Ptr == nil || w.Ptr.N != 3 || w.When.Year() != 2026 || w.Dash != "dash" || w.Untag != "u" || w.Name != "esc" || len(w.Meta) != 2 {
		t.Fatalf("decoded %+v", w)
	}

	// An outer field hides the embedded one of the same name.
	var sh shadowing
	if err := httpapi.UnmarshalStrict([]byte(`{"priority":0,"tags":["a"]}`), &sh); err != nil {
		t.Fatal(err)
	}
	if sh.Priority == nil || *sh.Priority != 0 || sh.Embedded.Priority != 0 || len(sh.Tags) != 1 {
		t.Fatalf("decoded %+v", sh)
	}
	ae := apiError(t, httpapi.UnmarshalStrict([]byte(`{"PRIORITY":1}`), &sh), http.StatusBadRequest, "validation_failed")
	if got := fieldNames(t, ae); !slices.Equal(got, []string{"PRIORITY"}) {
		t.Errorf("fields %v", got)
	}
}

func TestUnmarshalStrictRefuses(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		field string // "" when no field is named
	}{
		{"empty", "", ""},
		{"whitespace", " \r\n\t", ""},
		{"null", "null", ""},
		{"array", `[{"name":"x"}]`, ""},
		{"string", `"x"`, ""},
		{"number", `1`, ""},
		{"unknown field", `{"name":"x","bogus":1}`, "bogus"},
		{"unknown nested field", `{"inner":{"n":1,"m":2}}`, "inner.m"},
		{"upper case name", `{"NAME":"x"}`, "NAME"},
		{"capitalised name", `{"Name":"x"}`, "Name"},
		{"upper case snake name", `{"RESOURCE_TYPE":"x"}`, "RESOURCE_TYPE"},
		{"upper case embedded name", `{"Priority":1}`, "Priority"},
		{"upper case nested name", `{"inner":{"N":1}}`, "inner.N"},
		{"upper case in slice element", `{"items":[{"n":1},{"N":1}]}`, "items[1].N"},
		{"upper case behind pointer", `{"ptr":{"N":1}}`, "ptr.N"},
		{"long s folds to s in encoding/json", "{\"tag\u017f\":[\"a\"]}", "tag\u017f"},
		{"kelvin sign folds to k in encoding/json", "{\"inner\":{},\"meta\":{},\"items\":[],\"ptr\":{\"n\":1},\"any\":1,\"\u212a\":1}", "\u212a"},
		{"json:\"-\" field", `{"Skip":"x"}`, "Skip"},
		{"json:\"-\" field by lower name", `{"skip":"x"}`, "skip"},
		{"untagged field in lower case", `{"untag":"x"}`, "untag"},
		{"unexported field", `{"hidden":"x"}`, "hidden"},
		{"embedded struct by Go name", `{"Embedded":{"priority":1}}`, "Embedded"},
		{"omitempty is not part of the name", `{"items,omitempty":[]}`, "items,omitempty"},
		{"duplicate key", `{"name":"a","name":"b"}`, "name"},
		{"duplicate key, different case", `{"name":"a","Name":"b"}`, "Name"},
		{"duplicate escaped key", `{"name":"a","n\u0061me":"b"}`, "name"},
		{"duplicate nested key", `{"inner":{"n":1,"n":2}}`, "inner.n"},
		{"duplicate key in a map", `{"meta":{"k":1,"k":2}}`, "meta.k"},
		{"duplicate key deep in any", `{"meta":{"k":[{"a":1,"a":1}]}}`, "meta.k[0].a"},
		{"duplicate key in an interface", `{"any":{"x":{"y":1,"y":2}}}`, "any.x.y"},
		{"duplicate key in a slice element", `{"items":[{"n":1,"n":1}]}`, "items[0].n"},
		{"duplicate embedded key", `{"priority":1,"priority":1}`, "priority"},
		{"duplicate null key", `{"ptr":null,"ptr":null}`, "ptr"},
		{"wrong type string for int", `{"count":"3"}`, "count"},
		{"wrong type int for string", `{"name":3}`, "name"},
		{"wrong type bool", `{"enabled":"yes"}`, "enabled"},
		{"float for int", `{"count":1.5}`, "count"},
		{"int overflow", `{"count":99999999999999999999}`, "count"},
		{"nested wrong type", `{"inner":{"n":"x"}}`, "inner.n"},
		{"object for int", `{"count":{}}`, "count"},
		{"embedded wrong type", `{"priority":"high"}`, "priority"},
		{"embedded wrong element type", `{"tags":[1]}`, "tags"},
		{"embedded wrong container type", `{"tags":"a"}`, "tags"},
		{"two objects", `{"name":"a"}{"name":"b"}`, ""},
		{"trailing garbage", `{"name":"a"} x`, ""},
		{"trailing bracket", `{"name":"a"}]`, ""},
		{"truncated", `{"name":"a",`, ""},
		{"truncated string", `{"name":"a`, ""},
		{"single quotes", `{'name':'a'}`, ""},
		{"comment", `{"name":"a"} // hi`, ""},
		{"deep nesting", `{"meta":{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v target
			ae := apiError(t, httpapi.UnmarshalStrict([]byte(c.body), &v), http.StatusBadRequest, "validation_failed")
			if c.field != "" {
				if got := fieldNames(t, ae); !slices.Equal(got, []string{c.field}) {
					t.Errorf("details.fields %v, want [%s]", got, c.field)
				}
			}
		})
	}
}

func req(body, contentType string) *http.Request {
	r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestDecodeJSON(t *testing.T) {
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "application/merge-patch+json"} {
		var v target
		if err := httpapi.DecodeJSON(req(`{"name":"x"}`, ct), 0, &v); err != nil || v.Name != "x" {
			t.Errorf("content type %q: %v %+v", ct, err, v)
		}
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json;;", "json", "application/jsonx"} {
		var v target
		apiError(t, httpapi.DecodeJSON(req(`{"name":"x"}`, ct), 0, &v), http.StatusUnsupportedMediaType, "unsupported_media_type")
	}

	// Size limits: exactly max is fine, one byte more is 413 naming the limit.
	body := `{"name":"` + strings.Repeat("a", 20) + `"}`
	var v target
	if err := httpapi.DecodeJSON(req(body, ""), int64(len(body)), &v); err != nil {
		t.Fatalf("body of exactly max bytes: %v", err)
	}
	ae := apiError(t, httpapi.DecodeJSON(req(body, ""), int64(len(body)-1), &v), http.StatusRequestEntityTooLarge, "body_too_large")
	if ae.Details["max_bytes"] != int64(len(body)-1) {
		t.Errorf("details %v", ae.Details)
	}
	big := `{"name":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`
	apiError(t, httpapi.DecodeJSON(req(big, "application/json"), 0, &v), http.StatusRequestEntityTooLarge, "body_too_large")
	apiError(t, httpapi.DecodeJSON(req(big, "application/json"), -1, &v), http.StatusRequestEntityTooLarge, "body_too_large")
	if err := httpapi.DecodeJSON(req(big, "application/json"), 2*httpapi.MaxBodyBytes, &v); err != nil {
		t.Errorf("a handler may allow more: %v", err)
	}

	// No body at all.
	r := httptest.NewRequest("POST", "/x", nil)
	r.Body = nil
	apiError(t, httpapi.DecodeJSON(r, 0, &v), http.StatusBadRequest, "validation_failed")

	// A failing body reader is a 400, not a 500.
	r = httptest.NewRequest("POST", "/x", errReader{})
	apiError(t, httpapi.DecodeJSON(r, 0, &v), http.StatusBadRequest, "bad_request")

	// Strictness applies through DecodeJSON.
	ae = apiError(t, httpapi.DecodeJSON(req(`{"nope":1}`, "application/json"), 0, &v), http.StatusBadRequest, "validation_failed")
	if got := fieldNames(t, ae); !slices.Equal(got, []string{"nope"}) {
		t.Errorf("fields %v", got)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestPageParams(t *testing.T) {
	ok := []struct {
		query  string
		limit  int
		cursor string
	}{
		{"", httpapi.DefaultLimit, ""},
		{"limit=1", 1, ""},
		{"limit=250", 250, ""},
		{"limit=10&cursor=abc", 10, "abc"},
		{"cursor=" + strings.Repeat("c", 4096), httpapi.DefaultLimit, strings.Repeat("c", 4096)},
		{"limit=", httpapi.DefaultLimit, ""},
	}
	for _, c := range ok {
		limit, cursor, err := httpapi.PageParams(httptest.NewRequest("GET", "/x?"+c.query, nil))
		if err != nil || limit != c.limit || cursor != c.cursor {
			t.Errorf("%q: got %d %q %v", c.query, limit, cursor, err)
		}
	}
	bad := map[string]string{
		"limit=0": "limit", "limit=251": "limit", "limit=abc": "limit", "limit=-1": "limit", "limit=1.5": "limit",
		"limit=99999999999999999999": "limit", "limit=%201": "limit", "limit=0x10": "limit",
		"cursor=" + strings.Repeat("c", 4097): "cursor",
	}
	for q, field := range bad {
		_, _, err := httpapi.PageParams(httptest.NewRequest("GET", "/x?"+q, nil))
		ae := apiError(t, err, http.StatusBadRequest, "validation_failed")
		if got := fieldNames(t, ae); !slices.Equal(got, []string{field}) {
			t.Errorf("%q: fields %v, want [%s]", q, got, field)
		}
	}
}

func TestNewList(t *testing.T) {
	raw, _ := json.Marshal(httpapi.NewList[int](nil, ""))
	if string(raw) != `{"data":[],"has_more":false}` {
		t.Errorf("empty list: %s", raw)
	}
	raw, _ = json.Marshal(httpapi.NewList([]string{"a"}, "next"))
	if string(raw) != `{"data":["a"],"next_cursor":"next","has_more":true}` {
		t.Errorf("list: %s", raw)
	}
}

// errorBody is what a client sees.
type errorBody struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

func writeError(t *testing.T, err error) (int, errorBody, string) {
	t.Helper()
	w := httptest.NewRecorder()
	httpapi.WriteError(w, err)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("cache control %q", cc)
	}
	var b errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("body: %v: %s", err, w.Body)
	}
	return w.Code, b, w.Body.String()
}

func TestWriteError(t *testing.T) {
	status, b, _ := writeError(t, httpapi.Errorf(http.StatusConflict, "conflict", "rule %q moved", "r1"))
	if status != 409 || b.Code != "conflict" || b.Message != `rule "r1" moved` || b.Details != nil {
		t.Errorf("*Error: %d %+v", status, b)
	}

	// Wrapped *Error keeps its status and body.
	wrapped := fmt.Errorf("context: %w", httpapi.Invalid("bad", httpapi.FieldError{Field: "f", Message: "m"}))
	status, b, _ = writeError(t, wrapped)
	if status != 400 || b.Code != "validation_failed" || b.Message != "bad" {
		t.Errorf("wrapped: %d %+v", status, b)
	}
	fields, _ := b.Details["fields"].([]any)
	if len(fields) != 1 || fields[0].(map[string]any)["field"] != "f" {
		t.Errorf("wrapped details: %+v", b.Details)
	}

	// Anything else is a 500 that leaks nothing.
	status, b, raw := writeError(t, errors.New("dynamodb: table jitsudo-prod secret=hunter2"))
	if status != 500 || b.Code != "internal" || b.Message != "internal error" || b.Details != nil ||
		strings.Contains(raw, "hunter2") || strings.Contains(raw, "dynamodb") {
		t.Errorf("plain error: %d %s", status, raw)
	}
	status, _, _ = writeError(t, nil)
	if status != 500 {
		t.Errorf("nil error: %d", status)
	}

	// WithDetails copies; the shared errors stay pristine.
	d := httpapi.ErrNotFound.WithDetails(map[string]any{"id": "x"})
	if httpapi.ErrNotFound.Details != nil || d.Details["id"] != "x" || d.Status != 404 {
		t.Errorf("WithDetails mutated the original or lost data: %+v %+v", httpapi.ErrNotFound, d)
	}
	if s := d.Error(); !strings.Contains(s, "404") || !strings.Contains(s, "not_found") {
		t.Errorf("Error() = %q", s)
	}
}

// TestWriteJSONUnmarshalable: a value that cannot be encoded is a clean 500.
func TestWriteJSONUnmarshalable(t *testing.T) {
	w := httptest.NewRecorder()
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"f": func() {}})
	var b errorBody
	if w.Code != 500 || json.Unmarshal(w.Body.Bytes(), &b) != nil || b.Code != "internal" {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
}

// FuzzUnmarshalStrict: arbitrary bytes never panic, every failure is a 400
// validation_failed *Error whose body encodes, and whatever is accepted is
// exactly one JSON object that encoding/json also accepts, has no object
// (at any depth) that repeats a key, and uses only the exact JSON names of
// target's fields (at the top, in inner, ptr and items' elements).
func FuzzUnmarshalStrict(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"name":"x","count":1}`, `{"priority":"high"}`, `{"tags":[1,2]}`, `{"inner":{"n":"x"}}`,
		`{"a":1}{"b":2}`, `{"name":"x"} x`, `[1]`, `null`, `{"meta":{"a":[{"b":null}]}}`, `{"count":1e400}`,
		`{"enabled":true,"ratio":-0.0}`, "{\"name\":\"\xff\"}", `{"name":"\ud800"}`, ` {"count":-9223372036854775808} `,
		`{"Name":"case"}`, `{"inner":null}`, `{"embedded":{}}`, `{"Embedded":{"priority":1}}`,
		`{"name":"a","name":"b"}`, `{"meta":{"k":1,"k":2}}`, `{"items":[{"n":1},{"N":2}]}`, `{"ptr":{"n":1,"n":1}}`,
		`{"RESOURCE_TYPE":"x"}`, `{"n\u0061me":"x"}`, `{"-":"d","Untag":"u","any":{"a":{"a":1}}}`, "{\"tag\u017f\":[]}",
		`{"when":"2026-01-02T03:04:05Z"}`, `{"Skip":"x"}`,
	} {
		f.Add([]byte(s))
	}
	top := []string{"priority", "tags", "name", "count", "enabled", "ratio", "inner", "meta", "items", "ptr", "when", "any", "-", "Untag"}
	exact := map[string][]string{"": top, "inner": {"n"}, "ptr": {"n"}, "items[]": {"n"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v target
		err := httpapi.UnmarshalStrict(body, &v)
		if err == nil {
			var m map[string]any
			if jerr := json.Unmarshal(body, &m); jerr != nil || m == nil {
				t.Fatalf("accepted %q, which is not one JSON object: %v", body, jerr)
			}
			for _, o := range objectsOf(t, body) {
				if c := slices.Compact(slices.Sorted(slices.Values(o.keys))); len(c) != len(o.keys) {
					t.Fatalf("accepted %q, whose object at %q repeats a key: %q", body, o.path, o.keys)
				}
				if names, ok := exact[o.path]; ok {
					for _, k := range o.keys {
						if !slices.Contains(names, k) {
							t.Fatalf("accepted %q, whose object at %q has key %q, not a field name", body, o.path, k)
						}
					}
				}
			}
			return
		}
		var ae *httpapi.Error
		if !errors.As(err, &ae) {
			t.Fatalf("%q: error %T %v is not an *httpapi.Error", body, err, err)
		}
		if ae.Status != http.StatusBadRequest || ae.Code != "validation_failed" || ae.Message == "" {
			t.Fatalf("%q: %d %s %q", body, ae.Status, ae.Code, ae.Message)
		}
		if _, merr := json.Marshal(ae); merr != nil {
			t.Fatalf("%q: error body does not encode: %v", body, merr)
		}
	})
}

// object is one JSON object of a document: where it is ("inner",
// "items[]" for any element) and its keys in order, repeats included.
type object struct {
	path string
	keys []string
}

// objectsOf lists every object of a valid JSON document, read with the
// standard tokenizer.
func objectsOf(t *testing.T, body []byte) []object {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	var out []object
	var walk func(path string)
	walk = func(path string) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		switch tok {
		case json.Delim('{'):
			i := len(out)
			out = append(out, object{path: path})
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					t.Fatalf("%q: %v", body, err)
				}
				out[i].keys = append(out[i].keys, k.(string))
				walk(strings.TrimPrefix(path+"."+k.(string), "."))
			}
			dec.Token()
		case json.Delim('['):
			for dec.More() {
				walk(path + "[]")
			}
			dec.Token()
		}
	}
	walk("")
	return out
}

// TestUnknownFieldNameIsClipped: an unknown or repeated key is named, but
// never echoed beyond MaxEchoedID bytes.
func TestUnknownFieldNameIsClipped(t *testing.T) {
	long := strings.Repeat("x", 2000)
	for _, body := range []string{`{"` + long + `":1}`, `{"name":"a","inner":{"` + long + `":1}}`} {
		var v struct {
			Name  string `json:"name"`
			Inner struct {
				M int `json:"m"`
			} `json:"inner"`
		}
		err := httpapi.UnmarshalStrict([]byte(body), &v)
		var e *httpapi.Error
		if !errors.As(err, &e) || e.Status != 400 {
			t.Fatalf("got %v, want a 400", err)
		}
		b, _ := json.Marshal(e)
		if len(b) > 400 || strings.Contains(string(b), strings.Repeat("x", httpapi.MaxEchoedID+1)) {
			t.Fatalf("the error echoes the key: %s", b)
		}
	}
}
