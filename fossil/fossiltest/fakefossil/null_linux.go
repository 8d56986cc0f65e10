package main

import (
	"os"
	"syscall"
)

// nullStdio replaces standard input and output with /dev/null, as
// fossil does at start.
func nullStdio() {
	for fd, mode := range []int{os.O_RDONLY, os.O_WRONLY} {
		n, err := syscall.Open("/dev/null", mode, 0)
		if err != nil {
			continue
		}
		syscall.Dup3(n, fd, 0)
		syscall.Close(n)
	}
}
