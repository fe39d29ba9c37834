package kernel

// FieldError is one invalid input field: the field's name as the client
// sent it, a stable code, and an optional detail for developers.
type FieldError struct {
	Field  string
	Code   string
	Detail string
}

// ValidationError lists every invalid field of one request.
type ValidationError struct{ Fields []FieldError }

func (e *ValidationError) Error() string { return "invalid input" }

// Add records one invalid field.
func (e *ValidationError) Add(field, code, detail string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Code: code, Detail: detail})
}

// Err returns e when it holds any field, and nil otherwise, so a
// validation can collect every problem and then return its result.
func (e *ValidationError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}
