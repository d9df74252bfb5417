package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"dirsync/internal/auth"
	"dirsync/internal/domain"
)

// The CSV export of GET /v1/syncs/{id}/changes (Accept: text/csv).
const (
	// MaxExportBytes bounds the CSV. API Gateway's Lambda integration
	// buffers the response, and Lambda returns at most 6 MB: the whole JSON
	// document, headers included. lambdahttp passes a body as text or in
	// base64, whichever is shorter, so 4 MiB of CSV is at most 5.6 MB there
	// whatever its characters.
	MaxExportBytes = 4 << 20
	// ExportTimeout bounds reading the changes: the preview function times
	// out after 20 s (template.yaml), and the answer, even a refusal, must
	// be written before.
	ExportTimeout = 12 * time.Second
	// exportPageSize is how many changes one store read returns.
	exportPageSize = 1000
	// emptyValue shows an empty before or after in the fields cell.
	emptyValue = "(empty)"
)

// ExportColumns is the CSV's header row.
var ExportColumns = []string{
	"seq", "objectType", "kind", "email", "displayName", "externalId", "targetId",
	"fields", "reason", "excluded", "outcome", "outcomeReason",
}

// representation is what a response of the changes listing is.
type representation int

const (
	asJSON representation = iota
	asCSV
)

// negotiate picks the changes listing's representation from the Accept
// header: JSON when it is absent, CSV when text/csv is preferred (q-values
// and wildcards as RFC 9110 says, JSON winning a tie), not_acceptable when
// it allows neither.
func negotiate(accept []string) (representation, error) {
	header := strings.TrimSpace(strings.Join(accept, ","))
	if header == "" {
		return asJSON, nil
	}
	// The quality of each representation: the q of the most specific range
	// matching it (-1: no range does).
	qJSON, qCSV := -1.0, -1.0
	specJSON, specCSV := -1, -1
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue // a malformed range matches nothing
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		if s := specificity(mt, "application/json"); s > specJSON {
			specJSON, qJSON = s, q
		}
		if s := specificity(mt, "text/csv"); s > specCSV {
			specCSV, qCSV = s, q
		}
	}
	switch {
	case qCSV > 0 && qCSV > qJSON:
		return asCSV, nil
	case qJSON > 0:
		return asJSON, nil
	case qCSV > 0:
		return asCSV, nil
	}
	return asJSON, domain.Errorf(CodeNotAcceptable,
		"Accept %q: this route answers application/json or text/csv", truncate(header, maxNameInMessage))
}

// specificity says how specifically media range mt matches type t: 2 exact,
// 1 type/*, 0 */*, -1 not at all.
func specificity(mt, t string) int {
	switch {
	case mt == t:
		return 2
	case strings.HasSuffix(mt, "/*") && strings.HasPrefix(t, strings.TrimSuffix(mt, "*")):
		return 1
	case mt == "*/*":
		return 0
	}
	return -1
}

// exportChanges answers every change of a sync matching f as CSV, read
// page by page. It never answers part of them: an export over maxBytes, or
// one not read within the timeout, is refused with a message saying how
// to narrow it.
func (h *Handler) exportChanges(w http.ResponseWriter, r *http.Request, c auth.Claims, id string, f domain.ChangeFilter) error {
	ctx, cancel := context.WithTimeout(r.Context(), h.exportTimeout)
	defer cancel()
	var buf bytes.Buffer
	cw := newChangeWriter(&buf)
	if err := cw.header(); err != nil {
		return err
	}
	matched, tooLarge := 0, false
	page := domain.Page{Limit: h.exportPageSize}
	for {
		changes, next, err := h.deps.Syncs.ListChanges(ctx, c.TenantID, id, f, page)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Context().Err() == nil {
				return h.exportTimedOut(matched, tooLarge)
			}
			return fmt.Errorf("export changes of sync %s: %w", id, err)
		}
		matched += len(changes)
		// Past the limit the export is refused; reading on only counts the
		// matches, so the message can say how many there are.
		for i := 0; i < len(changes) && !tooLarge; i++ {
			if err := cw.change(&changes[i]); err != nil {
				return err
			}
			tooLarge = buf.Len() > h.exportMaxBytes
		}
		if next == "" {
			break
		}
		if ctx.Err() != nil {
			return h.exportTimedOut(matched, tooLarge)
		}
		page.Cursor = next
	}
	if tooLarge {
		return domain.Errorf(domain.EUnprocessable,
			"the export of %s is over the %s a CSV export may hold; narrow it with filters (objectType, kind, outcome, q, excluded)",
			matchingChanges(matched), byteSize(h.exportMaxBytes))
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/csv; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="sync-`+id+`-changes.csv"`) // ids are [A-Za-z0-9_-]
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes()) // a failed write means the client left
	return nil
}

func (h *Handler) exportTimedOut(matched int, tooLarge bool) error {
	if tooLarge {
		return domain.Errorf(domain.EUnprocessable,
			"more than %d changes match, over the %s a CSV export may hold; narrow it with filters (objectType, kind, outcome, q, excluded)",
			matched, byteSize(h.exportMaxBytes))
	}
	return domain.Errorf(domain.EUnprocessable,
		"the export was not read within %s (%s read so far); narrow it with filters (objectType, kind, outcome, q, excluded)",
		h.exportTimeout, matchingChanges(matched))
}

func matchingChanges(n int) string {
	if n == 1 {
		return "1 matching change"
	}
	return fmt.Sprintf("%d matching changes", n)
}

// byteSize shows a limit in MiB, or in bytes when smaller (tests).
func byteSize(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// changeWriter writes changes as CSV rows (RFC 4180: CRLF line ends, a
// quoted cell's line breaks as CRLF too).
type changeWriter struct {
	bw  *bufio.Writer
	csv *csv.Writer
	row []string
}

func newChangeWriter(buf *bytes.Buffer) *changeWriter {
	bw := bufio.NewWriter(buf)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	return &changeWriter{bw: bw, csv: cw, row: make([]string, len(ExportColumns))}
}

func (w *changeWriter) header() error { return w.write(ExportColumns) }

func (w *changeWriter) change(c *domain.Change) error {
	row := w.row
	row[0] = strconv.Itoa(c.Seq)
	row[1] = string(c.ObjectType)
	row[2] = string(c.Kind)
	row[3] = c.Subject.Email
	row[4] = c.Subject.DisplayName
	row[5] = c.Subject.ExternalID
	row[6] = c.TargetID
	row[7] = FieldsCell(c.Fields)
	row[8] = c.Reason
	row[9] = strconv.FormatBool(c.Excluded)
	row[10] = c.Outcome
	row[11] = c.OutcomeReason
	for i := range row {
		row[i] = SafeCell(row[i])
	}
	return w.write(row)
}

// write writes one row through to the buffer, so its length is the CSV's.
func (w *changeWriter) write(row []string) error {
	if err := w.csv.Write(row); err != nil {
		return fmt.Errorf("export: write CSV row: %w", err)
	}
	w.csv.Flush()
	if err := w.csv.Error(); err != nil {
		return fmt.Errorf("export: write CSV row: %w", err)
	}
	return nil
}

// FieldsCell lists changed fields as "name: before → after", joined with
// "; "; an empty value shows as (empty).
func FieldsCell(fields []domain.FieldChange) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Name)
		b.WriteString(": ")
		b.WriteString(orEmpty(f.Before))
		b.WriteString(" → ")
		b.WriteString(orEmpty(f.After))
	}
	return b.String()
}

func orEmpty(v string) string {
	if v == "" {
		return emptyValue
	}
	return v
}

// SafeCell defuses CSV (formula) injection: names and emails come from the
// directory, and a spreadsheet runs a cell starting with =, +, -, @, tab or
// CR as a formula. Such a cell gets a leading apostrophe, which shows the
// text as it is.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
