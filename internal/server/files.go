package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/errs"
	"github.com/google/uuid"
)

// Files are handed out by dataset ID only, never by a path a client sends.
// An S3 datastore's files get presigned GET URLs; others are served by this
// server at repo/{label}/dataset/{id}/download?component=&exp=&sig=, where
// sig is an HMAC-SHA256 (the server's signing key) of the label, ID,
// component and expiry time: the URL alone is the permission, until exp.

// sign returns the signature of a download URL's parameters.
func (s *Server) sign(label string, id uuid.UUID, component string, exp int64) string {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\x00%s\x00%s\x00%d", label, id, component, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// baseURL is where clients reach this server.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return s.opts.PublicURL
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// fileURL returns the URL a client reads an artifact at.
func (s *Server) fileURL(ctx context.Context, c *call, a butler.Artifact) (string, error) {
	u, err := c.repo.b.PresignArtifact(ctx, a, s.opts.URLLifetime)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, errs.ErrUnsupported) {
		return "", err
	}
	exp := time.Now().Add(s.opts.URLLifetime).Unix()
	q := url.Values{}
	if a.Component != "" {
		q.Set("component", a.Component)
	}
	q.Set("exp", strconv.FormatInt(exp, 10))
	q.Set("sig", s.sign(c.repo.label, a.DatasetID, a.Component, exp))
	return fmt.Sprintf("%s/api/butler/repo/%s/dataset/%s/download?%s", s.baseURL(c.r), url.PathEscape(c.repo.label), a.DatasetID, q.Encode()), nil
}

// filePayload is get_file_info_payload: the artifact's files with their
// URLs and records (paths made relative), or nil when it has no files.
func (s *Server) filePayload(ctx context.Context, c *call, id dataset.ID) (*fileInfoPayload, error) {
	arts, err := c.repo.b.Artifacts(ctx, []dataset.ID{id})
	if err != nil {
		return nil, err
	}
	return s.payloadOf(ctx, c, id, arts[id])
}

// payloadOf is filePayload of the artifacts of dataset id. The artifacts are
// remembered for a moment for the download that usually follows.
func (s *Server) payloadOf(ctx context.Context, c *call, id dataset.ID, arts []butler.Artifact) (*fileInfoPayload, error) {
	if len(arts) == 0 {
		return nil, nil
	}
	c.repo.recent.put(id, arts)
	p := &fileInfoPayload{DatastoreType: "file", FileInfo: []fileInfoJSON{}}
	for _, a := range arts {
		u, err := s.fileURL(ctx, c, a)
		if err != nil {
			return nil, err
		}
		rec := storedFileJSON{Formatter: a.Formatter, Path: relativePath(a.Path), StorageClass: a.StorageClass, FileSize: a.FileSize}
		if a.Component != "" {
			rec.Component = &a.Component
		}
		if a.Checksum != "" {
			rec.Checksum = &a.Checksum
		}
		p.FileInfo = append(p.FileInfo, fileInfoJSON{URL: u, DatastoreRecords: rec, Auth: "none"})
	}
	return p, nil
}

// logFileAccess records who read which dataset (upstream's "file-access").
func (s *Server) logFileAccess(c *call, ref dataset.Ref, how string) {
	s.log.Info("file-access", "user", c.user, "repo", c.repo.label, "dataset", ref.ID.String(), "type", ref.Type.Name, "endpoint", how)
}

// getFile is GET v1/get_file/{id}.
func (s *Server) getFile(ctx context.Context, c *call) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	ref, arts, err := c.repo.b.DatasetArtifacts(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return &userError{typ: errDatasetNotFound, err: detailError(fmt.Sprintf("Dataset ID %s not found", id))}
	}
	if err != nil {
		return err
	}
	p, err := s.payloadOf(ctx, c, id, arts)
	if err != nil {
		return err
	}
	return s.writeFile(c, ref, p, "uuid")
}

func (s *Server) answerFile(ctx context.Context, c *call, ref dataset.Ref, how string) error {
	p, err := s.filePayload(ctx, c, ref.ID)
	if err != nil {
		return err
	}
	return s.writeFile(c, ref, p, how)
}

// writeFile writes get_file's answer.
func (s *Server) writeFile(c *call, ref dataset.Ref, p *fileInfoPayload, how string) error {
	s.logFileAccess(c, ref, how)
	writeJSON(c.w, http.StatusOK, getFileResponse{DatasetRef: refJSON(c.repo.b.Universe, ref, nil, nil), Artifact: p})
	return nil
}

// getFileByDataID is POST v1/get_file_by_data_id.
func (s *Server) getFileByDataID(ctx context.Context, c *call) error {
	var req getFileByDataIDRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	ref, err := s.find(ctx, c, req.DatasetType, req.DataID, req.DefaultDataID, req.Collections, req.Timespan, nil)
	if err != nil {
		return err
	}
	if ref == nil {
		return &userError{typ: errDatasetNotFound, err: detailError(fmt.Sprintf("Dataset %s with data ID %v not found in collections %v", req.DatasetType, req.DataID, req.Collections))}
	}
	return s.answerFile(ctx, c, *ref, "data-id")
}

// redirectDownload is GET v1/dataset/{id}/download[?component=]: a 307 to
// where the file can be read, with upstream's 404 and 422 answers.
func (s *Server) redirectDownload(ctx context.Context, c *call) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	label := c.repo.label
	ref, err := c.repo.b.Dataset(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return &httpError{status: http.StatusNotFound, detail: fmt.Sprintf("Dataset id '%s' not found in repository '%s'", id, label)}
	}
	if err != nil {
		return err
	}
	p, err := s.filePayload(ctx, c, id)
	if err != nil {
		return err
	}
	if p == nil || len(p.FileInfo) == 0 {
		return &httpError{status: http.StatusNotFound, detail: fmt.Sprintf("No files are available for dataset id '%s' in repository '%s'", id, label)}
	}
	q := c.r.URL.Query()
	component, hasComponent := q.Get("component"), q.Has("component")
	var found []*string
	for _, f := range p.FileInfo {
		if (f.DatastoreRecords.Component == nil && !hasComponent) || (f.DatastoreRecords.Component != nil && hasComponent && *f.DatastoreRecords.Component == component) {
			s.logFileAccess(c, ref, "uuid-redirect")
			http.Redirect(c.w, c.r, f.URL, http.StatusTemporaryRedirect)
			return nil
		}
		found = append(found, f.DatastoreRecords.Component)
	}
	names := "["
	for i, f := range found {
		if i > 0 {
			names += ", "
		}
		if f == nil {
			names += "None"
		} else {
			names += "'" + *f + "'"
		}
	}
	names += "]"
	if !hasComponent {
		return &httpError{status: errorStatus, detail: fmt.Sprintf("Dataset '%s' in repository '%s' consists of multiple files.  Specify the 'component' query parameter to select one of the following: %s", id, label, names)}
	}
	return &httpError{status: http.StatusNotFound, detail: fmt.Sprintf("Component '%s' for dataset '%s' in repository '%s' not found.  Available components: %s", component, id, label, names)}
}

// download serves a file this server signed a URL for, with HTTP ranges.
// A bad or expired signature gets 403 and no hint of whether the dataset
// exists.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	label := r.PathValue("label")
	q := r.URL.Query()
	id, errID := uuid.Parse(r.PathValue("id"))
	exp, errExp := strconv.ParseInt(q.Get("exp"), 10, 64)
	component := q.Get("component")
	got, errSig := hex.DecodeString(q.Get("sig"))
	want, _ := hex.DecodeString(s.sign(label, id, component, exp))
	rp, ok := s.repos[label]
	if errID != nil || errExp != nil || errSig != nil || !ok || !hmac.Equal(got, want) || time.Now().Unix() > exp {
		writeJSON(w, http.StatusForbidden, map[string]string{"detail": "This download URL is not valid or has expired"})
		return
	}
	ctx := r.Context()
	// The get_file that signed the URL has usually just read the records
	// (a client downloads right away); they are trusted for as long as the
	// repository's search cache trusts what it read, and only if the file
	// opens.
	var rc io.ReadCloser
	arts, ok := rp.recent.get(id)
	if ok {
		ok = false
		for _, a := range arts {
			if a.Component == component && a.FileSize >= 0 {
				if f, err := rp.b.OpenArtifact(ctx, a, 0); err == nil {
					rc, ok = f, true
				}
				break
			}
		}
	}
	if !ok {
		all, err := rp.b.Artifacts(ctx, []dataset.ID{id})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		arts = all[id]
	}
	for _, a := range arts {
		if a.Component != component {
			continue
		}
		size, err := rp.b.ArtifactSize(ctx, a)
		if err != nil {
			if rc != nil {
				rc.Close()
			}
			s.writeError(w, r, err)
			return
		}
		name := path.Base(relativePath(a.Path))
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		w.Header().Set("Cache-Control", "private, max-age=3600")
		rs := &artifactReader{ctx: ctx, b: rp.b, a: a, size: size, rc: rc}
		defer rs.Close()
		http.ServeContent(w, r, "", time.Time{}, rs)
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"detail": "The file of this download URL no longer exists"})
}

// artifactReader is an io.ReadSeeker over a stored file, opening it at the
// offset a seek left (a ranged read of the store) only when read. A seek
// does not close an open file: ServeContent seeks to the end and back to
// learn the size, and a file opened at 0 is then read as it is.
type artifactReader struct {
	ctx       context.Context
	b         *butler.Butler
	a         butler.Artifact
	size, off int64
	rc        io.ReadCloser
	rcOff     int64 // where rc reads next
}

func (r *artifactReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.rc != nil && r.rcOff != r.off {
		r.rc.Close()
		r.rc = nil
	}
	if r.rc == nil {
		rc, err := r.b.OpenArtifact(r.ctx, r.a, r.off)
		if err != nil {
			return 0, err
		}
		r.rc, r.rcOff = rc, r.off
	}
	if rest := r.size - r.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := r.rc.Read(p)
	r.off += int64(n)
	r.rcOff += int64(n)
	if err == io.EOF && r.off < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *artifactReader) Seek(offset int64, whence int) (int64, error) {
	var to int64
	switch whence {
	case io.SeekStart:
		to = offset
	case io.SeekCurrent:
		to = r.off + offset
	case io.SeekEnd:
		to = r.size + offset
	default:
		return 0, fmt.Errorf("seek: bad whence %d", whence)
	}
	if to < 0 {
		return 0, fmt.Errorf("seek: negative position %d", to)
	}
	r.off = to
	return to, nil
}

func (r *artifactReader) Close() error {
	if r.rc != nil {
		return r.rc.Close()
	}
	return nil
}

// getFileTransferRequest is GetFileTransferInfoRequestModel.
type getFileTransferRequest struct {
	DatasetIDs []uuid.UUID `json:"dataset_ids"`
}

// fileTransfer is POST v1/file_transfer: per dataset, its files' records and
// a lasting URL (the authenticated v1/dataset/{id}/download redirect, auth
// "gafaelfawr": send the same credentials), so that a long transfer
// outlives the one-hour signed URLs, as upstream answers in its
// rubin_science_platform mode.
func (s *Server) fileTransfer(ctx context.Context, c *call) error {
	var req getFileTransferRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	if len(req.DatasetIDs) > maxItemsPerRequest {
		return &httpError{status: errorStatus, detail: fmt.Sprintf("dataset_ids: at most %d items", maxItemsPerRequest)}
	}
	arts, err := c.repo.b.Artifacts(ctx, req.DatasetIDs)
	if err != nil {
		return err
	}
	files := object{}
	for _, id := range req.DatasetIDs {
		list, ok := arts[id]
		if !ok {
			continue
		}
		recs := []object{}
		for _, a := range list {
			u := fmt.Sprintf("%s/api/butler/repo/%s/v1/dataset/%s/download", s.baseURL(c.r), url.PathEscape(c.repo.label), id)
			if a.Component != "" {
				u += "?component=" + url.QueryEscape(a.Component)
			}
			rec := storedFileJSON{Formatter: a.Formatter, Path: relativePath(a.Path), StorageClass: a.StorageClass, FileSize: a.FileSize}
			if a.Component != "" {
				rec.Component = &a.Component
			}
			if a.Checksum != "" {
				rec.Checksum = &a.Checksum
			}
			recs = append(recs, object{{"url", u}, {"auth", "gafaelfawr"}, {"file_info", rec}})
		}
		files = append(files, member{id.String(), recs})
	}
	writeJSON(c.w, http.StatusOK, object{{"files", files}})
	return nil
}
