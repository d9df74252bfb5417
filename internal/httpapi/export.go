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
	// MaxExportBytes bounds one part of the CSV. API Gateway's Lambda
	// integration buffers the response, and Lambda returns at most 6 MB:
	// the whole JSON document, headers included. lambdahttp passes a body
	// as text or in base64, whichever is shorter, so 4 MiB of CSV is at
	// most 5.6 MB there whatever its characters.
	MaxExportBytes = 4 << 20
	// ExportTimeout bounds reading one part: the preview function times
	// out after 20 s (template.yaml), and the part must be written before.
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

// exportChanges answers the changes of a sync matching f as CSV, read page
// by page from cursor on: as many whole pages as fit in maxBytes and are
// read within the timeout. When more remain, a Link header (rel="next")
// names the request for the next part, which carries no header row, so
// the parts concatenated are the whole export. A part is never cut inside
// a change, and an export of any size arrives in parts a Lambda response
// can hold.
func (h *Handler) exportChanges(w http.ResponseWriter, r *http.Request, c auth.Claims, id string, f domain.ChangeFilter, cursor string) error {
	ctx, cancel := context.WithTimeout(r.Context(), h.exportTimeout)
	defer cancel()
	var part, pageCSV bytes.Buffer
	if cursor == "" {
		if err := newChangeWriter(&part).header(); err != nil {
			return err
		}
	}
	pageWriter := newChangeWriter(&pageCSV)
	rows := 0
	page := domain.Page{Limit: h.exportPageSize, Cursor: cursor}
	for {
		changes, next, err := h.deps.Syncs.ListChanges(ctx, c.TenantID, id, f, page)
		switch {
		case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Context().Err() == nil:
			if rows > 0 {
				return writeExportPart(w, r, id, part.Bytes(), page.Cursor)
			}
			return domain.Errorf(domain.EUnprocessable,
				"no change of the export was read within %s; try again, or narrow it with filters (objectType, kind, outcome, q, excluded)", h.exportTimeout)
		case err != nil:
			return fmt.Errorf("export changes of sync %s: %w", id, err)
		}
		pageCSV.Reset()
		for i := range changes {
			if err := pageWriter.change(&changes[i]); err != nil {
				return err
			}
		}
		if part.Len()+pageCSV.Len() > h.exportMaxBytes {
			switch {
			case rows > 0: // this page begins the next part
				return writeExportPart(w, r, id, part.Bytes(), page.Cursor)
			case page.Limit > 1: // a page too large alone: read fewer changes at once
				page.Limit = max(1, page.Limit/2)
				continue
			default: // one change's row cannot be this large (an item is at most 400 KB)
				return fmt.Errorf("export changes of sync %s: change %d alone is %d bytes of CSV", id, changes[0].Seq, pageCSV.Len())
			}
		}
		part.Write(pageCSV.Bytes())
		rows += len(changes)
		if next == "" || ctx.Err() != nil {
			return writeExportPart(w, r, id, part.Bytes(), next)
		}
		page.Cursor = next
	}
}

// writeExportPart answers one part of an export; next is the cursor of
// the part after it ("" for the last).
func writeExportPart(w http.ResponseWriter, r *http.Request, id string, body []byte, next string) error {
	hd := w.Header()
	hd.Set("Content-Type", "text/csv; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="sync-`+id+`-changes.csv"`) // ids are [A-Za-z0-9_-]
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	if next != "" {
		q := r.URL.Query()
		q.Set("cursor", next)
		hd.Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a failed write means the client left
	return nil
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
