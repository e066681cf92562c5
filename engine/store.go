package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// EngineRecord is what the bridge keeps of a detached engine, so that a restarted bridge
// finds it again: where it listens and its secret, which Spark application and cluster
// driver it is, and which routing key it serves.
type EngineRecord struct {
	ID       string     `json:"id"`
	Key      string     `json:"key"`
	User     string     `json:"user,omitempty"`
	Level    ShareLevel `json:"share_level"`
	Addr     string     `json:"addr"`
	Token    string     `json:"token"`
	AppID    string     `json:"app_id,omitempty"`
	DriverID string     `json:"driver_id,omitempty"`
	// PID and ProcStart name a client-mode engine's process on the bridge's host (its pid
	// and start time, which together survive pid reuse); 0 for a cluster-mode driver.
	PID         int           `json:"pid,omitempty"`
	ProcStart   uint64        `json:"proc_start,omitempty"`
	Master      string        `json:"master"`
	SparkHome   string        `json:"spark_home"`
	Started     time.Time     `json:"started"`
	IdleTimeout time.Duration `json:"idle_timeout"`
}

// EngineStore keeps the records of detached engines. FileStore keeps them in a file under
// the bridge's data directory; a store shared by several bridges (etcd) can stand in.
type EngineStore interface {
	Put(EngineRecord) error
	Delete(id string) error
	List() ([]EngineRecord, error)
}

// FileStore is an EngineStore in one JSON file, mode 0600 (it holds engine secrets), replaced
// atomically on every change.
type FileStore struct {
	path string
	// mu serialises changes to the file.
	mu sync.Mutex
}

var _ EngineStore = (*FileStore)(nil)

// NewFileStore returns the store in the file at path.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

func (s *FileStore) read() (map[string]EngineRecord, error) {
	recs := map[string]EngineRecord{}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return recs, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("engine store %s: %w", s.path, err)
	}
	return recs, nil
}

func (s *FileStore) write(recs map[string]EngineRecord) error {
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".engines-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// Put adds or replaces a record.
func (s *FileStore) Put(r EngineRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.read()
	if err != nil {
		return err
	}
	recs[r.ID] = r
	return s.write(recs)
}

// Delete removes a record; a missing one is not an error.
func (s *FileStore) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.read()
	if err != nil {
		return err
	}
	if _, ok := recs[id]; !ok {
		return nil
	}
	delete(recs, id)
	return s.write(recs)
}

// List returns every record, oldest first.
func (s *FileStore) List() ([]EngineRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.read()
	if err != nil {
		return nil, err
	}
	out := make([]EngineRecord, 0, len(recs))
	for _, r := range recs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}
