package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/tokenrefresh/refresh"
)

// FileStore is a refresh.Store that keeps the tokens of one grant in a JSON
// file that only its owner can read (mode 0600). Save replaces the file
// atomically: it writes a temporary file in the same directory, flushes it to
// disk, and renames it over the old one, so that a crash leaves either the old
// tokens or the new ones, never a torn file, and a rotated refresh token that
// Save reported as saved is on disk.
//
// The file holds live credentials: keep it out of backups and version control,
// as you would a private key. FileStore is safe for concurrent use within one
// process; processes that share the file see whole versions of it, but
// nothing stops two of them from refreshing at the same moment (see Store in
// package refresh).
//
// Load and Save honour their ctx: once it is done they return ctx.Err(),
// and a Save that gives up leaves the old file as it was.
type FileStore struct {
	Path string

	once sync.Once
	turn chan struct{} // holds a value while a Save runs: one at a time, so that the newest tokens win
}

// Load returns the tokens in the file, or nil, nil when there is no file yet.
// Its errors name the file but never show its content.
func (s *FileStore) Load(ctx context.Context) (*refresh.Tokens, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.Path)
	if ctxErr := ctx.Err(); ctxErr != nil { // done while reading: the caller has gone
		return nil, ctxErr
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err // an *fs.PathError: the path and the cause
	}
	var t refresh.Tokens
	if err := json.Unmarshal(b, &t); err != nil {
		// A json.SyntaxError quotes a character of the file; say only where.
		return nil, fmt.Errorf("token file %s: not a JSON token set (%d bytes)", s.Path, len(b))
	}
	return &t, nil
}

// Save writes t to the file atomically, with mode 0600. It waits for an
// earlier Save to finish, and checks ctx between its steps, up to the rename.
func (s *FileStore) Save(ctx context.Context, t *refresh.Tokens) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("token file %s: encoding: %w", s.Path, err)
	}
	s.once.Do(func() { s.turn = make(chan struct{}, 1) })
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-ctx.Done():
		return ctx.Err()
	}

	dir, base := filepath.Split(s.Path)
	if dir == "" {
		dir = "."
	}
	// CreateTemp makes the file with mode 0600, in the same directory (and so
	// the same file system) as the target, which os.Rename needs to be atomic.
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil { // whatever the umask or platform did
		return err
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil { // before the slow flush
		return err
	}
	if err := f.Sync(); err != nil { // the bytes are on disk before the rename
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil { // the last moment to give up: after the rename the tokens are saved
		return err
	}
	if err := os.Rename(tmp, s.Path); err != nil {
		return err
	}
	ok = true
	// Flush the directory entry too, so that the rename survives a crash.
	// Not every system can sync a directory; the file itself is safe by now.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
