package caddymodule

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/enumgate/enumgate/challenge"
	"go.uber.org/zap"
)

func init() { caddy.RegisterModule(FileUsers{}) }

// FileUsers is a user directory read from a JSON file
// (`enumgate.users.file`) that the operator owns: read at provision time
// (and again at every reload), never written. See challenge.FileDirectory
// for the format.
type FileUsers struct {
	// Path is the JSON file's path. Required.
	Path string `json:"path,omitempty"`

	dir *challenge.FileDirectory
}

// CaddyModule returns the Caddy module information.
func (FileUsers) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "enumgate.users.file",
		New: func() caddy.Module { return new(FileUsers) },
	}
}

// Provision reads and validates the file.
func (f *FileUsers) Provision(ctx caddy.Context) error {
	if f.Path == "" {
		return fmt.Errorf("enumgate users file: path is required")
	}
	dir, err := challenge.LoadFile(caddy.NewReplacer().ReplaceKnown(f.Path, ""))
	if err != nil {
		return fmt.Errorf("enumgate: %w", err)
	}
	f.dir = dir
	ctx.Logger().Info("loaded users", zap.String("path", f.Path), zap.Int("users", dir.Len()))
	return nil
}

// Directory implements DirectoryModule.
func (f *FileUsers) Directory() challenge.Directory { return f.dir }

// UnmarshalCaddyfile sets up the directory from Caddyfile tokens. Syntax:
//
//	users file <path>
func (f *FileUsers) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // module name
	if !d.NextArg() {
		return d.ArgErr()
	}
	f.Path = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("users file takes no block")
	}
	return nil
}

// Interface guards.
var (
	_ StoreModule           = (*MemoryStore)(nil)
	_ caddy.Provisioner     = (*MemoryStore)(nil)
	_ caddy.CleanerUpper    = (*MemoryStore)(nil)
	_ caddyfile.Unmarshaler = (*MemoryStore)(nil)
	_ DirectoryModule       = (*FileUsers)(nil)
	_ caddy.Provisioner     = (*FileUsers)(nil)
	_ caddyfile.Unmarshaler = (*FileUsers)(nil)
)
