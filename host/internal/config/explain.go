package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Decoding errors in the project's words: which key, what was wrong, what
// is allowed there, rather than the decoder's "” has invalid keys: foo".
var (
	invalidKeys  = regexp.MustCompile(`^'([^']*)' has invalid keys: (.+)$`)
	cannotParse  = regexp.MustCompile(`^'([^']*)' cannot parse value as '([^']+)'`)
	badDuration  = regexp.MustCompile(`^'([^']*)' time: `)
	expectedType = regexp.MustCompile(`^'([^']*)' expected (?:type '([^']+)'|a map or struct), got (?:unconvertible type )?'?"?([^'",]+)`)
)

var typeWords = map[string]string{"int": "a whole number", "int64": "a whole number", "float64": "a number", "bool": "true or false",
	"string": "text", "time.Duration": "a duration such as 5s or 10m", "[]string": "a list"}

// explain turns the decoder's error into one line per problem.
func explain(err error) error {
	var lines []string
	for _, raw := range decodeErrors(err) {
		lines = append(lines, explainOne(raw))
	}
	if len(lines) == 0 {
		return fmt.Errorf("config: %w", err)
	}
	slices.Sort(lines)
	return errors.New("config: " + strings.Join(lines, "; "))
}

func decodeErrors(err error) []string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "* "))
		if line == "" || strings.HasPrefix(line, "decoding failed") || strings.HasSuffix(line, "error(s) decoding:") {
			continue
		}
		out = append(out, line)
	}
	return out
}

func explainOne(line string) string {
	if m := invalidKeys.FindStringSubmatch(line); m != nil {
		if m[1] == reflect.TypeFor[Config]().String() {
			m[1] = "" // the decoder names the top level by its Go type
		}
		where := "at the top level"
		if m[1] != "" {
			where = "in " + m[1]
		}
		keys := strings.Split(m[2], ", ")
		msg := fmt.Sprintf("unknown key %s %s", quoteAll(keys), where)
		if known := knownKeys(m[1]); len(known) > 0 {
			msg += " (known there: " + strings.Join(known, ", ") + ")"
		}
		return msg
	}
	if m := cannotParse.FindStringSubmatch(line); m != nil {
		return fmt.Sprintf("%s must be %s", m[1], word(m[2]))
	}
	if m := badDuration.FindStringSubmatch(line); m != nil {
		return m[1] + " must be " + typeWords["time.Duration"]
	}
	if m := expectedType.FindStringSubmatch(line); m != nil {
		if m[2] == "" {
			return fmt.Sprintf("%s is a section (keys under it), not a single value", m[1])
		}
		return fmt.Sprintf("%s must be %s, not %s", m[1], word(m[2]), m[3])
	}
	return line
}

func word(t string) string {
	if w, ok := typeWords[t]; ok {
		return w
	}
	return "a " + t
}

func quoteAll(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

// knownKeys lists the keys a section of Config takes (path "serve.batching";
// "" is the top level); nil for free-form maps.
func knownKeys(path string) []string {
	t := reflect.TypeFor[Config]()
	for _, part := range pathPart.FindAllString(path, -1) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if strings.HasPrefix(part, "[") { // a map key (a plugin's name) or a list index
			if t.Kind() != reflect.Map && t.Kind() != reflect.Slice {
				return nil
			}
			t = t.Elem()
			continue
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByTag(t, part)
		if !ok {
			return nil
		}
		t = f.Type
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		if tag := strings.Split(t.Field(i).Tag.Get("koanf"), ",")[0]; tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	slices.Sort(out)
	return out
}

var pathPart = regexp.MustCompile(`[^.\[\]]+|\[[^\]]*\]`)

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if strings.Split(t.Field(i).Tag.Get("koanf"), ",")[0] == tag {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}
