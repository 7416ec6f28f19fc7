package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// maxKeyDepth bounds the nesting checkKeys walks; encoding/json refuses
// deeper documents too (10000), so nothing valid is lost.
const maxKeyDepth = 10000

// checkKeys walks the one JSON value in body token by token and refuses,
// as a 400 naming the field, (1) an object that repeats a key and (2) a key
// that is not exactly the JSON name of a field of the Go type the value
// decodes into (t, followed through pointers, slices, arrays, maps and
// structs, with encoding/json's rules for tags, `json:"-"` and embedded
// structs). Maps, interfaces and types with their own UnmarshalJSON or
// UnmarshalText take any key; duplicates are refused everywhere. Syntax
// errors are reported as jsonError reports them.
func checkKeys(body []byte, t reflect.Type) error {
	w := keyWalker{dec: json.NewDecoder(bytes.NewReader(body)), fields: map[reflect.Type]map[string]reflect.Type{}}
	return w.value(t, 0)
}

type keyWalker struct {
	dec    *json.Decoder
	path   []string                                 // ".key" and "[i]" segments down to the current value
	fields map[reflect.Type]map[string]reflect.Type // per call: struct type → JSON name → field type
}

func (w *keyWalker) token() (json.Token, error) {
	tok, err := w.dec.Token()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, jsonError(err)
	}
	return tok, nil
}

// value reads one JSON value that decodes into t (nil: anything).
func (w *keyWalker) value(t reflect.Type, depth int) error {
	if depth > maxKeyDepth {
		return Invalid("request body is nested too deeply")
	}
	tok, err := w.token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar: its type is encoding/json's business
	}
	t = target(t)
	switch d {
	case '{':
		var fields map[string]reflect.Type // nil: any key
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = w.structFields(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := map[string]bool{}
		for w.dec.More() {
			tok, err := w.token()
			if err != nil {
				return err
			}
			key, _ := tok.(string) // the decoder only yields strings as keys
			w.path = append(w.path, "."+key)
			if seen[key] {
				return Invalid("request body repeats a key", FieldError{Field: w.field(), Message: "duplicate key"})
			}
			seen[key] = true
			next := elem
			if fields != nil {
				ft, known := fields[key]
				if !known {
					return Invalid("request body has an unknown field", FieldError{Field: w.field(), Message: unknownFieldMessage(key, fields)})
				}
				next = ft
			}
			if err := w.value(next, depth+1); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
		}
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			w.path = append(w.path, "["+strconv.Itoa(i)+"]")
			if err := w.value(elem, depth+1); err != nil {
				return err
			}
			w.path = w.path[:len(w.path)-1]
		}
	}
	_, err = w.token() // the closing delimiter
	return err
}

// field is the current path: "inner.n", "items[1].n".
// field is the path of the current key, cut to MaxEchoedID bytes: it
// echoes the caller's input.
func (w *keyWalker) field() string {
	return ClipID(strings.TrimPrefix(strings.Join(w.path, ""), "."))
}

// unknownFieldMessage points at the exact name when only the case differs.
func unknownFieldMessage(key string, fields map[string]reflect.Type) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return "unknown field (field names are case-sensitive: did you mean " + strconv.Quote(name) + "?)"
		}
	}
	return "unknown field"
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// target is the type whose keys are checked for a value decoding into t:
// pointers are followed; nil for "any key" (no type, an interface, or a
// type that decodes itself).
func target(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	return t
}

// structFields maps the JSON names of struct t to their field types the way
// encoding/json resolves them: exported fields (and the exported fields of
// embedded structs, flattened), named by the tag's name or the Go name,
// `json:"-"` skipped; a name at a shallower embedding depth wins, and of
// several at the same depth exactly one tagged one wins, else none.
func (w *keyWalker) structFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := w.fields[t]; ok {
		return f
	}
	type field struct {
		typ    reflect.Type
		depth  int
		tagged bool
		count  int // candidates at this depth (tagged ones if tagged)
	}
	best := map[string]*field{}
	level := []reflect.Type{t}
	visited := map[reflect.Type]bool{}
	for depth := 0; len(level) > 0; depth++ {
		var next []reflect.Type
		for _, st := range level {
			if visited[st] {
				continue
			}
			visited[st] = true
			for i := range st.NumField() {
				sf := st.Field(i)
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				if !validTagName(name) {
					name = ""
				}
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, ft)
					continue
				}
				if !sf.IsExported() {
					continue // an unexported embedded struct with a tag is not decoded
				}
				tagged := name != ""
				if !tagged {
					name = sf.Name
				}
				switch b := best[name]; {
				case b == nil:
					best[name] = &field{typ: sf.Type, depth: depth, tagged: tagged, count: 1}
				case b.depth < depth:
					// a shallower field hides this one
				case tagged && !b.tagged:
					*b = field{typ: sf.Type, depth: depth, tagged: true, count: 1}
				case tagged == b.tagged:
					b.count++
				}
			}
		}
		level = next
	}
	out := make(map[string]reflect.Type, len(best))
	for name, f := range best {
		if f.count == 1 {
			out[name] = f.typ
		}
	}
	w.fields[t] = out
	return out
}

// validTagName is encoding/json's isValidTag.
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !isLetterOrDigit(c):
			return false
		}
	}
	return true
}

func isLetterOrDigit(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }
