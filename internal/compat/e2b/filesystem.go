package e2b

import (
	"context"
	"errors"
	"io/fs"
	"strconv"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hutchdev/hutch/api"
	"github.com/hutchdev/hutch/client"
	"github.com/hutchdev/hutch/internal/compat"
	pb "github.com/hutchdev/hutch/internal/compat/e2b/envdpb/filesystem"
	"github.com/hutchdev/hutch/internal/compat/e2b/envdpb/filesystem/filesystemconnect"
)

var _ filesystemconnect.FilesystemHandler = (*filesystemService)(nil)

// filesystemService is envd's filesystem.Filesystem over Hutch's agent.
// Watching a directory is not served: the agent has no file events, and
// an answer that never reports a change would be a fake success.
type filesystemService struct {
	f *face
}

// entryOf is an agent's file description as envd's EntryInfo. The agent
// reports no owner or group; they are left empty. A symlink is reported
// as one (envd reports its target's type).
func entryOf(fi *api.FileInfo) *pb.EntryInfo {
	e := &pb.EntryInfo{Name: fi.Name, Path: fi.Path, Size: fi.Size, ModifiedTime: timestamppb.New(fi.ModifiedAt)}
	perm, _ := strconv.ParseUint(fi.Mode, 8, 32)
	mode := fs.FileMode(perm) & fs.ModePerm
	switch fi.Type {
	case "file":
		e.Type = pb.FileType_FILE_TYPE_FILE
	case "dir":
		e.Type = pb.FileType_FILE_TYPE_DIRECTORY
		mode |= fs.ModeDir
	case "symlink":
		e.Type = pb.FileType_FILE_TYPE_SYMLINK
		mode |= fs.ModeSymlink
		target := fi.LinkTarget
		e.SymlinkTarget = &target
	}
	e.Mode = uint32(mode.Perm()) // as envd: the permission bits; permissions has the type too
	e.Permissions = mode.String()
	return e
}

// do runs fn with the agent of the request's sandbox open.
func (s *filesystemService) do(ctx context.Context, req connect.AnyRequest, fn func(context.Context, *compat.AgentCall) error) error {
	call, err := s.f.open(ctx, req.Header())
	if err != nil {
		return s.f.rpcError(ctx, err)
	}
	defer call.Close()
	return s.f.rpcError(call.Context(), fn(call.Context(), call))
}

func (s *filesystemService) Stat(ctx context.Context, req *connect.Request[pb.StatRequest]) (*connect.Response[pb.StatResponse], error) {
	out := &pb.StatResponse{}
	err := s.do(ctx, req, func(ctx context.Context, call *compat.AgentCall) error {
		fi, err := call.Client.StatFile(ctx, call.Sandbox.ID, req.Msg.GetPath())
		if err == nil {
			out.Entry = entryOf(fi)
		}
		return err
	})
	return connect.NewResponse(out), err
}

// MakeDir makes a directory and its parents; one that exists already is
// envd's already_exists (the SDK's false).
func (s *filesystemService) MakeDir(ctx context.Context, req *connect.Request[pb.MakeDirRequest]) (*connect.Response[pb.MakeDirResponse], error) {
	out := &pb.MakeDirResponse{}
	err := s.do(ctx, req, func(ctx context.Context, call *compat.AgentCall) error {
		if _, err := call.Client.StatFile(ctx, call.Sandbox.ID, req.Msg.GetPath()); err == nil {
			return connect.NewError(connect.CodeAlreadyExists, errors.New(req.Msg.GetPath()+" already exists"))
		} else if !client.IsFileNotFound(err) {
			return err
		}
		fi, err := call.Client.Mkdir(ctx, call.Sandbox.ID, req.Msg.GetPath(), "")
		if err == nil {
			out.Entry = entryOf(fi)
		}
		return err
	})
	return connect.NewResponse(out), err
}

// Move renames a file or directory, replacing what is at the destination
// (as a rename does in envd).
func (s *filesystemService) Move(ctx context.Context, req *connect.Request[pb.MoveRequest]) (*connect.Response[pb.MoveResponse], error) {
	out := &pb.MoveResponse{}
	err := s.do(ctx, req, func(ctx context.Context, call *compat.AgentCall) error {
		fi, err := call.Client.Move(ctx, call.Sandbox.ID, req.Msg.GetSource(), req.Msg.GetDestination(), true)
		if err == nil {
			out.Entry = entryOf(fi)
		}
		return err
	})
	return connect.NewResponse(out), err
}

// ListDir lists a directory depth levels down (at least one).
func (s *filesystemService) ListDir(ctx context.Context, req *connect.Request[pb.ListDirRequest]) (*connect.Response[pb.ListDirResponse], error) {
	out := &pb.ListDirResponse{Entries: []*pb.EntryInfo{}}
	err := s.do(ctx, req, func(ctx context.Context, call *compat.AgentCall) error {
		depth := int(req.Msg.GetDepth())
		if depth < 1 {
			depth = 1
		}
		list, err := call.Client.ListFiles(ctx, call.Sandbox.ID, req.Msg.GetPath(), depth)
		if err != nil {
			return err
		}
		for i := range list.Items {
			out.Entries = append(out.Entries, entryOf(&list.Items[i]))
		}
		return nil
	})
	return connect.NewResponse(out), err
}

// Remove deletes a file, or a directory with everything in it.
func (s *filesystemService) Remove(ctx context.Context, req *connect.Request[pb.RemoveRequest]) (*connect.Response[pb.RemoveResponse], error) {
	err := s.do(ctx, req, func(ctx context.Context, call *compat.AgentCall) error {
		return call.Client.RemoveFile(ctx, call.Sandbox.ID, req.Msg.GetPath(), true)
	})
	return connect.NewResponse(&pb.RemoveResponse{}), err
}

// errNoWatch answers the watch calls: Hutch's agent reports no file
// events yet.
var errNoWatch = connect.NewError(connect.CodeUnimplemented, errors.New("watching directories is not supported by this server yet"))

func (s *filesystemService) WatchDir(context.Context, *connect.Request[pb.WatchDirRequest], *connect.ServerStream[pb.WatchDirResponse]) error {
	return errNoWatch
}

func (s *filesystemService) CreateWatcher(context.Context, *connect.Request[pb.CreateWatcherRequest]) (*connect.Response[pb.CreateWatcherResponse], error) {
	return nil, errNoWatch
}

func (s *filesystemService) GetWatcherEvents(context.Context, *connect.Request[pb.GetWatcherEventsRequest]) (*connect.Response[pb.GetWatcherEventsResponse], error) {
	return nil, errNoWatch
}

func (s *filesystemService) RemoveWatcher(context.Context, *connect.Request[pb.RemoveWatcherRequest]) (*connect.Response[pb.RemoveWatcherResponse], error) {
	return nil, errNoWatch
}
