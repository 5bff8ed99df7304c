// Package envdpb holds the message types and Connect service stubs of E2B's
// envd (process.Process, filesystem.Filesystem), generated from the .proto
// files beside this file, which Hutch wrote from the public definitions.
//
// Regenerate with `go generate ./internal/compat/e2b/envdpb` after
// installing protoc (Debian: protobuf-compiler and libprotobuf-dev, for
// google/protobuf/timestamp.proto) and the two plugins:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
package envdpb

//go:generate protoc -I . --go_out=. --go_opt=paths=source_relative --connect-go_out=. --connect-go_opt=paths=source_relative process/process.proto filesystem/filesystem.proto
