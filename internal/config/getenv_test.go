package config

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyTheMainsReadTheEnvironment keeps the rule of this package: the
// mains call Load once and pass values down, so no other product package
// calls os.Getenv, os.LookupEnv or os.Environ. Test helpers (internal/test*)
// and the benchmark and fault-suite drivers are exempt.
func TestOnlyTheMainsReadTheEnvironment(t *testing.T) {
	root := filepath.Join("..", "..")
	exempt := []string{"bench", "chaos", "internal/testenv", "internal/testtemporal", "internal/testcheck", "scripts"}
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			for _, e := range exempt {
				if rel == e || strings.HasPrefix(rel, e+"/") {
					return filepath.SkipDir
				}
			}
			if strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" || rel == filepath.Join("internal", "config", "config.go") {
			return nil
		}
		checked++
		src, _ := parser.ParseFile(fset, path, nil, parser.ParseComments)
		for _, imp := range src.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p != "os" {
				continue
			}
			text := readSource(t, path)
			for _, call := range []string{"os.Getenv(", "os.LookupEnv(", "os.Environ("} {
				if strings.Contains(text, call) {
					t.Errorf("%s calls %s: read the variable in internal/config and pass the value down", rel, strings.TrimSuffix(call, "("))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d product files; is the walk rooted at the repository?", checked)
	}
}

func readSource(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
