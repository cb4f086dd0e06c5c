//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"archive/tar"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/containers/podman/v5/pkg/util"
	"github.com/containers/storage/pkg/fileutils"

	"github.com/skerry-dev/skerry/runtime"
)

// Build implements runtime.Images with podman's build call: the context directory goes to the
// server as a gzipped tar, without what its .containerignore (or .dockerignore, or
// <Containerfile>.containerignore ...) excludes, as podman-remote sends it.
func (r *Runtime) Build(ctx context.Context, opts runtime.BuildOptions) error {
	file := filepath.ToSlash(filepath.Clean(cmp.Or(opts.Containerfile, "Containerfile")))
	if err := r.build(ctx, opts.ContextDir, file, opts.Tag); err != nil {
		return fmt.Errorf("podman: build %s: %w", opts.Tag, mapErr(err, runtime.ErrNotFound))
	}
	return nil
}

// build sends the build request the bindings' images.Build sends for a Containerfile inside
// the context directory and default options, and reads the answer's stream to its end.
func (r *Runtime) build(ctx context.Context, contextDir, file, tag string) error {
	if dir, err := filepath.EvalSymlinks(contextDir); err == nil {
		contextDir = dir
	}
	dockerfiles, _ := json.Marshal([]string{file})
	query := url.Values{
		"t": {tag}, "dockerfile": {string(dockerfiles)},
		"networkmode": {"0"}, "outputformat": {""}, "rm": {"0"}, "omithistory": {"0"}, "isolation": {"0"},
		"retry": {"0"}, "retry-delay": {"0s"}, "pullpolicy": {"missing"},
	}
	if tag != "" {
		query.Set("output", tag) // as the bindings send it
	}
	excludes, _, err := util.ParseDockerignore([]string{file}, contextDir)
	if err != nil {
		return err
	}
	// What podman-remote never leaves out of the context.
	excludes = append(excludes, "!Dockerfile", "!Containerfile", "!.dockerignore", "!.containerignore",
		"!"+file, "!"+file+".dockerignore", "!"+file+".containerignore")
	pm, err := fileutils.NewPatternMatcher(excludes)
	if err != nil {
		return fmt.Errorf("processing excludes list %v: %w", excludes, err)
	}
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() { pw.CloseWithError(writeContext(pw, contextDir, pm)) }()
	resp, err := r.do(ctx, http.MethodPost, "/build", query, nil, pr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !resp.IsSuccess() {
		return resp.Process(nil)
	}
	return readBuildStream(resp.Body)
}

// buildMessage is one entry of podman's build stream.
type buildMessage struct {
	Stream string `json:"stream,omitempty"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"errorDetail,omitempty"`
}

// readBuildStream reads the build's output to its end: an error entry is the build's error,
// and a stream that ends before an image ID was printed is an error too.
func readBuildStream(body io.Reader) error {
	dec := json.NewDecoder(body)
	id := ""
	for {
		var m buildMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("server probably quit: %w", err)
			}
			if errors.Is(err, io.EOF) && id != "" {
				return nil
			}
			return fmt.Errorf("decoding stream: %w", err)
		}
		switch {
		case m.Stream != "":
			if isImageID(m.Stream) {
				id = strings.TrimSuffix(m.Stream, "\n")
			}
		case m.Error != nil:
			return errors.New(m.Error.Message)
		default:
			return errors.New("failed to parse build results stream, unexpected input")
		}
	}
}

// isImageID reports whether a line of the build's output starts with an image ID's 12 first
// hex digits, as the last line of a successful build does.
func isImageID(line string) bool {
	if len(line) < 12 {
		return false
	}
	for _, c := range line[:12] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// writeContext writes dir as a gzipped tar to w: regular files, directories and symbolic links
// (not their targets), owned by root, without what pm excludes (every path is visited: an
// exception may re-include a file of an excluded directory), hard links as links.
func writeContext(w io.Writer, dir string, pm *fileutils.PatternMatcher) error {
	gw := gzip.NewWriter(w)
	tw := tar.NewWriter(gw)
	type devIno struct{ dev, ino uint64 }
	seen := map[devIno]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		name := filepath.ToSlash(strings.TrimPrefix(path, dir+string(filepath.Separator)))
		if excluded, err := pm.Matches(name); err != nil || excluded { //nolint:staticcheck // podman-remote's matcher
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if d.Type()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		} else if !d.Type().IsRegular() && !d.IsDir() {
			return nil // no devices, sockets, pipes
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name, hdr.Uid, hdr.Gid = name, 0, 0
		if !d.Type().IsRegular() {
			return tw.WriteHeader(hdr)
		}
		st, _ := info.Sys().(*syscall.Stat_t)
		var key devIno
		if st != nil && st.Nlink > 1 {
			key = devIno{uint64(st.Dev), uint64(st.Ino)} //nolint:unconvert // not uint64 on every OS
			if orig, ok := seen[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, orig, 0
				return tw.WriteHeader(hdr)
			}
			seen[key] = name
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	return errors.Join(err, tw.Close(), gw.Close())
}
