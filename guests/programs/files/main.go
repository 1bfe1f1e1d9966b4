// files: the file-system calls everyday Go programs make, in a temporary directory under
// os.TempDir() (TMPDIR, else /tmp: a preopen on wasip1): MkdirTemp, WriteFile/ReadFile, ReadDir,
// Stat, Rename, Remove, appends, seeks, truncation, symlinks, Chdir and relative paths, and the
// errors Go maps from WASI errnos. Everything it creates is removed at the end; if FILES_KEEP is
// set, one file of that name is left in os.TempDir() for the host to check. If FILES_CWD_MARKER
// is set, it first reads that file relative to its working directory (PWD on wasip1) and prints
// it with os.Getwd(). Otherwise the output names no path, so it is the same natively.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

func check(what string, err error) {
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", what, err)
		os.Exit(1)
	}
}

func main() {
	if marker := os.Getenv("FILES_CWD_MARKER"); marker != "" {
		data, err := os.ReadFile(marker)
		check("read the cwd marker", err)
		wd, err := os.Getwd()
		check("Getwd", err)
		fmt.Printf("cwd marker %q in %s\n", data, wd)
	}

	dir, err := os.MkdirTemp("", "files-*")
	check("MkdirTemp", err)
	fmt.Println("MkdirTemp: ok")

	a := filepath.Join(dir, "a.txt")
	check("WriteFile", os.WriteFile(a, []byte("hello, files\n"), 0o644))
	data, err := os.ReadFile(a)
	check("ReadFile", err)
	fmt.Printf("ReadFile: %q\n", data)

	f, err := os.OpenFile(a, os.O_APPEND|os.O_WRONLY, 0)
	check("OpenFile append", err)
	_, err = f.WriteString("appended\n")
	check("append", err)
	check("close", f.Close())
	st, err := os.Stat(a)
	check("Stat", err)
	fmt.Printf("Stat: size %d, dir %v, mode %v\n", st.Size(), st.IsDir(), st.Mode().IsRegular())

	f, err = os.OpenFile(a, os.O_RDWR, 0)
	check("OpenFile rdwr", err)
	_, err = f.Seek(7, io.SeekStart)
	check("Seek", err)
	buf := make([]byte, 5)
	_, err = io.ReadFull(f, buf)
	check("ReadFull", err)
	fmt.Printf("Seek+Read: %q\n", buf)
	check("Truncate", f.Truncate(5))
	check("close", f.Close())
	data, _ = os.ReadFile(a)
	fmt.Printf("after Truncate: %q\n", data)

	check("Mkdir", os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	for _, name := range []string{"sub/z.txt", "sub/m.txt", "b.txt"} {
		check("WriteFile "+name, os.WriteFile(filepath.Join(dir, name), []byte(name), 0o600))
	}
	check("Rename", os.Rename(filepath.Join(dir, "b.txt"), filepath.Join(dir, "sub", "b.txt")))
	entries, err := os.ReadDir(filepath.Join(dir, "sub"))
	check("ReadDir", err)
	var names []string
	for _, e := range entries {
		names = append(names, fmt.Sprintf("%s(dir=%v)", e.Name(), e.IsDir()))
	}
	sort.Strings(names)
	fmt.Println("ReadDir sub:", names)

	check("Symlink", os.Symlink("a.txt", filepath.Join(dir, "link")))
	target, err := os.Readlink(filepath.Join(dir, "link"))
	check("Readlink", err)
	data, err = os.ReadFile(filepath.Join(dir, "link"))
	check("ReadFile link", err)
	fmt.Printf("Symlink: -> %s, reads %q\n", target, data)

	check("Chdir", os.Chdir(dir))
	data, err = os.ReadFile("sub/m.txt")
	check("ReadFile relative", err)
	fmt.Printf("relative after Chdir: %q\n", data)
	check("WriteFile relative", os.WriteFile("rel.txt", []byte("rel"), 0o644))
	_, err = os.Stat(filepath.Join(dir, "rel.txt"))
	check("Stat rel.txt", err)
	fmt.Println("relative write: ok")

	_, err = os.ReadFile(filepath.Join(dir, "missing"))
	fmt.Println("ReadFile missing: ErrNotExist =", errors.Is(err, fs.ErrNotExist))
	err = os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	fmt.Println("Mkdir existing: ErrExist =", errors.Is(err, fs.ErrExist))
	err = os.Remove(filepath.Join(dir, "sub"))
	fmt.Println("Remove non-empty dir: ENOTEMPTY =", errors.Is(err, syscall.ENOTEMPTY))
	_, err = os.ReadDir(a)
	fmt.Println("ReadDir on a file: ENOTDIR =", errors.Is(err, syscall.ENOTDIR))
	_, err = os.OpenFile(a, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	fmt.Println("O_EXCL on existing: ErrExist =", errors.Is(err, fs.ErrExist))

	check("Remove", os.Remove(a))
	_, err = os.Stat(a)
	fmt.Println("Stat after Remove: ErrNotExist =", errors.Is(err, fs.ErrNotExist))
	check("Chdir back", os.Chdir(os.TempDir()))
	check("RemoveAll", os.RemoveAll(dir))
	_, err = os.Stat(dir)
	fmt.Println("RemoveAll: ErrNotExist =", errors.Is(err, fs.ErrNotExist))

	if keep := os.Getenv("FILES_KEEP"); keep != "" {
		check("keep", os.WriteFile(filepath.Join(os.TempDir(), keep), []byte("kept by files\n"), 0o644))
	}
	fmt.Println("files: done")
}
