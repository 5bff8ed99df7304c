package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/hutchdev/hutch/internal/archive"
	"github.com/hutchdev/hutch/internal/errdefs"
	"github.com/hutchdev/hutch/internal/runtime"
)

// WithArchive gives the service an archive store; without one, archive is
// refused as not implemented whatever the runtime can do.
func WithArchive(st archive.Store) Option { return func(s *Service) { s.archives = st } }

// EventArchive is the event type of archive and restore progress.
const EventArchive = "archive"

// archiveSuffix ends every archive's key: the sandbox's id, then this.
const archiveSuffix = ".tar.zst"

func archiveKey(id string) string { return id + archiveSuffix }

// ArchiveOf is the sandbox whose archive is stored under key, false for a
// key that is none of a sandbox's archives.
func ArchiveOf(key string) (id string, ok bool) { return strings.CutSuffix(key, archiveSuffix) }

// archiver returns the runtime's archive side, or an error saying there is
// none.
func (s *Service) archiver() (runtime.Archiver, error) {
	ar, ok := runtime.AsArchiver(s.rt)
	if !ok || s.archives == nil {
		return nil, fmt.Errorf("runtime %s cannot archive sandboxes: %w", s.rt.Name(), errdefs.ErrNotImplemented)
	}
	return ar, nil
}

// archiveMemory refuses what the transition table allows only for a
// sandbox whose memory is on disk: archive of a paused sandbox (its
// memory image goes into the archive with its files; memory held in RAM
// cannot), and resume of an archived one (an archive of a stopped
// sandbox holds no processes to resume).
func archiveMemory(sb *Sandbox, a Action) error {
	onDisk := sb.Pause != nil && sb.Pause.Memory == MemoryOnDisk
	switch {
	case a == ActionArchive && sb.State == StatePaused && !onDisk:
		return &TransitionError{Action: a, From: sb.State}
	case a == ActionResume && sb.State == StateArchived && !onDisk:
		return &TransitionError{Action: a, From: sb.State,
			Why: "it was archived stopped, without processes to resume; start it"}
	}
	return nil
}

// explainRefusal says why a paused sandbox cannot be archived: only a
// memory image on disk goes into an archive, so the refusal names the
// choices.
func explainRefusal(sb *Sandbox, err error) error {
	var te *TransitionError
	if !errors.As(err, &te) || te.Action != ActionArchive || sb.State != StatePaused {
		return err
	}
	te.Why = "an archive keeps a paused sandbox's memory only once it is on disk; pause it with its memory released " +
		"(pause {\"memory\": \"release\"}), stop it first (its memory is discarded), or resume it"
	return te
}

// pack is the runtime half of archive: the writable layer (and the memory
// image of a sandbox paused on disk, which the runtime's stream carries)
// goes to the archive store as a zstd-compressed tar, then the working
// copy goes. The working copy is removed only once the archive is whole in
// the store.
func (s *Service) pack(ctx context.Context, sb *Sandbox, cause string) error {
	ar, err := s.archiver()
	if err != nil {
		return err
	}
	start := time.Now()
	pr, pw := io.Pipe()
	go func() {
		zw, err := zstd.NewWriter(pw, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err == nil {
			err = ar.Export(ctx, sb.ID, zw)
			if cerr := zw.Close(); err == nil {
				err = cerr
			}
		}
		pw.CloseWithError(err)
	}()
	n, err := s.archives.Put(ctx, archiveKey(sb.ID), pr)
	pr.CloseWithError(errors.New("archive store stopped reading"))
	if err != nil {
		return fmt.Errorf("pack %s: %w", sb.ID, err)
	}
	s.progress(ctx, sb, cause, fmt.Sprintf("packed the filesystem into the archive store (%d bytes compressed, %s)",
		n, time.Since(start).Round(time.Millisecond)))
	if err := ar.Discard(ctx, sb.ID); err != nil {
		return fmt.Errorf("remove the working copy of %s: %w", sb.ID, err)
	}
	return nil
}

// restore brings an archived sandbox's files (and memory image) back
// before it starts or resumes. It
// looks in the archive store rather than at the state, so that a start
// retried from error after a failed restore restores again. The archive
// is dropped once the files are back.
func (s *Service) restore(ctx context.Context, sb *Sandbox, cause string) error {
	if s.archives == nil {
		return nil
	}
	rc, size, err := s.archives.Get(ctx, archiveKey(sb.ID))
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open archive of %s: %w", sb.ID, err)
	}
	defer rc.Close()
	ar, err := s.archiver()
	if err != nil {
		return err
	}
	start := time.Now()
	s.progress(ctx, sb, cause, fmt.Sprintf("restoring the filesystem from the archive store (%d bytes compressed)", size))
	zr, err := zstd.NewReader(rc)
	if err != nil {
		return fmt.Errorf("restore %s: %w", sb.ID, err)
	}
	defer zr.Close()
	if err := ar.Import(ctx, sb.ID, zr); err != nil {
		return fmt.Errorf("restore %s: %w", sb.ID, err)
	}
	// The reader goes before the archive does: the PostgreSQL store reads
	// through a connection of a bounded pool, which the Delete needs too
	// when every other one is held by a restore.
	rc.Close()
	s.progress(ctx, sb, cause, fmt.Sprintf("restored the filesystem (%s)", time.Since(start).Round(time.Millisecond)))
	return s.dropArchive(ctx, sb.ID)
}

// dropArchive removes a sandbox's archive, if any.
func (s *Service) dropArchive(ctx context.Context, id string) error {
	if s.archives == nil {
		return nil
	}
	return s.archives.Delete(ctx, archiveKey(id))
}

// progress records a step of long work in the event log; it is best
// effort, as the transition's own events are what count.
func (s *Service) progress(ctx context.Context, sb *Sandbox, cause, msg string) {
	if cause == "" {
		cause = CauseUser
	}
	ev := Event{SandboxID: sb.ID, Type: EventArchive, Cause: cause, Message: msg, Time: s.now().UTC()}
	if err := s.store.AppendEvent(ctx, ev); err != nil {
		s.log.Warn("record progress", "sandbox", sb.ID, "err", err)
	}
}
