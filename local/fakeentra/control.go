package fakeentra

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// controlPrefix is where the fake answers its own control requests, for a
// fake running in another process (a benchmark's, say): no Graph or
// authority path starts with it.
const controlPrefix = "/_fakeentra/"

// serveControl answers GET and PUT graph-model (the GraphModel as JSON),
// GET graph-stats (GraphStats as JSON) and POST churn (a ChurnRequest:
// Churn on a tenant, answering the ChurnResult).
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request, rest string) {
	switch {
	case rest == "graph-model" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.GraphModel())
	case rest == "graph-model" && r.Method == http.MethodPut:
		var m GraphModel
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			http.Error(w, "bad graph model: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.SetGraphModel(m)
		writeJSON(w, http.StatusOK, m)
	case rest == "graph-stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.GraphStats())
	case rest == "churn" && r.Method == http.MethodPost:
		var c ChurnRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			http.Error(w, "bad churn request: "+err.Error(), http.StatusBadRequest)
			return
		}
		var res ChurnResult
		if err := s.Update(c.TenantID, func(t *Tenant) { res = Churn(t, c.Fraction, c.Seed) }); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, res)
	default:
		http.NotFound(w, r)
	}
}

// SetRemoteGraphModel sets the Graph model of the fake at baseURL (its
// URL()), which may run in another process; client must trust its CA.
func SetRemoteGraphModel(ctx context.Context, client *http.Client, baseURL string, m GraphModel) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return control(ctx, client, http.MethodPut, baseURL+controlPrefix+"graph-model", body, nil)
}

// RemoteGraphStats returns the GraphStats of the fake at baseURL.
func RemoteGraphStats(ctx context.Context, client *http.Client, baseURL string) (GraphStats, error) {
	var st GraphStats
	err := control(ctx, client, http.MethodGet, baseURL+controlPrefix+"graph-stats", nil, &st)
	return st, err
}

// ChurnRequest asks a fake in another process to Churn one of its tenants.
type ChurnRequest struct {
	TenantID string  `json:"tenantId"`
	Fraction float64 `json:"fraction"`
	Seed     uint64  `json:"seed"`
}

// RemoteChurn runs Churn on a tenant of the fake at baseURL.
func RemoteChurn(ctx context.Context, client *http.Client, baseURL string, c ChurnRequest) (ChurnResult, error) {
	body, err := json.Marshal(c)
	if err != nil {
		return ChurnResult{}, err
	}
	var res ChurnResult
	err = control(ctx, client, http.MethodPost, baseURL+controlPrefix+"churn", body, &res)
	return res, err
}

func control(ctx context.Context, client *http.Client, method, url string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fakeentra: %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("fakeentra: %s %s: HTTP %d: %s", method, url, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
