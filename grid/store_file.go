package grid

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// JSONFileStore is the default [Store]: one JSON file, replaced atomically
// and durably on every save — written to a temporary file in the same
// directory, synced, renamed over the old one, and the directory synced —
// so a crash leaves the old state or the new one, never a torn file, and a
// save that returned is on disk. The file carries a SHA-256 checksum of the
// state: a file edited by hand, or damaged, is refused ([ErrCorruptState])
// rather than trusted. Temporary files a crash left behind are removed
// when the store is opened. The zero value is not usable: it has no path;
// use [NewJSONFileStore]. One writer per path.
type JSONFileStore struct {
	path string
}

var _ Store = (*JSONFileStore)(nil)

// storeFile is the file's envelope: the state and its checksum.
type storeFile struct {
	// Checksum is "sha256:" and the hex SHA-256 of State in compact JSON
	// (so the file's indentation does not matter, its content does).
	Checksum string          `json:"checksum"`
	State    json.RawMessage `json:"state"`
}

// NewJSONFileStore returns a store that keeps its state in the file at
// path, and removes the temporary files an earlier process's crash left
// beside it. The file's directory must exist.
func NewJSONFileStore(path string) (*JSONFileStore, error) {
	if path == "" {
		return nil, errors.New("grid: JSONFileStore path is empty")
	}
	s := &JSONFileStore{path: path}
	if err := s.removeTemps(); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the file the store writes.
func (s *JSONFileStore) Path() string { return s.path }

// tempPattern is the pattern of the store's temporary files.
func (s *JSONFileStore) tempPattern() (dir, pattern string) {
	dir, base := filepath.Split(s.path)
	if dir == "" {
		dir = "."
	}
	return dir, base + ".tmp-*"
}

// removeTemps deletes temporary files of this store left by a crash.
func (s *JSONFileStore) removeTemps() error {
	dir, pattern := s.tempPattern()
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return fmt.Errorf("grid: store %s: %w", s.path, err)
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("grid: store %s: removing a crash's temporary file: %w", s.path, err)
		}
	}
	return nil
}

// Save writes st durably: to a temporary file beside the store's file,
// synced, renamed over that file, and the directory synced.
func (s *JSONFileStore) Save(ctx context.Context, st StoredState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := encodeState(st)
	if err != nil {
		return fmt.Errorf("grid: store %s: encoding: %w", s.path, err)
	}
	dir, pattern := s.tempPattern()
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return fmt.Errorf("grid: store %s: %w", s.path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		_ = tmp.Close()
		_ = os.Remove(name)
		return fmt.Errorf("grid: store %s: %w", s.path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("grid: store %s: %w", s.path, err)
	}
	if err := os.Rename(name, s.path); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("grid: store %s: %w", s.path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("grid: store %s: syncing the directory: %w", s.path, err)
	}
	return nil
}

// syncDir makes a rename in dir durable. Windows cannot sync a directory
// (and its renames are durable once they return).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Load reads the stored state. A missing file gives an error matching
// [ErrNoState]; a file that is not a valid state, or whose checksum does
// not match, gives one matching [ErrCorruptState] that names the path and
// says how to start without it.
func (s *JSONFileStore) Load(ctx context.Context) (StoredState, error) {
	if err := ctx.Err(); err != nil {
		return StoredState{}, err
	}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return StoredState{}, fmt.Errorf("%w: %s does not exist", ErrNoState, s.path)
	}
	if err != nil {
		return StoredState{}, fmt.Errorf("grid: store %s: %w", s.path, err)
	}
	st, err := decodeStateFile(s.path, data)
	if err != nil {
		return StoredState{}, fmt.Errorf("%w (to start from the venue alone — open orders and position, with the books from zero — move %s away)", err, s.path)
	}
	return st, nil
}

// encodeState writes a state in its checksummed envelope.
func encodeState(st StoredState) ([]byte, error) {
	state, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(state)
	out, err := json.MarshalIndent(storeFile{Checksum: "sha256:" + hex.EncodeToString(sum[:]), State: state}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// decodeStateFile reads a store file: the checksummed envelope, or a bare
// version-1 state (written before checksums).
func decodeStateFile(path string, data []byte) (StoredState, error) {
	var env storeFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.Checksum == "" {
		// Not an envelope: a version-1 file is a bare state.
		st, err := decodeState(path, data)
		if err != nil {
			return StoredState{}, err
		}
		if st.Version != 1 {
			return StoredState{}, fmt.Errorf("%w: %s: version %d without a checksum", ErrCorruptState, path, st.Version)
		}
		return st, nil
	}
	if _, err := dec.Token(); err != io.EOF {
		return StoredState{}, fmt.Errorf("%w: %s: data after the state", ErrCorruptState, path)
	}
	want, ok := strings.CutPrefix(env.Checksum, "sha256:")
	var compact bytes.Buffer
	if err := json.Compact(&compact, env.State); err != nil {
		return StoredState{}, fmt.Errorf("%w: %s: %w", ErrCorruptState, path, err)
	}
	sum := sha256.Sum256(compact.Bytes())
	if !ok || want != hex.EncodeToString(sum[:]) {
		return StoredState{}, fmt.Errorf("%w: %s: checksum mismatch: the file was changed after it was written", ErrCorruptState, path)
	}
	return decodeState(path, env.State)
}

// decodeState parses a stored state read from path (named in errors).
func decodeState(path string, data []byte) (StoredState, error) {
	var st StoredState
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return StoredState{}, fmt.Errorf("%w: %s: %w", ErrCorruptState, path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return StoredState{}, fmt.Errorf("%w: %s: data after the state", ErrCorruptState, path)
	}
	if st.Version < oldestStoredStateVersion || st.Version > StoredStateVersion {
		return StoredState{}, fmt.Errorf("%w: %s: version %d, want %d to %d", ErrCorruptState, path, st.Version, oldestStoredStateVersion, StoredStateVersion)
	}
	return st, nil
}
