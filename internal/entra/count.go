package entra

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	abs "github.com/microsoft/kiota-abstractions-go"
)

// eventualConsistency is the header Graph needs for $count on directory
// objects, an "advanced query": without it Graph answers 400
// Request_BadRequest "$count is not currently supported.".
func eventualConsistency() *abs.RequestHeaders {
	h := abs.NewRequestHeaders()
	h.Add("ConsistencyLevel", "eventual")
	return h
}

// count asks Graph how many objects a collection holds, with a $count
// request built by request (a msgraph-sdk-go Count() request builder),
// sent with the same retries and error classification as a page.
func (r *Reader) count(ctx context.Context, what, permission string, request func(context.Context) (*abs.RequestInformation, error)) (int, error) {
	trace := &requestTrace{}
	traced := withTrace(ctx, trace)
	info, err := request(traced)
	if err != nil {
		return 0, fmt.Errorf("entra: count %s: %w", what, err)
	}
	body, err := r.getBody(traced, info)
	if err != nil {
		return 0, fmt.Errorf("entra: count %s: %w", what, classify(ctx, err, trace, permission))
	}
	if len(body) == 0 {
		return 0, fmt.Errorf("entra: count %s: %w", what, malformed("Graph answered the count with no body (HTTP %d)", trace.status))
	}
	n, err := parseCount(body)
	if err != nil {
		return 0, fmt.Errorf("entra: count %s: %w", what, err)
	}
	return n, nil
}

// utf8BOM may open a text/plain answer; OData leaves it to the service.
var utf8BOM = []byte("\xef\xbb\xbf")

// parseCount reads a $count answer: a non-negative decimal integer.
func parseCount(body []byte) (int, error) {
	text := bytes.TrimSpace(bytes.TrimPrefix(body, utf8BOM))
	n, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil || n < 0 || len(text) == 0 || text[0] == '+' {
		return 0, malformed("Graph answered a count that is not a non-negative integer: %q", excerpt(body))
	}
	return int(n), nil
}

// countTolerance is how many objects a collection read in full may lack
// against Graph's $count and still count as complete. $count comes from
// Graph's eventually consistent index of directory objects (hence
// ConsistencyLevel: eventual), which trails the directory by the objects
// created or deleted in the last seconds to minutes while the listing does
// not; the absolute 5 absorbs that churn in a small tenant, the 0.5 % the
// proportionally larger churn of a large one. A lost page (999 objects) is
// still caught in any collection below about 200,000 objects; beyond, the
// deactivation and removal thresholds remain the backstop.
func countTolerance(counted int) int {
	return max(5, counted/200)
}

// checkComplete fails the read of what when it got fewer objects than
// Graph counts, beyond countTolerance. More than the count is fine: objects
// created during the read that the count had not seen yet.
func checkComplete(what string, read, counted int) error {
	tolerance := countTolerance(counted)
	if counted-read <= tolerance {
		return nil
	}
	return &readError{Kind: ErrSourceIncomplete, Message: fmt.Sprintf(
		"entra: read %s of the %s %s Graph counts: %s are missing, more than the %s its eventually consistent count can explain, so the read is incomplete",
		formatCount(read), formatCount(counted), what, formatCount(counted-read), formatCount(tolerance))}
}

// formatCount writes n with thousands separators: 1,000,000.
func formatCount(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	if neg {
		b = append(b, '-')
	}
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return string(b)
}
